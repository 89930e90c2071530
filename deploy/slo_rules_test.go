// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package deploy_test

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"

	"github.com/otelcol-sre/otelcol-sre/processor/sloprocessor"
	"github.com/otelcol-sre/otelcol-sre/processor/sloprocessor/slorules"
)

// sloEventsRules is generated from the gateway's SLOs: `go generate ./deploy`.
const (
	sloEventsRules  = "rules/slo-events.yaml"
	sloEventsSource = "configs/gateway-slo.yaml"
)

// The rule-computed SLO rules are those `slo-backtest rules` writes for the SLOs the gateway computes
// in-stream: a changed SLO changes both.
func TestSLOEventsRulesFollowGatewaySLOs(t *testing.T) {
	cfg, err := sloprocessor.LoadConfigFile(sloEventsSource, "slo")
	if err != nil {
		t.Fatal(err)
	}
	f, notes, err := slorules.Generate(cfg, slorules.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	want, err := slorules.Marshal(f, sloEventsSource, notes)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(sloEventsRules)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from the rules generated from %s: run go generate ./deploy", sloEventsRules, sloEventsSource)
	}
}

// The SLO dashboard's "source" variable switches every SLI, burn rate and budget panel between the series
// the rules record and the processor's own by their prefix, rule-computed by default (they stay right while
// a service moves between SLO-tier replicas: processor README, "Rescaling").
func TestSLODashboardSwitchesBetweenRuleComputedAndInStream(t *testing.T) {
	b, err := os.ReadFile("dashboards/slo.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Templating struct {
			List []struct {
				Name    string `json:"name"`
				Current struct {
					Value string `json:"value"`
				} `json:"current"`
				Options []struct {
					Value string `json:"value"`
				} `json:"options"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	var values []string
	current := ""
	for _, v := range d.Templating.List {
		if v.Name == "source" {
			current = v.Current.Value
			for _, o := range v.Options {
				values = append(values, o.Value)
			}
		}
	}
	if want := []string{slorules.RecordPrefix, slorules.InStreamPrefix}; !slices.Equal(values, want) || current != want[0] {
		t.Errorf("slo.json variable source: values %q (default %q), want %q (default %q)", values, current, want, want[0])
	}
	switched := map[string]bool{}
	for _, m := range []string{sloprocessor.MetricSLI, sloprocessor.MetricBurnRate, sloprocessor.MetricBudgetRemaining} {
		switched[underscore.Replace(m)] = true
	}
	for _, q := range dashboardQueries(t) {
		if q.Dashboard != "slo.json" || strings.Contains(q.Panel, "[source=") {
			continue
		}
		e, err := promql.ParseExpr(q.Expr)
		if err != nil {
			t.Fatal(err)
		}
		parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
			if v, ok := n.(*parser.VectorSelector); ok && switched[v.Name] {
				t.Errorf("slo.json panel %q reads %s without the source switch (${source}%s)", q.Panel, v.Name,
					strings.TrimPrefix(v.Name, slorules.InStreamPrefix))
			}
			return nil
		})
	}
}
