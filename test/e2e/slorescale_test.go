// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"context"
	"fmt"
	"maps"
	"math"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"gopkg.in/yaml.v3"

	"github.com/otelcol-sre/otelcol-sre/processor/sloprocessor/slorules"
)

// rescaleLongEnv runs TestSLORescale long enough for the moved service's 5m window to be right again in
// stream (six minutes after the move instead of half a minute).
const rescaleLongEnv = "OTELCOL_SRE_RESCALE_LONG"

const (
	rescaleSLO    = "checkout-latency" // deploy/configs/gateway-slo.yaml: 99% within 250 ms
	rescaleWindow = "5m"
	// rescaleEval is the SLO tier's evaluation_interval and Prometheus' rule evaluation interval in the test
	// (30 s and the ruler's 1 m in deploy), so a short run sees many evaluations.
	rescaleEval = 5 * time.Second
)

// checkoutRequests is the cumulative http.server.request.duration histogram (seconds) of the checkout
// service: good requests in the (0.05, 0.1] bucket, bad ones in (0.25, 0.5], threshold 250 ms.
func checkoutRequests(start, ts time.Time, good, bad uint64) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "checkout")
	rm.Resource().Attributes().PutStr("service.instance.id", "checkout-1")
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName("http.server.request.duration")
	m.SetUnit("s")
	h := m.SetEmptyHistogram()
	h.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	dp := h.DataPoints().AppendEmpty()
	dp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
	dp.SetTimestamp(pcommon.NewTimestampFromTime(ts))
	dp.ExplicitBounds().FromRaw([]float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10})
	counts := make([]uint64, 12)
	counts[4], counts[6] = good, bad
	dp.BucketCounts().FromRaw(counts)
	dp.SetCount(good + bad)
	dp.SetSum(0.08*float64(good) + 0.4*float64(bad))
	return md
}

// rescaleTick is what the application sent at one export: the increments since the previous one.
type rescaleTick struct {
	ts        time.Time
	good, bad float64
}

// truthSLI is the exact SLI of the events with a timestamp in (at-w, at].
func truthSLI(ticks []rescaleTick, at time.Time, w time.Duration) (float64, bool) {
	var good, total float64
	for _, tk := range ticks {
		if tk.ts.After(at.Add(-w)) && !tk.ts.After(at) {
			good += tk.good
			total += tk.good + tk.bad
		}
	}
	return good / total, total > 0
}

// TestSLORescale: the SLO tier scales from two replicas to three behind the stateless tier, both run from
// deploy's configs (gatewaytiers_test.go); the service checkout moves to the new replica. Prometheus
// receives the SLO tier's remote write and evaluates deploy/rules/slo-events.yaml. At every evaluation around
// the move the test reads the in-stream slo_sli of checkout's latency SLO per replica, the rule-computed
// slo:sli as the ruler recorded it, and the same rules evaluated afterwards over the complete data, against
// the exact SLI of what the application sent; it holds them to the guarantee in the processor's README
// ("Rescaling") and logs the table.
func TestSLORescale(t *testing.T) {
	long := os.Getenv(rescaleLongEnv) == "1"
	phase1, phase2 := 30, 40 // one export a second
	if long {
		phase2 = 6*60 + 30
	}
	prom := startPrometheusWithRules(t, rescaleEval, sloEventsRules())
	_, cwl := cloudWatchPeer(t)

	var replicas []*tierCollector
	for i := range 3 {
		r := newSLOReplica(t, i, prom, cwl)
		r.set(rescaleEval.String(), "processors", "slo", "evaluation_interval")
		r.start(t)
		replicas = append(replicas, r)
	}
	lb := newLBTier(t)
	lb.routeTo(t, replicas...)
	lb.start(t)
	lbAddr := lb.addr(lb.otlp)

	// Which replica has checkout once there are three: the scale-up adds that one.
	added := probeOwner(t, lbAddr, replicas)
	var before []*tierCollector
	for _, r := range replicas {
		if r != added {
			before = append(before, r)
		}
	}
	if err := added.proc.Stop(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	added.env["OTELCOL_SRE_DATA_DIR"] = t.TempDir() // the new pod's empty volume
	lb.routeTo(t, before...)
	lb.reload(t)
	time.Sleep(2 * time.Second)

	ctx := context.Background()
	appStart := time.Now()
	var ticks []rescaleTick
	var good, bad uint64
	send := func(n int, incident func(i int) bool) {
		for i := range n {
			b := uint64(1)
			if incident != nil && incident(i) {
				b = 20
			}
			good, bad = good+100-b, bad+b
			now := time.Now()
			ticks = append(ticks, rescaleTick{ts: now, good: float64(100 - b), bad: float64(b)})
			exportQuiet(ctx, lbAddr, checkoutRequests(appStart, now, good, bad)) // cumulative: a lost export is caught up by the next
			time.Sleep(time.Second - time.Since(now))
		}
	}
	// Phase 1: two replicas; 1% slow, 20% for 15 s in the middle.
	send(phase1, func(i int) bool { return i >= 10 && i < 25 })
	move := time.Now()
	added.start(t)
	lb.routeTo(t, replicas...)
	lb.reload(t)
	// Phase 2: three replicas, 1% slow.
	send(phase2, nil)
	end := time.Now()
	time.Sleep(ruleLag) // the last batches, WAL flushes and rule evaluations

	rep := measureRescale(t, prom, ticks, move, end, added.name)
	rep.log(t)
	rep.check(t)
	for _, r := range replicas {
		if n := r.selfMetric(t, "otelcol_exporter_send_failed_metric_points"); n > 0 {
			t.Errorf("%s: %v metric points failed to send", r.name, n)
		}
	}
	if n := scrapeSum(t, prom.url()+"/metrics", "prometheus_http_requests_total", `code="400"`, `handler="/api/v1/write"`); n > 0 {
		log, _ := os.ReadFile(prom.LogPath())
		t.Errorf("Prometheus refused %v remote-write requests (HTTP 400):\n%s", n, log)
	}
}

// probeOwner sends a metric of the checkout service that no SLO reads through the stateless tier and
// returns the replica that received it.
func probeOwner(t *testing.T, lbAddr string, replicas []*tierCollector) *tierCollector {
	t.Helper()
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "checkout")
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName("e2e.rescale.probe")
	dp := m.SetEmptyGauge().DataPoints().AppendEmpty()
	dp.SetIntValue(1)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		// Stamped now: a point without a timestamp reaches Prometheus at 0, which it refuses (out of
		// bounds) once any newer sample is in its head — a 400 the test then reports.
		dp.SetTimestamp(pcommon.NewTimestampFromTime(time.Now()))
		exportQuiet(context.Background(), lbAddr, md)
		time.Sleep(500 * time.Millisecond)
		for _, r := range replicas {
			if r.selfMetric(t, "otelcol_receiver_accepted_metric_points", `receiver="otlp"`) > 0 {
				return r
			}
		}
	}
	t.Fatal("no SLO replica received the probe through the stateless tier")
	return nil
}

