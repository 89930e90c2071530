// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package deploy_test

import (
	"os"
	"slices"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"
	"sigs.k8s.io/yaml"

	"github.com/otelcol-sre/otelcol-sre/deploy/dashboards"
	"github.com/otelcol-sre/otelcol-sre/internal/poddiagnosis/diagnosis"
	"github.com/otelcol-sre/otelcol-sre/processor/sloprocessor"
	"github.com/otelcol-sre/otelcol-sre/processor/sloprocessor/slorules"
)

var promql = parser.NewParser(parser.Options{})

func dashboardQueries(t *testing.T) []dashboards.Query {
	t.Helper()
	files, err := dashboards.Files()
	if want := []string{"cluster-health.json", "lambda.json", "network-allowances.json", "slo.json", "stuck-pods.json"}; err != nil || !slices.Equal(files, want) {
		t.Fatalf("want the dashboards %v, got %v (%v)", want, files, err)
	}
	qs, err := dashboards.Queries()
	if err != nil {
		t.Fatal(err)
	}
	return qs
}

func TestDashboardQueriesParse(t *testing.T) {
	for _, q := range dashboardQueries(t) {
		if _, err := promql.ParseExpr(q.Expr); err != nil {
			t.Errorf("%s %q: %v\n%s", q.Dashboard, q.Panel, err, q.Expr)
		}
	}
}

// Every metric and label the rules and dashboards use is one the components emit: the contract names
// the components export (docs/DESIGN.md) as remote write spells them (deploy/configs/amp.yaml: '.' -> '_',
// no suffixes, resource attributes as labels), and the ethtool receiver's metadata.yaml.
func TestRulesAndDashboardsUseContractNames(t *testing.T) {
	metrics := map[string]bool{}
	for _, m := range []string{diagnosis.MetricDiagnosis, diagnosis.MetricDiagnosisDuration, sloprocessor.MetricSLI, sloprocessor.MetricBurnRate, sloprocessor.MetricObjective,
		sloprocessor.MetricBudgetRemaining, sloprocessor.MetricEvents, sloprocessor.MetricCoverage, sloprocessor.MetricAlertState} {
		metrics[underscore.Replace(m)] = true
	}
	// The rule-computed SLO series (deploy/rules/slo-events.yaml), by the generator's exported names.
	for _, m := range []string{slorules.RecordEventsBad, slorules.RecordEventsTotal, slorules.RecordSLI,
		slorules.RecordBurnRate, slorules.RecordBudgetRemaining} {
		metrics[m] = true
	}
	labels := map[string]bool{
		"cluster":       true, // external label of prometheus_remote_write/amp
		"k8s_node_name": true, "k8s_namespace_name": true, "k8s_pod_name": true, "k8s_pod_uid": true,
	}
	// The k8spoddiagnostics receiver's data point attributes (its resource attributes are the pod's identity
	// above); the processor's k8s.pod.diagnosis.* resource attributes are not on metrics in deploy/.
	for _, l := range []string{diagnosis.PointStatus, diagnosis.PointStuck, diagnosis.PointReason,
		diagnosis.PointContainer, diagnosis.PointMessage,
		sloprocessor.AttrName, sloprocessor.AttrService, sloprocessor.AttrWindow, sloprocessor.AttrSeverity, sloprocessor.AttrOutcome} {
		labels[underscore.Replace(l)] = true
	}
	ethtoolMetadata(t, metrics, labels)
	clusterHealthNames(t, metrics, labels)
	yaceNames(t, metrics, labels)
	recordedNames(t, metrics)

	check := func(where, expr string) {
		e, err := promql.ParseExpr(expr)
		if err != nil {
			t.Errorf("%s: %v", where, err)
			return
		}
		parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
			switch v := n.(type) {
			case *parser.VectorSelector:
				if !metrics[v.Name] {
					t.Errorf("%s: metric %s is not emitted by any component (contract names: docs/DESIGN.md, ethtool metadata.yaml)", where, v.Name)
				}
				for _, m := range v.LabelMatchers {
					if m.Name != "__name__" && !labels[m.Name] {
						t.Errorf("%s: label %s of %s is not a contract attribute", where, m.Name, v.Name)
					}
				}
			case *parser.AggregateExpr:
				for _, l := range v.Grouping {
					if !labels[l] {
						t.Errorf("%s: grouping label %s is not a contract attribute", where, l)
					}
				}
			}
			return nil
		})
	}
	for name, rf := range ruleFiles(t) {
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				check(name+" "+r.Alert, r.Expr)
			}
		}
	}
	for _, q := range dashboardQueries(t) {
		check(q.Dashboard+" "+q.Panel, q.Expr)
	}
}

// ethtoolMetadata adds the ethtool receiver's metric and attribute names, as remote write spells them.
func ethtoolMetadata(t *testing.T, metrics, labels map[string]bool) {
	t.Helper()
	b, err := os.ReadFile("../receiver/ethtoolreceiver/metadata.yaml")
	if err != nil {
		t.Fatalf("the ethtool receiver's metadata.yaml names its metrics: %v", err)
	}
	var md struct {
		Attributes map[string]struct {
			NameOverride string `json:"name_override"`
		} `json:"attributes"`
		Metrics map[string]any `json:"metrics"`
	}
	if err := yaml.Unmarshal(b, &md); err != nil {
		t.Fatal(err)
	}
	for name := range md.Metrics {
		metrics[underscore.Replace(name)] = true
	}
	for name, a := range md.Attributes {
		labels[underscore.Replace(cmpOr(a.NameOverride, name))] = true
	}
	for _, want := range []string{"ethtool_ena_pps_allowance_exceeded", "node_net_ethtool"} {
		if !metrics[want] {
			t.Errorf("ethtool metadata.yaml has no %s (have %v)", want, slices.Sorted(func(yield func(string) bool) {
				for k := range metrics {
					if !yield(k) {
						return
					}
				}
			}))
		}
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
