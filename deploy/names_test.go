// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package deploy_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unicode"

	"sigs.k8s.io/yaml"

	"github.com/otelcol-sre/otelcol-sre/internal/testenv"
)

// The names the cluster-health rules and dashboard use, taken from where they are defined rather than
// written down again: the metadata.yaml of the contrib receivers and collector helpers at the versions
// the distribution builds (module cache), the gateway config's node_conditions_to_report, and the
// collectors' own Prometheus endpoint naming.

// moduleDir is the module cache directory of a module the distribution builds with.
func moduleDir(t *testing.T, module string) string {
	t.Helper()
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", module)
	cmd.Dir = filepath.Join("..", "distribution")
	out, err := cmd.Output()
	dir := strings.TrimSpace(string(out))
	if err != nil || dir == "" {
		testenv.Unavailable(t, "%s is not in the module cache (%v): `make build` (or `cd distribution && go mod download`) fetches it", module, err)
	}
	return dir
}

type componentMetadata struct {
	ResourceAttributes map[string]any `json:"resource_attributes"`
	Metrics            map[string]any `json:"metrics"`
	Telemetry          struct {
		Metrics map[string]any `json:"metrics"`
	} `json:"telemetry"`
}

func readMetadata(t *testing.T, module string) componentMetadata {
	t.Helper()
	return decodeMetadata(t, filepath.Join(moduleDir(t, module), "metadata.yaml"))
}

func decodeMetadata(t *testing.T, path string) componentMetadata {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var md componentMetadata
	if err := yaml.Unmarshal(b, &md); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return md
}

const (
	k8sClusterReceiver   = "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/k8sclusterreceiver"
	kubeletStatsReceiver = "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/kubeletstatsreceiver"
	exporterHelper       = "go.opentelemetry.io/collector/exporter/exporterhelper"
	receiverHelper       = "go.opentelemetry.io/collector/receiver/receiverhelper"
)

var underscore = strings.NewReplacer(".", "_")

// clusterHealthNames adds what k8s_cluster, kubelet_stats and the collectors' own telemetry emit, as
// they reach AMP: remote write keeps names ('.' -> '_', no suffix) and turns resource attributes into
// labels, for the collectors' own telemetry too (scraped from :8888 by prometheus/self).
func clusterHealthNames(t *testing.T, metrics, labels map[string]bool) {
	t.Helper()
	for _, module := range []string{k8sClusterReceiver, kubeletStatsReceiver} {
		md := readMetadata(t, module)
		for name := range md.Metrics {
			metrics[underscore.Replace(name)] = true
		}
		for name := range md.ResourceAttributes {
			labels[underscore.Replace(name)] = true
		}
	}
	// k8s_cluster names one metric per reported node condition (not in its metadata.yaml).
	for _, c := range nodeConditionsToReport(t) {
		metrics["k8s_node_condition_"+snakeCase(c)] = true
	}
	// Counters arrive without a _total suffix (the collector's :8888 endpoint, scraped by prometheus/self
	// and remote-written with amp.yaml's naming; test/e2e TestClusterHealthSeriesInPrometheus measures it).
	for _, module := range []string{exporterHelper, receiverHelper} {
		for name := range readMetadata(t, module).Telemetry.Metrics {
			metrics["otelcol_"+name] = true
		}
	}
	// Our own components' self-telemetry (e.g. agent_remote_write's samples_failed), from their metadata.yaml.
	own, err := filepath.Glob(filepath.Join("..", "*", "*", "metadata.yaml"))
	if err != nil || len(own) == 0 {
		t.Fatalf("no metadata.yaml of our components (%v)", err)
	}
	for _, path := range own {
		for name := range decodeMetadata(t, path).Telemetry.Metrics {
			metrics["otelcol_"+name] = true
		}
	}
	// The helpers' metric attributes, and what the prometheus/self scrape adds (deploy/configs).
	for _, l := range []string{"exporter", "data_type", "receiver", "transport", "job", "instance"} {
		labels[l] = true
	}
}

// nodeConditionsToReport is k8s_cluster's node_conditions_to_report in the gateway config.
func nodeConditionsToReport(t *testing.T) []string {
	t.Helper()
	receivers, _ := readConfig(t, "gateway-slo.yaml")["receivers"].(map[string]any)
	k8sCluster, _ := receivers["k8s_cluster"].(map[string]any)
	var out []string
	list, _ := k8sCluster["node_conditions_to_report"].([]any)
	for _, c := range list {
		out = append(out, c.(string))
	}
	if len(out) == 0 {
		t.Fatal("gateway-slo.yaml: k8s_cluster reports no node conditions")
	}
	return out
}

// snakeCase spells a condition type as k8s_cluster names its metric: MemoryPressure -> memory_pressure,
// PIDPressure -> pid_pressure (an upper-case run ends before the upper-case letter that starts a word).
func snakeCase(s string) string {
	r := []rune(s)
	var b strings.Builder
	for i, c := range r {
		if i > 0 && unicode.IsUpper(c) && (unicode.IsLower(r[i-1]) || (i+1 < len(r) && unicode.IsLower(r[i+1]))) {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToLower(c))
	}
	return b.String()
}

func TestSnakeCase(t *testing.T) {
	for in, want := range map[string]string{
		"Ready": "ready", "MemoryPressure": "memory_pressure", "DiskPressure": "disk_pressure",
		"PIDPressure": "pid_pressure", "NetworkUnavailable": "network_unavailable",
	} {
		if got := snakeCase(in); got != want {
			t.Errorf("snakeCase(%s) = %s, want %s", in, got, want)
		}
	}
}

// recordedNames adds the series the rule files record: rules and dashboards may use them.
func recordedNames(t *testing.T, metrics map[string]bool) {
	t.Helper()
	for _, rf := range ruleFiles(t) {
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				if r.Record != "" {
					metrics[r.Record] = true
				}
			}
		}
	}
}
