// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/otelcol-sre/otelcol-sre/internal/promtest"
	"github.com/otelcol-sre/otelcol-sre/processor/sloprocessor"
	"github.com/otelcol-sre/otelcol-sre/processor/sloprocessor/slorules"
)

// increment is what one export adds to the good and total events of the
// Timeslices SLO in testdata/timeslices.yaml: stamped at the export's
// timestamp, and arriving with the batch replayed at arrive.
type increment struct {
	stamp, arrive time.Time
	good, total   float64
}

// timeslicesInput is three hours of a checkout service's request counters
// by status code, exported every 15 s one second before each quarter minute
// (data just before every slice boundary): ~1.5% errors, an incident at
// 15-30% from 60m to 80m, a flaky half hour around the 5% slice target
// from 100m, no traffic from 140m to 150m (empty slices), a process restart
// at 160m. The 500 series' export at the end of every seventh minute
// arrives late, with the next export, and with 15 more errors: its slice is
// bad, but only once it has arrived. It returns the batches as
// slo-backtest replays them and the increments the SLO counts (the first
// export is a baseline: the process started an hour before the data).
func timeslicesInput(base time.Time) ([]batch, []increment) {
	rng := rand.New(rand.NewPCG(12, 1))
	start := base.Add(-time.Hour)
	var ok, failed float64
	var batches []batch
	var incs []increment
	var late *pmetric.Metrics // the 500 point held back for the next batch
	var lateInc *increment
	for d := 14 * time.Second; d <= 3*time.Hour; d += 15 * time.Second {
		at := base.Add(d)
		if d == 160*time.Minute-time.Second {
			start, ok, failed = at.Add(-5*time.Second), 0, 0
		}
		var g, b float64
		switch {
		case d > 140*time.Minute && d <= 150*time.Minute:
		case d > 60*time.Minute && d <= 80*time.Minute:
			g, b = float64(40+rng.IntN(20)), float64(8+rng.IntN(12))
		case d > 100*time.Minute && d <= 130*time.Minute:
			g, b = float64(40+rng.IntN(30)), float64(1+rng.IntN(4))
		default:
			g = float64(40 + rng.IntN(30))
			if rng.IntN(3) == 0 {
				b = float64(rng.IntN(3))
			}
		}
		holdBack := at.Second() == 59 && (at.Minute()%7) == 3
		if holdBack && g > 0 {
			b += 15 // enough to turn its slice bad, once it has arrived
		}
		ok += g
		failed += b
		point := func(code string, v float64) pmetric.Metrics {
			md := pmetric.NewMetrics()
			rm := md.ResourceMetrics().AppendEmpty()
			rm.Resource().Attributes().PutStr("service.name", "checkout")
			m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
			m.SetName("http.server.requests")
			sum := m.SetEmptySum()
			sum.SetIsMonotonic(true)
			sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
			dp := sum.DataPoints().AppendEmpty()
			dp.Attributes().PutInt("http.response.status_code", map[string]int64{"200": 200, "500": 500}[code])
			dp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
			dp.SetTimestamp(pcommon.NewTimestampFromTime(at))
			dp.SetDoubleValue(v)
			return md
		}
		md := pmetric.NewMetrics()
		if late != nil {
			late.ResourceMetrics().MoveAndAppendTo(md.ResourceMetrics())
		}
		point("200", ok).ResourceMetrics().MoveAndAppendTo(md.ResourceMetrics())
		bad := point("500", failed)
		if holdBack {
			late = &bad
		} else {
			late = nil
			bad.ResourceMetrics().MoveAndAppendTo(md.ResourceMetrics())
		}
		bt, _ := timeRange(md)
		batches = append(batches, bt)
		if lateInc != nil {
			lateInc.arrive = bt.max
			incs = append(incs, *lateInc)
			lateInc = nil
		}
		if d == 14*time.Second {
			continue // baseline
		}
		incs = append(incs, increment{stamp: at, arrive: at, good: g, total: g})
		inc := increment{stamp: at, arrive: at, total: b}
		if holdBack {
			lateInc = &inc
		} else {
			incs = append(incs, inc)
		}
	}
	return batches, incs
}

// slicesTruth computes a Timeslices window from the increments, as the
// definition says: the slices of 1m ending in (B - w, B] for the last
// boundary B at or before T, from slice first on; a slice is good when its
// good/total is at least 0.95 or it has no events. place gives the time an
// increment is sliced by and whether it is known at T.
type slicesTruth struct {
	incs  []increment
	first int64 // the first slice counted
	place func(increment, time.Time) (time.Time, bool)
}

const truthSlice = int64(time.Minute)