// ruleLag is how old the newest slo_events sample a rule evaluation sees can be: the SLO tier's batch
// timeout (5 s), the remote-write send deadline (5 s), one evaluation interval of the processor and one of
// the rules.
const ruleLag = 5*time.Second + 3*rescaleEval

// rescaleRow is one evaluation time around the move.
type rescaleRow struct {
	at    time.Time
	exact float64
	// inStream is each replica's slo_sli by its instance label (the replica's pod name).
	inStream map[string]float64
	// recorded is slo:sli as the ruler recorded it then; complete is the same rules evaluated over the
	// complete data afterwards.
	recorded, complete       float64
	hasRecorded, hasComplete bool
	// lagLo/lagHi: the exact SLI over the data times a rule evaluated at `at` can have seen (ruleLag).
	lagLo, lagHi float64
}

type rescaleReport struct {
	move, end time.Time
	added     string // the replica checkout moved to
	rows      []rescaleRow
}

func measureRescale(t *testing.T, prom *prometheusServer, ticks []rescaleTick, move, end time.Time, added string) rescaleReport {
	t.Helper()
	w := 5 * time.Minute
	sel := fmt.Sprintf(`{slo_name=%q,slo_window=%q}`, rescaleSLO, rescaleWindow)
	complete := inlinedSLIRule(t)
	rep := rescaleReport{move: move, end: end, added: added}
	for at := move.Add(-15 * time.Second).Truncate(rescaleEval); !at.After(end); at = at.Add(rescaleEval) {
		row := rescaleRow{at: at, inStream: map[string]float64{}}
		row.exact, _ = truthSLI(ticks, at, w)
		for _, s := range prom.Query(t, `slo_sli`+sel, at) {
			row.inStream[s.Labels["instance"]] = s.Value
		}
		if res := prom.Query(t, `slo:sli`+sel, at); len(res) == 1 {
			row.recorded, row.hasRecorded = res[0].Value, true
		}
		if res := prom.Query(t, complete, at); len(res) == 1 {
			row.complete, row.hasComplete = res[0].Value, true
		}
		row.lagLo, row.lagHi = math.Inf(1), math.Inf(-1)
		for d := time.Duration(0); d <= ruleLag; d += time.Second {
			if v, ok := truthSLI(ticks, at.Add(-d), w); ok {
				row.lagLo, row.lagHi = min(row.lagLo, v), max(row.lagHi, v)
			}
		}
		rep.rows = append(rep.rows, row)
	}
	return rep
}

