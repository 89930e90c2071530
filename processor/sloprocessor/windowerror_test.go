// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package sloprocessor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// replayIncrement is one exported increment: the events a point adds, at the
// point's timestamp. The truth of a window (T-w, T] is the sum of the
// increments whose timestamp falls into it.
type replayIncrement struct {
	at        time.Time
	good, bad float64
}

// replay is a recorded service: the exports and, for the truth, the
// increments they carry.
type replay struct {
	exports []replayExport
	incs    []replayIncrement
}

type replayExport struct {
	at time.Time
	md pmetric.Metrics
}

// incidentReplay records hours of a service exporting request counters by
// status code every 15 s, one second before each quarter minute (so data
// sits just before every slot boundary): ~1% errors, incidents at 30% and
// 5% errors, a process restart (new start time, counters from zero) and a
// 500 series born mid-incident with the process' start time (as
// OpenTelemetry SDKs do). With delta temporality each export carries its
// increments.
func incidentReplay(hours int, temporality pmetric.AggregationTemporality) replay {
	rng := rand.New(rand.NewPCG(12, 34))
	const step = 15 * time.Second
	procStart := t0.Add(-time.Hour)
	var r replay
	var good, bad float64
	badBorn := false
	for d := step - time.Second; d <= time.Duration(hours)*time.Hour; d += step {
		at := t0.Add(d)
		restart := d > 5*time.Hour && d-step <= 5*time.Hour
		if restart {
			procStart, good, bad = at.Add(-3*time.Second), 0, 0
		}
		g := float64(40 + rng.IntN(40))
		b := 0.0
		switch {
		case d >= 90*time.Minute && d < 110*time.Minute:
			b = float64(10 + rng.IntN(30))
		case d >= 3*time.Hour && d < 4*time.Hour:
			b = float64(rng.IntN(8))
		case d >= 2*time.Hour && rng.IntN(3) == 0:
			b = float64(rng.IntN(3))
		}
		badBorn = badBorn || b > 0 // the SDK has no 500 series before the first 500
		good += g
		bad += b
		md := pmetric.NewMetrics()
		rm := md.ResourceMetrics().AppendEmpty()
		rm.Resource().Attributes().PutStr("service.name", "checkout")
		m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
		m.SetName("http.server.requests")
		sum := m.SetEmptySum()
		sum.SetIsMonotonic(true)
		sum.SetAggregationTemporality(temporality)
		put := func(code string, cum, inc float64) {
			dp := sum.DataPoints().AppendEmpty()
			dp.Attributes().PutStr("http.response.status_code", code)
			dp.SetTimestamp(pcommon.NewTimestampFromTime(at))
			if temporality == pmetric.AggregationTemporalityDelta {
				dp.SetStartTimestamp(pcommon.NewTimestampFromTime(at.Add(-step)))
				dp.SetDoubleValue(inc)
				return
			}
			dp.SetStartTimestamp(pcommon.NewTimestampFromTime(procStart))
			dp.SetDoubleValue(cum)
		}
		put("200", good, g)
		if badBorn {
			put("500", bad, b)
		}
		r.exports = append(r.exports, replayExport{at: at, md: md})
		// A cumulative series seen first by the processor is a baseline;
		// everything after it is an increment. The first export
		// happens after t0, so all its series started before the
		// processor watched.
		if temporality == pmetric.AggregationTemporalityDelta || len(r.exports) > 1 {
			r.incs = append(r.incs, replayIncrement{at: at, good: g, bad: b})
		}
	}
	return r
}

func (r replay) truth(now time.Time, w time.Duration) (good, total float64) {
	for _, inc := range r.incs {
		if inc.at.After(now.Add(-w)) && !inc.at.After(now) {
			good += inc.good
			total += inc.good + inc.bad
		}
	}
	return good, total
}

// readKind is where inside a slot a window is read.
type readKind struct {
	name   string
	offset time.Duration // from the slot boundary
}

var readKinds = []readKind{
	{"boundary", 0},                  // whole minutes: rules, panels, emission ticks
	{"1s before", -time.Second},      // where the old test read
	{"mid-slot", 30 * time.Second},   // half a slot in
	{"boundary+1s", time.Second},     // just after the data of the boundary
	{"3/4 slot", 45*time.Second + 1}, // late in the slot
}

// windowErrors are the largest differences between the engine and the
// truth per read kind and window.
type windowErrors struct {
	sli  map[string]map[string]float64 // kind -> window -> max |ΔSLI|
	burn map[string]map[string]float64 // kind -> window -> max |ΔBR|/BR where BR ≥ 1
	n    int
}

func (we *windowErrors) note(kind, window string, gotSLI, wantSLI, target float64) {
	if we.sli == nil {
		we.sli, we.burn = map[string]map[string]float64{}, map[string]map[string]float64{}
	}
	if we.sli[kind] == nil {
		we.sli[kind], we.burn[kind] = map[string]float64{}, map[string]float64{}
	}
	we.sli[kind][window] = max(we.sli[kind][window], math.Abs(gotSLI-wantSLI))
	wantBR := (1 - wantSLI) / (1 - target)
	if wantBR >= 1 {
		we.burn[kind][window] = max(we.burn[kind][window], math.Abs((1-gotSLI)/(1-target)-wantBR)/wantBR)
	}
	we.n++
}

