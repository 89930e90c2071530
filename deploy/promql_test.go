package deploy_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"
	"sigs.k8s.io/yaml"
)

var promql = parser.NewParser(parser.Options{})

// grafanaVars replaces Grafana's variables with values that keep the query's PromQL shape:
// intervals become durations, template variables a plain label value.
var grafanaVars = strings.NewReplacer(
	"$__rate_interval", "5m", "$__interval", "1m", "$__range", "6h",
	"${window}", "1h", "$window", "1h",
)
var templateVar = regexp.MustCompile(`\$\{?[a-z_]+\}?`)

func substituteGrafana(expr string) string {
	return templateVar.ReplaceAllString(grafanaVars.Replace(expr), "x")
}

type dashboardQuery struct{ dashboard, panel, expr string }

// dashboardQueries returns every panel target's PromQL (rows' nested panels included) and every
// templating variable's label_values() selector, as PromQL.
func dashboardQueries(t *testing.T) []dashboardQuery {
	t.Helper()
	files, err := filepath.Glob("dashboards/*.json")
	if err != nil || len(files) != 3 {
		t.Fatalf("want the network allowances, SLO and stuck pods dashboards, got %v (%v)", files, err)
	}
	type panel struct {
		Title      string `json:"title"`
		Type       string `json:"type"`
		Datasource *struct {
			UID string `json:"uid"`
		} `json:"datasource"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
		Panels []json.RawMessage `json:"panels"`
	}
	var out []dashboardQuery
	var walk func(file string, raw json.RawMessage)
	walk = func(file string, raw json.RawMessage) {
		var p panel
		if err := json.Unmarshal(raw, &p); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if p.Type != "row" {
			if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
				t.Errorf("%s panel %q: datasource must be the ${datasource} variable", file, p.Title)
			}
			if len(p.Targets) == 0 {
				t.Errorf("%s panel %q: no queries", file, p.Title)
			}
		}
		for _, tg := range p.Targets {
			out = append(out, dashboardQuery{file, p.Title, tg.Expr})
		}
		for _, c := range p.Panels {
			walk(file, c)
		}
	}
	labelValues := regexp.MustCompile(`^label_values\((.+), *[a-z0-9_]+\)$`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			UID        string            `json:"uid"`
			Panels     []json.RawMessage `json:"panels"`
			Templating struct {
				List []struct {
					Name  string `json:"name"`
					Type  string `json:"type"`
					Query any    `json:"query"`
				} `json:"list"`
			} `json:"templating"`
		}
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if !strings.HasPrefix(d.UID, "otelcol-sre-") {
			t.Errorf("%s: uid %q", f, d.UID)
		}
		for _, p := range d.Panels {
			walk(f, p)
		}
		for _, v := range d.Templating.List {
			if v.Type != "query" {
				continue
			}
			q, _ := v.Query.(map[string]any)["query"].(string)
			m := labelValues.FindStringSubmatch(q)
			if m == nil {
				t.Errorf("%s variable %s: %q is not label_values(selector, label)", f, v.Name, q)
				continue
			}
			out = append(out, dashboardQuery{f, "variable " + v.Name, m[1]})
		}
	}
	return out
}

func TestDashboardQueriesParse(t *testing.T) {
	for _, q := range dashboardQueries(t) {
		if _, err := promql.ParseExpr(substituteGrafana(q.expr)); err != nil {
			t.Errorf("%s %q: %v\n%s", q.dashboard, q.panel, err, q.expr)
		}
	}
}

// Every metric and label the rules and dashboards use is one the components emit: the DESIGN.md
// contract names after remote write (deploy/configs/amp.yaml: '.' -> '_', no suffixes, resource
// attributes as labels), and the ethtool receiver's metadata.yaml.
func TestRulesAndDashboardsUseContractNames(t *testing.T) {
	metrics := map[string]bool{
		// sloprocessor outputs (DESIGN.md).
		"slo_sli": true, "slo_burn_rate": true, "slo_objective": true, "slo_error_budget_remaining": true,
		"slo_events": true, "slo_window_coverage": true, "slo_alert_state": true,
		// k8s_cluster's per-pod k8s.pod.phase, annotated by k8spoddiagnostics.
		"k8s_pod_phase": true,
	}
	labels := map[string]bool{
		"cluster":       true, // external label of prometheus_remote_write/amp
		"k8s_node_name": true, "k8s_namespace_name": true, "k8s_pod_name": true, "k8s_pod_uid": true,
		"k8s_pod_diagnosis_status": true, "k8s_pod_diagnosis_stuck": true, "k8s_pod_diagnosis_reason": true,
		"k8s_pod_diagnosis_container": true, "k8s_pod_diagnosis_message": true, "k8s_pod_diagnosis_since": true,
		"k8s_pod_diagnosis_hint": true,
		"slo_name":               true, "slo_service": true, "slo_window": true, "slo_alert_severity": true, "slo_outcome": true,
	}
	ethtoolMetadata(t, metrics, labels)

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
					t.Errorf("%s: metric %s is not emitted by any component (contract names: DESIGN.md, ethtool metadata.yaml)", where, v.Name)
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
		check(q.dashboard+" "+q.panel, substituteGrafana(q.expr))
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
	underscore := strings.NewReplacer(".", "_")
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