// inlinedSLIRule is the generated slo:sli rule of the SLO and window with the recorded series it reads
// replaced by their own expressions: what the rules compute, evaluated over whatever data Prometheus holds.
func inlinedSLIRule(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(sloEventsRules())
	if err != nil {
		t.Fatal(err)
	}
	var f slorules.File
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	exprs := map[string]string{}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Record != "" && r.Labels["slo_name"] == rescaleSLO && r.Labels[slorules.LabelWindow] == rescaleWindow {
				exprs[r.Record] = r.Expr
			}
		}
	}
	expr := exprs[slorules.RecordSLI]
	for _, rec := range []string{slorules.RecordEventsBad, slorules.RecordEventsTotal} {
		expr = strings.ReplaceAll(expr, fmt.Sprintf(`%s{slo_name=%q, slo_window=%q}`, rec, rescaleSLO, rescaleWindow), "("+exprs[rec]+")")
	}
	if expr == "" || strings.Contains(expr, slorules.RecordPrefix) {
		t.Fatalf("%s: cannot inline the %s %s rule: %q", sloEventsRules(), rescaleSLO, rescaleWindow, expr)
	}
	return expr
}

// shown is the in-stream value a dashboard or an alert reads: the largest of the replicas' (max by).
func (row rescaleRow) shown() (float64, bool) {
	v, ok := math.Inf(-1), false
	for _, x := range row.inStream {
		v, ok = max(v, x), true
	}
	return v, ok
}

func (r rescaleReport) log(t *testing.T) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s SLI around the move to %s (t = seconds after it):\n%5s %7s %9s %9s  %s\n",
		rescaleSLO, rescaleWindow, r.added, "t", "exact", "recorded", "complete", "in-stream per replica")
	opt := func(v float64, ok bool) string {
		if !ok {
			return "-"
		}
		return fmt.Sprintf("%.4f", v)
	}
	for _, row := range r.rows {
		var in []string
		for _, id := range slices.Sorted(maps.Keys(row.inStream)) {
			in = append(in, fmt.Sprintf("%s=%.4f", id, row.inStream[id]))
		}
		fmt.Fprintf(&b, "%5.0f %7.4f %9s %9s  %s\n", row.at.Sub(r.move).Seconds(), row.exact,
			opt(row.recorded, row.hasRecorded), opt(row.complete, row.hasComplete), strings.Join(in, " "))
	}
	t.Log(b.String())
}

// check holds the measurement to the README's guarantee and logs the figures it quotes.
func (r rescaleReport) check(t *testing.T) {
	t.Helper()
	var worstShown, worstComplete, worstRecorded float64
	rightAgain := time.Duration(-1)
	for _, row := range r.rows {
		after := row.at.Sub(r.move)
		if after <= 0 {
			continue
		}
		if v, ok := row.shown(); ok {
			err := math.Abs(v - row.exact)
			worstShown = max(worstShown, err)
			if err > 0.001 {
				rightAgain = -1
			} else if rightAgain < 0 {
				rightAgain = after
			}
		}
		if row.hasComplete {
			worstComplete = max(worstComplete, math.Abs(row.complete-row.exact))
		}
		if row.hasRecorded {
			worstRecorded = max(worstRecorded, max(0, row.lagLo-row.recorded, row.recorded-row.lagHi))
		}
		// In stream, the new replica's window holds only the events since checkout arrived (a steady 1%).
		if v, ok := row.inStream[r.added]; ok && math.Abs(v-0.99) > 1e-9 {
			t.Errorf("t=%v: %s slo_sli = %v, want 0.99 (the events since the move)", after, r.added, v)
		}
	}
	movedOver := false
	for _, row := range r.rows {
		if _, ok := row.inStream[r.added]; ok {
			movedOver = true
		}
	}
	if !movedOver {
		t.Errorf("%s never emitted checkout's SLI: the service did not move", r.added)
	}
	t.Logf("after the move: in-stream (max over replicas) off by up to %.4f (burn rate %.2f), within 0.001 again after %v (-1: not within the run)",
		worstShown, worstShown/(1-0.99), rightAgain)
	t.Logf("after the move: rule-computed over complete data off by up to %.4f; as recorded, up to %.4f outside the exact SLI of the last %v",
		worstComplete, worstRecorded, ruleLag)
	// Counted by neither replica: the events between the last point the old replica received and the first
	// the new one counted (its first point of a running series is a baseline) — the re-route time, a few
	// seconds on a loaded machine, 3-6% of the run's events before the window fills; and increase()
	// extrapolates each replica's series to the window's edges.
	if worstComplete > 0.01 {
		t.Errorf("rule-computed SLI over complete data off by %.4f after the move, want <= 0.01", worstComplete)
	}
	if worstRecorded > 0.005 {
		t.Errorf("recorded rule-computed SLI off by %.4f from the exact SLI of its data times, want <= 0.005", worstRecorded)
	}
}