func (we *windowErrors) String() string {
	var b strings.Builder
	kinds := make([]string, 0, len(readKinds))
	for _, k := range readKinds {
		kinds = append(kinds, k.name)
	}
	for _, k := range kinds {
		windows := make([]string, 0, len(we.sli[k]))
		for w := range we.sli[k] {
			windows = append(windows, w)
		}
		slices.SortFunc(windows, func(a, b string) int {
			da, _ := parseDuration(a)
			db, _ := parseDuration(b)
			if da != db {
				return int(da - db)
			}
			return strings.Compare(a, b)
		})
		fmt.Fprintf(&b, "\n  %-12s", k)
		for _, w := range windows {
			fmt.Fprintf(&b, " %s: SLI %.5f BR %4.1f%% |", w, we.sli[k][w], 100*we.burn[k][w])
		}
	}
	return b.String()
}

// measureWindowErrors replays r and reads every window of the SLO at every
// read kind of every minute, comparing with the exact events of
// (T-w, T].
func measureWindowErrors(t *testing.T, r replay, hours int) *windowErrors {
	cfg := createDefaultConfig().(*Config)
	cfg.Windows = []Duration{Duration(5 * time.Minute), Duration(30 * time.Minute), Duration(time.Hour), Duration(2 * time.Hour)}
	cfg.Alerting.Rules = []AlertRule{{Severity: "page", Factor: 14.4, LongWindow: Duration(time.Hour), ShortWindow: Duration(5 * time.Minute)}}
	cfg.SLOs = []SLOConfig{{
		Name: "availability", Objective: ObjectiveConfig{Target: 0.99},
		TimeWindow: TimeWindowConfig{Duration: "2h"}, // short, so the budget window's edge moves through the data
		Indicator: IndicatorConfig{Ratio: &RatioConfig{
			Total: &MetricSelector{Metric: "http.server.requests"},
			Bad:   &MetricSelector{Metric: "http.server.requests", Attributes: map[string]string{"http.response.status_code": "500"}},
		}},
	}}
	e := mustEvaluator(t, cfg)
	s := e.slos[0]
	var reads []time.Time
	for m := time.Minute; m <= time.Duration(hours)*time.Hour; m += time.Minute {
		for _, k := range readKinds {
			reads = append(reads, t0.Add(m+k.offset))
		}
	}
	slices.SortFunc(reads, time.Time.Compare)
	we := &windowErrors{}
	next := 0
	for _, at := range reads {
		for ; next < len(r.exports) && !r.exports[next].at.After(at); next++ {
			consume(e, r.exports[next].at, r.exports[next].md)
		}
		res, ok := groupResult(t, e, 0, at)
		if !ok {
			continue
		}
		kind := ""
		for _, k := range readKinds {
			if at.Sub(t0)%time.Minute == (k.offset+time.Minute)%time.Minute {
				kind = k.name
			}
		}
		check := func(name string, w time.Duration, got float64, has bool) {
			if at.Sub(t0) < w {
				return // the engine has not watched a whole window yet
			}
			good, total := r.truth(at, w)
			require.Equal(t, total > 0, has, "%s %s at %v", kind, name, at.Sub(t0))
			if total > 0 {
				we.note(kind, name, got, good/total, s.spec.Target)
			}
		}
		for i, w := range s.spec.Windows {
			check(w.Name, w.Length, res.Windows[i].SLI, res.Windows[i].HasEvents)
		}
		budget := "budget " + s.spec.Budget.Name
		if at.Sub(t0)%time.Duration(cfg.BudgetResolution) == 0 {
			budget += "@" + cfg.BudgetResolution.String() // a boundary of the budget window's slots
		}
		check(budget, s.spec.Budget.Length, res.Budget.SLI, res.Budget.HasEvents)
	}
	require.Zero(t, e.DroppedSummary())
	return we
}

// TestWindowErrorReplay measures the largest window error of the engine at
// slot boundaries and inside slots over a replayed 8 h incident, for
// cumulative and delta input: windows are exact at the boundaries of their
// slots. SLO_WINDOW_ERROR_REPORT=1 prints the table.
func TestWindowErrorReplay(t *testing.T) {
	const hours = 8
	for _, temp := range []pmetric.AggregationTemporality{pmetric.AggregationTemporalityCumulative, pmetric.AggregationTemporalityDelta} {
		t.Run(temp.String(), func(t *testing.T) {
			we := measureWindowErrors(t, incidentReplay(hours, temp), hours)
			if os.Getenv("SLO_WINDOW_ERROR_REPORT") != "" {
				t.Logf("%d reads, largest |SLI - truth| and |burn rate - truth| / truth (where truth >= 1):%s", we.n, we)
			}
			for w, d := range we.sli["boundary"] {
				if !strings.HasPrefix(w, "budget") || strings.Contains(w, "@") {
					require.InDelta(t, 0, d, 1e-12, "window %s at slot boundaries", w)
				}
			}
			require.Contains(t, we.sli["boundary"], "budget 2h@15m")
		})
	}
}
