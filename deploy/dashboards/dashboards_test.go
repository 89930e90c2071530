// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package dashboards

import "testing"

func TestSubstitute(t *testing.T) {
	for in, want := range map[string]string{
		`rate(x{cluster=~"$cluster"}[$__rate_interval])`:      `rate(x{cluster=~".*"}[5m])`,
		`increase(x{k8s_node_name=~"${node}"}[$__range])`:     `increase(x{k8s_node_name=~".*"}[6h])`,
		`slo_sli{slo_window="$window", slo_name=~"$slo"}`:     `slo_sli{slo_window="1h", slo_name=~".*"}`,
		`max_over_time(x[$__interval])`:                       `max_over_time(x[1m])`,
		`sum by (k8s_pod_diagnosis_reason) (k8s_pod_phase{})`: `sum by (k8s_pod_diagnosis_reason) (k8s_pod_phase{})`,
	} {
		if got := Substitute(in); got != want {
			t.Errorf("Substitute(%s)\n got  %s\n want %s", in, got, want)
		}
	}
}

func TestPanelQueries(t *testing.T) {
	for _, tc := range []struct {
		name, json string
		queries    int
		ok         bool
	}{
		{"panel", `{"title":"a","type":"timeseries","datasource":{"uid":"${datasource}"},"targets":[{"expr":"up"}]}`, 1, true},
		{"row with nested panels", `{"title":"r","type":"row","panels":[{"title":"a","type":"stat","datasource":{"uid":"${datasource}"},"targets":[{"expr":"up"},{"expr":"vector(1)"}]}]}`, 2, true},
		{"hard-coded data source", `{"title":"a","type":"timeseries","datasource":{"uid":"P1809F7CD0C75ACF3"},"targets":[{"expr":"up"}]}`, 1, false},
		{"no queries", `{"title":"a","type":"timeseries","datasource":{"uid":"${datasource}"}}`, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, err := panelQueries("d.json", []byte(tc.json))
			if len(q) != tc.queries || (err == nil) != tc.ok {
				t.Fatalf("got %d queries, err %v; want %d, ok=%v", len(q), err, tc.queries, tc.ok)
			}
		})
	}
}

func TestEmbeddedDashboards(t *testing.T) {
	qs, err := Queries()
	if err != nil {
		t.Fatal(err)
	}
	if len(qs) < 20 {
		t.Fatalf("only %d queries in the embedded dashboards", len(qs))
	}
}
