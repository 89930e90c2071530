// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package sloprocessor

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/otelcol-sre/otelcol-sre/processor/sloprocessor/internal/sli"
)

func groundTruthConfig(thresholdMs float64, interpolate bool) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.SLOs = []SLOConfig{
		{
			Name: "latency", Objective: ObjectiveConfig{Target: 0.99}, TimeWindow: TimeWindowConfig{Duration: "30d"},
			Indicator: IndicatorConfig{Latency: &LatencyConfig{
				MetricSelector: MetricSelector{Metric: "http.server.request.duration"},
				Threshold:      time.Duration(thresholdMs * float64(time.Millisecond)),
				Interpolate:    interpolate,
			}},
		},
		{
			Name: "availability", Objective: ObjectiveConfig{Target: 0.99}, TimeWindow: TimeWindowConfig{Duration: "30d"},
			Indicator: IndicatorConfig{Ratio: &RatioConfig{
				Total: &MetricSelector{Metric: "http.server.request.duration"},
				Bad:   &MetricSelector{Metric: "http.server.request.duration", Condition: `attributes["http.response.status_code"] == "503"`},
			}},
		},
	}
	return cfg
}

// groupResult evaluates the single group of SLO i.
func groupResult(t *testing.T, e *Evaluator, i int, now time.Time) (sli.Result, bool) {
	t.Helper()
	s := e.slos[i]
	require.LessOrEqual(t, len(s.groups), 1)
	var r sli.Result
	for _, g := range s.groups {
		g.g.Evaluate(now.UnixNano(), s.tracker.Since(), &r)
		return r, true
	}
	return r, false
}

type scenario struct {
	temporality pmetric.AggregationTemporality
	exponential bool
	// scaleAt returns the exponential histogram's scale at an export.
	scaleAt func(d time.Duration) int32
}

// runScenario simulates one hour of a service: a 503 series born during an
// incident (20m-25m) with the SDK's process start time, a process restart
// at 40m, and a 60 s export gap after 50m. It evaluates every minute and
// checks every window of both SLOs against the events actually reported.
func runScenario(t *testing.T, sc scenario, thresholdMs float64) {
	e := mustEvaluator(t, groundTruthConfig(thresholdMs, false))
	rng := rand.New(rand.NewPCG(1, 2))
	procStart := t0.Add(-time.Hour)
	ok := &simSeries{attrs: map[string]string{"http.route": "/checkout", "http.response.status_code": "200"}, start: procStart}
	unavailable := &simSeries{attrs: map[string]string{"http.route": "/checkout", "http.response.status_code": "503"}, start: procStart}
	proc := &simProcess{service: "checkout", temporality: sc.temporality, exponential: sc.exponential, series: []*simSeries{ok}}
	var tr truth
	pending := map[*simSeries][]float64{} // events since the last export, for the truth
	const step = 10 * time.Second
	firstExport := true
	nextEval := t0.Add(time.Minute)
	nextRead := t0.Add(30 * time.Second)
	for d := -10 * time.Minute; d <= 60*time.Minute; d += step {
		at := t0.Add(d)
		if d == 20*time.Minute {
			proc.series = append(proc.series, unavailable)
		}
		if d == 25*time.Minute {
			proc.series = proc.series[:1]
		}
		if d == 40*time.Minute { // restart: unexported events are lost
			ok.start, ok.all, ok.exported = at, nil, 0
			clear(pending)
		} else {
			for range 5 {
				v := latency(rng)
				ok.all = append(ok.all, v)
				pending[ok] = append(pending[ok], v)
			}
			if d >= 20*time.Minute && d < 25*time.Minute {
				for range 2 {
					v := 200 + rng.Float64()*100
					unavailable.all = append(unavailable.all, v)
					pending[unavailable] = append(pending[unavailable], v)
				}
			}
		}
		if d > 50*time.Minute && d < 51*time.Minute {
			continue // export gap: events pile up until 51m
		}
		if sc.exponential {
			proc.scale = sc.scaleAt(d)
		}
		md := proc.export(at)
		if d >= 0 {
			// Every half minute with the data up to it: whole
			// minutes (emission ticks, rules) exact, mid-slot reads
			// within the bound.
			for nextRead.Before(at) {
				checkWindows(t, e, &tr, nextRead, thresholdMs)
				nextRead = nextRead.Add(30 * time.Second)
			}
			delivered := at.Add(2 * time.Second)
			for !nextEval.After(delivered) {
				e.Evaluate(nextEval)
				nextEval = nextEval.Add(time.Minute)
			}
			consume(e, delivered, md)
			// The first export the processor sees is a baseline for
			// cumulative series that started before it; delta points
			// always count.
			if !firstExport || sc.temporality == pmetric.AggregationTemporalityDelta {
				for s, events := range pending {
					for _, v := range events {
						tr.add(at, v, s == unavailable)
					}
				}
			}
			firstExport = false
		}
		clear(pending)
	}
	checkWindows(t, e, &tr, t0.Add(60*time.Minute+5*time.Second), thresholdMs)
	assert.Zero(t, e.DroppedSummary())
	assert.Equal(t, 2, len(e.slos[0].spec.Severities()))
}

func checkWindows(t *testing.T, e *Evaluator, tr *truth, now time.Time, thresholdMs float64) {
	t.Helper()
	for i, thr := range []float64{thresholdMs, 0} {
		r, ok := groupResult(t, e, i, now)
		if !ok {
			require.Empty(t, tr.at, "events reported but no group at %v", now)
			continue
		}
		for j, w := range e.slos[i].spec.Windows {
			good, total := tr.window(now, w.Length, thr)
			got := r.Windows[j]
			// Exact at a slot boundary; inside a slot the part-weighted
			// oldest slot bounds the error.
			bound := tr.edge(now, w.Length, time.Minute)
			require.InDelta(t, total, got.Total, bound, "%s %s total at %v", e.slos[i].cfg.Name, w.Name, now.Sub(t0))
			require.InDelta(t, good, got.Good, bound, "%s %s good at %v", e.slos[i].cfg.Name, w.Name, now.Sub(t0))
			if bound == 0 {
				require.Equal(t, total > 0, got.HasEvents)
			}
		}
		good, total := tr.window(now, 30*24*time.Hour, thr)
		require.Equal(t, [2]float64{good, total}, [2]float64{r.Budget.Good, r.Budget.Total}, "budget at %v", now.Sub(t0))
	}
}

func TestGroundTruthCumulativeExplicit(t *testing.T) {
	runScenario(t, scenario{temporality: pmetric.AggregationTemporalityCumulative}, 10)
}

func TestGroundTruthDeltaExplicit(t *testing.T) {
	runScenario(t, scenario{temporality: pmetric.AggregationTemporalityDelta}, 10)
}

func TestGroundTruthExponentialScaleChange(t *testing.T) {
	// 8 ms = 2^3 is a bucket bound at every scale >= 0; the SDK
	// downscales from 3 to 1 as the range of values grows.
	runScenario(t, scenario{
		temporality: pmetric.AggregationTemporalityCumulative,
		exponential: true,
		scaleAt: func(d time.Duration) int32 {
			switch {
			case d < 15*time.Minute:
				return 3
			case d < 45*time.Minute:
				return 2
			}
			return 1
		},
	}, 8)
}

func TestGroundTruthExponentialDelta(t *testing.T) {
	runScenario(t, scenario{
		temporality: pmetric.AggregationTemporalityDelta,
		exponential: true,
		scaleAt:     func(time.Duration) int32 { return 4 },
	}, 8)
}
