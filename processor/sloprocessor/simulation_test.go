// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package sloprocessor

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

func nopTelemetry() component.TelemetrySettings { return componenttest.NewNopTelemetrySettings() }

// t0 is when the processor starts watching in the simulations.
var t0 = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

var testBounds = []float64{1, 2, 5, 10, 25, 50, 100, 250} // ms

// simSeries is one series of a simulated instrumented process: it keeps its
// raw events, so tests know the exact truth, and exports them as cumulative
// or delta histograms.
type simSeries struct {
	attrs    map[string]string
	start    time.Time
	all      []float64 // latencies (ms) since start
	exported int       // how many of all were in the previous export
}

// simProcess exports the histogram http.server.request.duration (unit ms)
// for its series.
type simProcess struct {
	service     string
	temporality pmetric.AggregationTemporality
	exponential bool
	scale       int32
	series      []*simSeries
}

func (p *simProcess) export(at time.Time) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", p.service)
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName("http.server.request.duration")
	m.SetUnit("ms")
	var hist pmetric.HistogramDataPointSlice
	var exp pmetric.ExponentialHistogramDataPointSlice
	if p.exponential {
		e := m.SetEmptyExponentialHistogram()
		e.SetAggregationTemporality(p.temporality)
		exp = e.DataPoints()
	} else {
		h := m.SetEmptyHistogram()
		h.SetAggregationTemporality(p.temporality)
		hist = h.DataPoints()
	}
	for _, s := range p.series {
		events, start := s.all, s.start
		if p.temporality == pmetric.AggregationTemporalityDelta {
			events = s.all[s.exported:]
		}
		s.exported = len(s.all)
		var attrs pcommon.Map
		if p.exponential {
			dp := exp.AppendEmpty()
			fillExponential(dp, events, p.scale)
			dp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
			dp.SetTimestamp(pcommon.NewTimestampFromTime(at))
			attrs = dp.Attributes()
		} else {
			dp := hist.AppendEmpty()
			dp.ExplicitBounds().FromRaw(testBounds)
			counts := make([]uint64, len(testBounds)+1)
			for _, v := range events {
				i := 0
				for i < len(testBounds) && v > testBounds[i] {
					i++
				}
				counts[i]++
			}
			dp.BucketCounts().FromRaw(counts)
			dp.SetCount(uint64(len(events)))
			dp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
			dp.SetTimestamp(pcommon.NewTimestampFromTime(at))
			attrs = dp.Attributes()
		}
		for k, v := range s.attrs {
			attrs.PutStr(k, v)
		}
	}
	return md
}

// fillExponential buckets latencies at a scale: bucket i holds (base^i,
// base^(i+1)].
func fillExponential(dp pmetric.ExponentialHistogramDataPoint, events []float64, scale int32) {
	dp.SetScale(scale)
	dp.SetCount(uint64(len(events)))
	if len(events) == 0 {
		return
	}
	idx := func(v float64) int32 { return int32(math.Ceil(math.Log2(v)*math.Exp2(float64(scale)))) - 1 }
	lo, hi := idx(events[0]), idx(events[0])
	for _, v := range events {
		lo, hi = min(lo, idx(v)), max(hi, idx(v))
	}
	counts := make([]uint64, hi-lo+1)
	for _, v := range events {
		counts[idx(v)-lo]++
	}
	dp.Positive().SetOffset(lo)
	dp.Positive().BucketCounts().FromRaw(counts)
}

// truth is what a test expects: events with the time of the export that
// first reported them.
type truth struct {
	at  []time.Time
	lat []float64
	bad []bool // status >= 500
}

func (tr *truth) add(at time.Time, lat float64, bad bool) {
	tr.at = append(tr.at, at)
	tr.lat = append(tr.lat, lat)
	tr.bad = append(tr.bad, bad)
}

// window returns good and total events whose report time falls into the
// window (now-w, now], good meaning at or under thresholdMs (or, with
// thresholdMs 0, not bad).
func (tr *truth) window(now time.Time, w time.Duration, thresholdMs float64) (good, total float64) {
	for i, at := range tr.at {
		if at.After(now.Add(-w)) && !at.After(now) {
			total++
			if (thresholdMs > 0 && tr.lat[i] <= thresholdMs) || (thresholdMs == 0 && !tr.bad[i]) {
				good++
			}
		}
	}
	return good, total
}

// edge returns the events of the slot of width res holding now-w: the slot a
// window read inside a slot weights in part, which bounds its error.
func (tr *truth) edge(now time.Time, w, res time.Duration) float64 {
	end := now.Add(-w).Truncate(res)
	if !end.Before(now.Add(-w)) {
		return 0 // a boundary: nothing is weighted
	}
	_, n := tr.window(end.Add(res), res, 0)
	return n
}

// latency draws a latency in ms: mostly fast, with a slow tail.
func latency(rng *rand.Rand) float64 {
	if rng.IntN(20) == 0 {
		return 10 + rng.Float64()*200
	}
	return 0.2 + rng.ExpFloat64()*3
}

func mustEvaluator(t testing.TB, cfg *Config) *Evaluator {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	e, err := NewEvaluator(cfg, nopTelemetry(), t0)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// consume feeds md at the clock time of its export.
func consume(e *Evaluator, at time.Time, md pmetric.Metrics) { e.Consume(context.Background(), at, md) }
