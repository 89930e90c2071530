// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"encoding/json"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/otelcol-sre/otelcol-sre/deploy/dashboards"
	"github.com/otelcol-sre/otelcol-sre/internal/collectortest"
)

// requestCounts is a cumulative http.server.request.count of the checkout service: ok 2xx and bad 5xx
// requests since start.
func requestCounts(start, ts time.Time, ok, bad int64) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "checkout")
	rm.Resource().Attributes().PutStr("service.instance.id", "checkout-1")
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName("http.server.request.count")
	sum := m.SetEmptySum()
	sum.SetIsMonotonic(true)
	sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	for code, n := range map[int64]int64{200: ok, 503: bad} {
		dp := sum.DataPoints().AppendEmpty()
		dp.Attributes().PutInt("http.response.status_code", code)
		dp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
		dp.SetTimestamp(pcommon.NewTimestampFromTime(ts))
		dp.SetIntValue(n)
	}
	return md
}

// TestSLOProcessorSeriesInPrometheusAndEMF: request counters go in, the slo processor emits the SLO metrics
// of the contract (docs/DESIGN.md), and they arrive in Prometheus (names, labels, values) and in CloudWatch Logs as
// valid EMF with deploy's SLO dimension sets. 990 good and 10 bad requests against a 99.9% objective:
// SLI 0.99, burn rate 10, error budget remaining 1 - 10 = -9; as a Timeslices SLO one bad slice.
//
// Prometheus evaluates the generated rule-computed SLO rules as AMP would, so the dashboard's rule-computed
// values are checked too.
func TestSLOProcessorSeriesInPrometheusAndEMF(t *testing.T) {
	prom := startPrometheusWithRules(t, 2*time.Second, sloEventsRules())
	peer, cwl := cloudWatchPeer(t)
	proc, otlp := collector(t, "slo.yaml", map[string]string{"RW_ENDPOINT": prom.url() + "/api/v1/write", "CWL_ENDPOINT": cwl})
	start := time.Now().Add(-time.Second)
	export(t, otlp, requestCounts(start, time.Now(), 990, 10))

	const sel = `slo_name="checkout-availability",slo_service="checkout"`
	checks := []struct {
		query string
		want  float64
	}{
		{`slo_sli{` + sel + `,slo_window="5m"}`, 0.99},
		{`slo_burn_rate{` + sel + `,slo_window="5m"}`, 10},
		{`slo_objective{` + sel + `}`, 0.999},
		{`slo_events{` + sel + `,slo_outcome="good"}`, 990},
		{`slo_events{` + sel + `,slo_outcome="bad"}`, 10},
	}
	for _, c := range checks {
		got := prom.waitScalar(t, `round(`+c.query+`, 0.0001)`, c.want, 30*time.Second)
		if got != c.want {
			t.Errorf("%s = %v, want %v", c.query, got, c.want)
		}
	}
	if got := prom.waitScalar(t, `round(slo_error_budget_remaining{`+sel+`}, 0.0001)`, -9, 10*time.Second); got != -9 {
		t.Errorf("slo_error_budget_remaining = %v, want -9", got)
	}
	// The Timeslices SLO: the 10 bad of 1000 requests (1%) make their 2s slice bad (under 99.5%): one of the
	// hour's 1800 × 1% = 18 bad slices spent, however many empty (good) slices follow.
	const uptime = `slo_name="checkout-uptime",slo_service="checkout"`
	if got := prom.waitScalar(t, `round(slo_error_budget_remaining{`+uptime+`}, 0.0001)`, 0.9444, 20*time.Second); got != 0.9444 {
		t.Errorf("Timeslices slo_error_budget_remaining = %v, want 1 - 1/18 = 0.9444", got)
	}
	if got := prom.query(t, `slo_sli{`+uptime+`,slo_window="5m"} < 1`); len(got) != 1 {
		t.Errorf("Timeslices 5m SLI: %v, want one below 1 (the bad slice among the 2s slices since the start)", got)
	}
	var names []string
	for _, s := range prom.query(t, `count by (__name__) ({__name__=~"slo_.*"})`) {
		names = append(names, s.Labels["__name__"])
	}
	sort.Strings(names)
	t.Logf("SLO series in Prometheus: %v", names)
	for _, want := range []string{"slo_alert_state", "slo_burn_rate", "slo_error_budget_remaining", "slo_events", "slo_objective", "slo_sli", "slo_window_coverage"} {
		if !strings.Contains(strings.Join(names, " "), want) {
			t.Errorf("%s missing from Prometheus", want)
		}
	}

	deadline := time.Now().Add(20 * time.Second)
	for len(peer.Events()) == 0 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	events := peer.Events()
	if len(events) == 0 {
		t.Fatalf("no EMF events from the slo metrics\n%s", proc.Output())
	}
	declared := 0
	for _, e := range events {
		var ev struct {
			AWS struct {
				CloudWatchMetrics []struct{ Dimensions [][]string }
			} `json:"_aws"`
		}
		if err := json.Unmarshal([]byte(e.Message), &ev); err != nil {
			t.Fatal(err)
		}
		if len(ev.AWS.CloudWatchMetrics) > 0 {
			declared++
		}
	}
	for _, inv := range peer.InvalidEMF() {
		t.Errorf("invalid EMF from the slo metrics: %v\n%s", inv.Err, inv.Event.Message)
	}
	if declared == 0 {
		t.Errorf("none of %d EMF events carries a metric directive: deploy's SLO metric declarations match nothing", len(events))
	}
	t.Logf("EMF: %d events, %d with metric directives, %d invalid", len(events), declared, len(peer.InvalidEMF()))

	checkDashboardHasData(t, prom, "slo.json")
}

