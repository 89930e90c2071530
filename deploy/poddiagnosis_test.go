// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package deploy_test

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/xconfmap"
	"sigs.k8s.io/yaml"

	"github.com/otelcol-sre/otelcol-sre/internal/poddiagnosis/diagnosis"
	"github.com/otelcol-sre/otelcol-sre/internal/poddiagnosis/podcache"
	"github.com/otelcol-sre/otelcol-sre/processor/k8spoddiagnosticsprocessor"
	"github.com/otelcol-sre/otelcol-sre/receiver/k8spoddiagnosticsreceiver"
)

// section returns cfg[keys[0]][keys[1]]... as a map (nil when absent).
func section(cfg map[string]any, keys ...string) map[string]any {
	for _, k := range keys {
		cfg, _ = cfg[k].(map[string]any)
	}
	return cfg
}

// No shipped config puts the diagnosis on metrics: a label that changes with the pod's state would cut
// every series of the pod. The diagnosis is the receiver's k8s.pod.diagnosis series.
func TestDeployConfigsPutNoDiagnosisOnMetrics(t *testing.T) {
	files, err := filepath.Glob("configs/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	processors := 0
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		for id, p := range section(readConfig(t, filepath.Base(f)), "processors") {
			if typ, _, _ := strings.Cut(id, "/"); typ != "k8spoddiagnostics" {
				continue
			}
			processors++
			if m, _ := p.(map[string]any); section(m, "attributes")["metrics"] != nil {
				t.Errorf("%s: processors.%s.attributes.metrics is set; leave it out (default: none) and read k8s_pod_diagnosis", f, id)
			}
		}
	}
	if processors < 2 {
		t.Fatalf("found %d k8spoddiagnostics processors in deploy/configs, want the agent's and the gateway's", processors)
	}
}