// window returns the SLI, the bad slices and whether the window has events.
func (s slicesTruth) window(at time.Time, w time.Duration) (sli float64, bad int, has bool) {
	last := at.UnixNano()/truthSlice - 1
	from := max(last-int64(w)/truthSlice+1, s.first)
	good, total := map[int64]float64{}, map[int64]float64{}
	for _, inc := range s.incs {
		t, known := s.place(inc, at)
		if !known {
			continue
		}
		x := (t.UnixNano() - 1) / truthSlice
		if x < from || x > last {
			continue
		}
		good[x] += inc.good
		total[x] += inc.total
		has = has || inc.total > 0
	}
	for x, n := range total {
		if n > 0 && good[x]/n < 0.95 {
			bad++
		}
	}
	counted := last - from + 1
	return float64(counted-int64(bad)) / float64(counted), bad, has
}

// TestTimeslicesAgainstExactSlicesAndPrometheus replays timeslicesInput
// through slo-backtest's engine with testdata/timeslices.yaml and reads the
// Timeslices SLO at every slice boundary and half a slice in for the last
// two hours:
//   - in-stream values equal the exact slices of the events that had arrived
//     by then, sliced by their timestamps;
//   - the generated rules, evaluated by a real Prometheus (the slice rules by
//     promtool's rule backfill at each whole minute, the window rules by its
//     query engine) over the slo.events the engine emitted at every whole
//     minute, equal the exact slices of the events sliced by the emission
//     that carried them;
//   - and it reports how far each is from the exact slices of all events by
//     their timestamps (late exports make the difference).
func TestTimeslicesAgainstExactSlicesAndPrometheus(t *testing.T) {
	base := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	batches, incs := timeslicesInput(base)
	cfg, err := loadSLOs(filepath.Join("testdata", "timeslices.yaml"), "slo", nil)
	require.NoError(t, err)
	var at []time.Time
	for d := time.Minute; d <= 3*time.Hour; d += 30 * time.Second {
		at = append(at, base.Add(d))
	}
	evals, _, err := backtest(cfg, batches, at)
	require.NoError(t, err)
	const slo = "checkout-uptime"
	inStream := map[string]float64{}
	var events strings.Builder
	events.WriteString("# TYPE slo_events gauge\n")
	var eventLines []string
	firstEmission := time.Time{}
	for _, p := range points(evals) {
		if p.Attributes[sloprocessor.AttrName] != slo {
			continue
		}
		inStream[p.Time+" "+p.Metric+" "+p.Attributes[sloprocessor.AttrWindow]] = p.Value
		ts, err := time.Parse(time.RFC3339Nano, p.Time)
		require.NoError(t, err)
		if p.Metric == sloprocessor.MetricEvents && ts.Second() == 0 {
			if firstEmission.IsZero() {
				firstEmission = ts
			}
			eventLines = append(eventLines, promtest.OpenMetricsSample(fmt.Sprintf(`slo_events{slo_name=%q,slo_service="checkout",slo_outcome=%q}`,
				slo, p.Attributes[sloprocessor.AttrOutcome]), p.Value, ts))
		}
	}
	sort.SliceStable(eventLines, func(i, j int) bool {
		return strings.Contains(eventLines[i], `"bad"`) && !strings.Contains(eventLines[j], `"bad"`)
	})
	for _, l := range eventLines {
		events.WriteString(l)
	}
	events.WriteString("# EOF\n")

	since := batches[0].min
	byStamp := func(inc increment, _ time.Time) (time.Time, bool) { return inc.stamp, true }
	arrived := slicesTruth{incs: incs, first: since.UnixNano() / truthSlice, place: func(inc increment, at time.Time) (time.Time, bool) {
		return inc.stamp, inc.arrive.Before(at)
	}}
	exact := slicesTruth{incs: incs, first: arrived.first, place: byStamp}
	// The rules slice events by the emission that carried them: the first
	// whole minute after they arrived. The first emission has no earlier
	// sample to take a difference from.
	emitted := slicesTruth{incs: incs, first: firstEmission.UnixNano() / truthSlice, place: func(inc increment, _ time.Time) (time.Time, bool) {
		return inc.arrive, true
	}}

	f, _, err := slorules.Generate(cfg, slorules.DefaultOptions())
	require.NoError(t, err)
	b, err := slorules.Marshal(f, "testdata/timeslices.yaml", nil)
	require.NoError(t, err)
	rulesFile := filepath.Join(t.TempDir(), "timeslices.rules.yaml")
	require.NoError(t, os.WriteFile(rulesFile, b, 0o600))
	expr := func(record, window string) string {
		for _, r := range f.Groups[0].Rules {
			if r.Record == record && r.Labels[slorules.LabelWindow] == window {
				return r.Expr
			}
		}
		t.Fatalf("no %s rule for %s", record, window)
		return ""
	}
	prom := promtest.Start(t, events.String())
	end := base.Add(3 * time.Hour)
	// promtool evaluates every rule against the data as it was: the slice
	// rules first, then the window events that read them.
	prom.BackfillRules(t, rulesFile, firstEmission, end)
	prom.BackfillRules(t, rulesFile, firstEmission, end)

	// promtool, like a ruler, evaluates the group at a phase within its
	// interval (from a hash of the group): a verdict recorded at e is the
	// slice ending at the last emission before e, so a read at T sees the
	// slices up to the emission before the last evaluation at or before T.
	lastEmission := func(at time.Time) time.Time {
		e, ok := prom.Scalar(t, "timestamp(slo:timeslice_good)", at)
		require.True(t, ok, "a verdict at %v", at)
		return time.UnixMilli(int64(math.Round(e * 1000))).UTC().Truncate(time.Minute)
	}
	phases := map[time.Duration]bool{}
	windows := map[string]time.Duration{"5m": 5 * time.Minute, "30m": 30 * time.Minute, "1h": time.Hour, "30d": 30 * 24 * time.Hour}
	worst := map[string]float64{}
	note := func(key string, d float64) { worst[key] = max(worst[key], math.Abs(d)) }
	count := func(key string) { worst[key]++ }
	reads := 0
	for _, ts := range at {
		if ts.Before(base.Add(time.Hour)) {
			continue
		}
		kind := "boundary"
		if ts.Second() != 0 {
			kind = "mid-slice"
		}
		key := ts.UTC().Format(time.RFC3339Nano)
		emittedAt := lastEmission(ts)
		phases[ts.Sub(emittedAt)] = true
		for name, w := range windows {
			wantArrived, badArrived, has := arrived.window(ts, w)
			got, ok := inStream[key+" "+sloprocessor.MetricSLI+" "+name]
			require.Equal(t, has, ok, "%s %s: in-stream has an SLI", key, name)
			if !has {
				continue
			}
			require.InDelta(t, wantArrived, got, 1e-12, "%s %s: in-stream SLI = exact slices of the arrived events", key, name)
			burn := inStream[key+" "+sloprocessor.MetricBurnRate+" "+name]
			require.InDelta(t, (1-wantArrived)/0.01, burn, 1e-9, "%s %s: burn rate", key, name)
			if name == "30d" {
				require.InDelta(t, 1-float64(badArrived)/(0.01*43200), inStream[key+" "+sloprocessor.MetricBudgetRemaining+" 30d"], 1e-12, "%s budget", key)
			}
			wantExact, badExact, _ := exact.window(ts, w)
			note(kind+" in-stream vs exact "+name, got-wantExact)

			rule, ok := prom.Scalar(t, expr(slorules.RecordSLI, name), ts)
			wantEmitted, badEmitted, hasEmitted := emitted.window(emittedAt, w)
			require.Equal(t, hasEmitted, ok, "%s %s: rules have an SLI", key, name)
			if !ok {
				count(kind + " windows with an in-stream SLI but no rule SLI")
				continue
			}
			require.InDelta(t, wantEmitted, rule, 1e-9, "%s %s: rule SLI = exact slices of the emitted events", key, name)
			note(kind+" rules vs exact "+name, rule-wantExact)
			note(kind+" rules vs in-stream "+name, rule-got)
			if name == "30d" {
				remaining, ok := prom.Scalar(t, expr(slorules.RecordBudgetRemaining, name), ts)
				require.True(t, ok)
				require.InDelta(t, 1-float64(badEmitted)/(0.01*43200), remaining, 1e-9, "%s: rule budget", key)
				note(kind+" budget bad slices in-stream vs exact", float64(badArrived-badExact))
				note(kind+" budget bad slices rules vs exact", float64(badEmitted-badExact))
			}
			reads++
		}
	}
	require.Greater(t, reads, 800)
	e, _ := prom.Scalar(t, "timestamp(slo:timeslice_good)", end)
	t.Logf("%d window reads; the rule group evaluates %v past each minute; rule-computed values trail the reads by %v",
		reads, time.Duration(int64(math.Round(e*1000))%time.Minute.Milliseconds())*time.Millisecond, phases)
	keys := make([]string, 0, len(worst))
	for k := range worst {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Logf("largest |difference| %-45s %.4f", k, worst[k])
	}
}

// The CLI backtests a Timeslices SLO: the checkout incident of
// testdata/metrics.jsonl (12:15 to 12:20) makes its five minutes bad slices.
func TestTimeslicesCLI(t *testing.T) {
	out, _, err := runCLI(t, "--config", "testdata/timeslices.yaml", "--input", "testdata/metrics.jsonl",
		"--at", "2026-03-10T12:20:00Z", "-o", "json")
	require.NoError(t, err)
	pts := decode(t, out)
	const at = "2026-03-10T12:20:00Z"
	for window, want := range map[string]float64{"5m": 0, "30m": 15.0 / 20, "30d": 15.0 / 20} {
		v, ok := value(pts, at, sloprocessor.MetricSLI, "checkout-uptime", window)
		require.True(t, ok, window)
		require.InDelta(t, want, v, 1e-12, "%s: good slices of those since the data began", window)
	}
	v, ok := value(pts, at, sloprocessor.MetricBudgetRemaining, "checkout-uptime", "30d")
	require.True(t, ok)
	require.InDelta(t, 1-5/(0.01*43200), v, 1e-12, "5 of 432 bad minutes spent")
	require.Equal(t, 1.0, alert(pts, at, "checkout-uptime", "page"))
}