// sloEventsRules is the rule file `go generate ./deploy` writes from the gateway's SLOs: what AMP's ruler
// evaluates over slo_events (deploy/kustomize/overlays/amp-rules).
func sloEventsRules() string {
	return filepath.Join(collectortest.RepoRoot(), "deploy", "rules", "slo-events.yaml")
}

// checkDashboardHasData runs every panel query and template variable of a deploy/dashboards file (Grafana
// variables substituted as "All") against prom and fails for each that returns nothing. Rates need two
// samples, so queries get a few evaluation intervals to fill.
func checkDashboardHasData(t *testing.T, prom *prometheusServer, file string) {
	t.Helper()
	queries, err := dashboards.Queries()
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, q := range queries {
		if q.Dashboard != file {
			continue
		}
		checked++
		deadline := time.Now().Add(20 * time.Second)
		for len(prom.query(t, q.Expr)) == 0 && time.Now().Before(deadline) {
			time.Sleep(500 * time.Millisecond)
		}
		if len(prom.query(t, q.Expr)) == 0 {
			t.Errorf("%s panel %q returns no data: %s", file, q.Panel, q.Expr)
		}
	}
	if checked == 0 {
		t.Errorf("no queries found in dashboard %s", file)
	}
}

// TestSLOStateSurvivesRestartThroughFileStorage: the built binary with the slo processor's state in
// file_storage is stopped and started again on the same directory while the application keeps counting.
// With the state restored, the first point after the restart is a delta against the stored baseline, so the
// events keep adding up (990 good + 1000 = 1990). Without it that point would be a baseline of a series that
// began before the processor (initial_value auto) and the counts would start over.
func TestSLOStateSurvivesRestartThroughFileStorage(t *testing.T) {
	prom := startPrometheus(t, 0)
	env := map[string]string{"RW_ENDPOINT": prom.url() + "/api/v1/write", "STATE_DIR": t.TempDir()}
	proc, otlp := collector(t, "slo-restart.yaml", env)
	start := time.Now() // the application starts after the processor: its first point counts
	export(t, otlp, requestCounts(start, time.Now(), 990, 10))

	const sel = `slo_name="checkout-availability",slo_service="checkout"`
	if got := prom.waitScalar(t, `slo_events{`+sel+`,slo_outcome="good"}`, 990, 30*time.Second); got != 990 {
		t.Fatalf("before the restart: good events = %v, want 990\n%s", got, proc.Output())
	}
	if err := proc.Stop(30 * time.Second); err != nil {
		t.Fatalf("stopping the collector: %v\n%s", err, proc.Output())
	}

	proc, otlp = collector(t, "slo-restart.yaml", env)
	export(t, otlp, requestCounts(start, time.Now(), 1990, 20))
	for _, c := range []struct {
		outcome string
		want    float64
	}{{"good", 1990}, {"bad", 20}} {
		q := `slo_events{` + sel + `,slo_outcome="` + c.outcome + `"}`
		if got := prom.waitScalar(t, q, c.want, 30*time.Second); got != c.want {
			t.Errorf("after the restart: %s = %v, want %v\n%s", q, got, c.want, proc.Output())
		}
	}
	// Every window still holds the events of both runs: SLI = 1990 / 2010.
	q := `round(slo_sli{` + sel + `,slo_window="5m"}, 0.0001)`
	if got := prom.waitScalar(t, q, 0.9900, 30*time.Second); got != 0.9900 {
		t.Errorf("after the restart: %s = %v, want 0.9900", q, got)
	}
}