// CloudWatch gets the stuck-pod count from k8s.pod.diagnosis: the gateway routes that metric to awsemf, and
// exactly one metric declaration selects it, with dimensions the receiver emits and none of a pod's
// identity or message (one custom metric per value combination).
func TestCloudWatchStuckPodsDeclaration(t *testing.T) {
	b, err := os.ReadFile("../receiver/k8spoddiagnosticsreceiver/metadata.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var md struct {
		ResourceAttributes map[string]any `json:"resource_attributes"`
	}
	if err := yaml.Unmarshal(b, &md); err != nil {
		t.Fatal(err)
	}
	// k8s.cluster.name comes from resource_detection (OTEL_RESOURCE_ATTRIBUTES).
	allowed := map[string]bool{"k8s.cluster.name": true, diagnosis.PointStatus: true, diagnosis.PointStuck: true,
		diagnosis.PointReason: true, diagnosis.PointContainer: true}
	for a := range md.ResourceAttributes {
		allowed[a] = true
	}
	for _, never := range []string{"k8s.pod.uid", "k8s.pod.name", diagnosis.PointMessage} {
		allowed[never] = false
	}

	decls, _ := section(readConfig(t, "cloudwatch.yaml"), "exporters", "awsemf")["metric_declarations"].([]any)
	var found []map[string]any
	for _, d := range decls {
		decl, _ := d.(map[string]any)
		selectors, _ := decl["metric_name_selectors"].([]any)
		if slices.ContainsFunc(selectors, func(s any) bool { return regexp.MustCompile(s.(string)).MatchString(diagnosis.MetricDiagnosis) }) {
			found = append(found, decl)
		}
	}
	if len(found) != 1 {
		t.Fatalf("cloudwatch.yaml: %d metric declarations select %s, want 1", len(found), diagnosis.MetricDiagnosis)
	}
	sets, _ := found[0]["dimensions"].([]any)
	for _, set := range sets {
		for _, dim := range set.([]any) {
			if !allowed[dim.(string)] {
				t.Errorf("cloudwatch.yaml: %s dimension %q is not a low-cardinality attribute of the receiver's series", diagnosis.MetricDiagnosis, dim)
			}
		}
	}
	matchers, _ := found[0]["label_matchers"].([]any)
	stuckOnly := false
	for _, m := range matchers {
		lm, _ := m.(map[string]any)
		names, _ := lm["label_names"].([]any)
		stuckOnly = stuckOnly || slices.Equal(names, []any{diagnosis.PointStuck}) && lm["regex"] == "^true$"
	}
	if !stuckOnly {
		t.Errorf("cloudwatch.yaml: the %s declaration must keep only stuck pods (label_matchers %s = ^true$), got %v", diagnosis.MetricDiagnosis, diagnosis.PointStuck, matchers)
	}

	// gateway-slo.yaml copies to the CloudWatch pipeline only what IsMatch(name, ...) selects.
	table, _ := section(readConfig(t, "gateway-slo.yaml"), "connectors", "routing/cloudwatch")["table"].([]any)
	isMatch := regexp.MustCompile(`IsMatch\(name, "(.*)"\)`)
	routed := false
	for _, r := range table {
		cond, _ := r.(map[string]any)["condition"].(string)
		if m := isMatch.FindStringSubmatch(cond); m != nil {
			re := regexp.MustCompile(strings.ReplaceAll(m[1], `\\`, `\`))
			routed = routed || re.MatchString(diagnosis.MetricDiagnosis)
		}
	}
	if !routed {
		t.Errorf("gateway-slo.yaml: routing/cloudwatch does not send %s to awsemf", diagnosis.MetricDiagnosis)
	}
}

// In every collector the manifests run, the pod-diagnosis components (the processor, the receiver and its
// other instances) share one pod cache — equal cache settings, so one watch of pods and one of events per
// collector (what test/e2e TestK8sPodDiagnosisOneSetOfWatches measures) — with one exception: agent-direct
// with incidents.yaml adds a cluster-wide receiver (pods: all, behind the leader elector) to agents whose
// other components cache their node's pods only, so each such agent holds two caches, one of every pod in
// the cluster.
func TestPodDiagnosisComponentsShareOneCachePerCollector(t *testing.T) {
	factories := map[string]component.Factory{
		"receivers":  k8spoddiagnosticsreceiver.NewFactory(),
		"processors": k8spoddiagnosticsprocessor.NewFactory(),
	}
	checked := 0
	for _, set := range configSets(t) {
		var caches []podcache.ComponentConfig
		var users [][]string
		for _, file := range set {
			cfg := readConfigWithPlaceholders(t, filepath.Join("configs", file))
			for kind, f := range factories {
				for id, v := range section(cfg, kind) {
					if typ, _, _ := strings.Cut(id, "/"); typ != "k8spoddiagnostics" {
						continue
					}
					def := f.CreateDefaultConfig()
					m, _ := v.(map[string]any)
					if err := confmap.NewFromStringMap(m).Unmarshal(def); err != nil {
						t.Fatalf("%s %s.%s: %v", file, kind, id, err)
					}
					if err := xconfmap.Validate(def); err != nil {
						t.Errorf("%s %s.%s: %v", file, kind, id, err)
					}
					cc := reflect.ValueOf(def).Elem().FieldByName("ComponentConfig").Interface().(podcache.ComponentConfig)
					// Only the component that waits is concerned by the wait-for-sync options.
					cc.WaitForSync, cc.WaitForSyncTimeout = false, 0
					checked++
					i := slices.IndexFunc(caches, func(c podcache.ComponentConfig) bool { return reflect.DeepEqual(c, cc) })
					if i < 0 {
						caches, users = append(caches, cc), append(users, nil)
						i = len(caches) - 1
					}
					users[i] = append(users[i], file+" "+kind+"."+id)
				}
			}
		}
		want := 1
		if slices.Contains(set, "agent-direct.yaml") && slices.Contains(set, "incidents.yaml") {
			want = 2
		}
		if len(caches) > want {
			t.Errorf("collector %v: %d pod caches (each a watch of pods and one of events), want %d; components by cache: %v",
				set, len(caches), want, users)
		}
	}
	if checked < 4 {
		t.Fatalf("checked %d pod-diagnosis components in the collectors' config sets, want the agent's and the gateway's receivers and processors", checked)
	}
}
