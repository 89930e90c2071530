// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package sloprocessor

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// timeslicesConfig is ratioConfig as a Timeslices SLO: 90% of 1-minute
// slices must have at least 95% good requests.
func timeslicesConfig() *Config {
	return ratioConfig(func(s *SLOConfig) {
		s.BudgetingMethod = Timeslices
		s.Objective.TimeSliceTarget = 0.95
		s.Objective.TimeSliceWindow = Duration(time.Minute)
	})
}

// A Timeslices SLO emits the same metrics as an Occurrences SLO, in slices:
// slo.sli is the share of good slices, slo.burn_rate its burn, the budget is
// counted in slices, slo.events still counts events.
func TestEvaluatorTimeslices(t *testing.T) {
	e := mustEvaluator(t, timeslicesConfig())
	delta := pmetric.AggregationTemporalityDelta
	// Slice (0, 1m]: 90 good, 10 bad — under 95%, bad. Slice (1m, 2m]: all
	// good. Slices (2m, 5m]: no events, good.
	consume(e, t0.Add(30*time.Second), requests(delta,
		counterPoint{"/a", "200", "shop", 0, 30 * time.Second, 90},
		counterPoint{"/a", "500", "shop", 0, 30 * time.Second, 10}))
	consume(e, t0.Add(90*time.Second), requests(delta,
		counterPoint{"/a", "200", "shop", time.Minute, 90 * time.Second, 5}))
	pts := flatten(e.Evaluate(t0.Add(5 * time.Minute)))

	for w, want := range map[string]float64{"5m": 4.0 / 5, "30m": 4.0 / 5, "30d": 4.0 / 5} {
		v, ok := find(pts, MetricSLI, "slo.service=shop,slo.window="+w)
		require.True(t, ok, w)
		assert.InDelta(t, want, v, 1e-12, w)
		burn, ok := find(pts, MetricBurnRate, "slo.service=shop,slo.window="+w)
		require.True(t, ok, w)
		assert.InDelta(t, (1-want)/0.1, burn, 1e-9, w)
	}
	// One bad slice of 30 days × 1440 × 10% = 4320.
	v, ok := find(pts, MetricBudgetRemaining, "slo.service=shop,slo.window=30d")
	require.True(t, ok)
	assert.InDelta(t, 1-1/4320.0, v, 1e-12)
	good, _ := find(pts, MetricEvents, "slo.outcome=good,slo.service=shop")
	bad, _ := find(pts, MetricEvents, "slo.outcome=bad,slo.service=shop")
	assert.Equal(t, [2]float64{95, 10}, [2]float64{good, bad})
}

// feedMinutes gives e 20 minutes of requests, 90 good a minute and in every
// third minute 10 bad (a bad slice).
func feedMinutes(e *Evaluator) {
	delta := pmetric.AggregationTemporalityDelta
	for m := range 20 {
		d := time.Duration(m) * time.Minute
		consume(e, t0.Add(d+30*time.Second), requests(delta,
			counterPoint{"/a", "200", "shop", d, d + 30*time.Second, 90},
			counterPoint{"/a", "500", "shop", d, d + 30*time.Second, int64(m % 3 / 2 * 10)}))
	}
}

// A Timeslices SLO's slices survive a restart in the processor's state, and
// an SLO whose budgeting method or slice changed starts afresh.
func TestStateTimeslices(t *testing.T) {
	cfg := timeslicesConfig()
	e := mustEvaluator(t, cfg)
	feedMinutes(e)
	b := e.AppendState(nil)
	now := t0.Add(20 * time.Minute)
	restored := mustEvaluator(t, cfg)
	names, skipped, err := restored.RestoreState(b)
	require.NoError(t, err)
	assert.Equal(t, []string{"api"}, names)
	assert.Empty(t, skipped)
	want := flatten(e.Evaluate(now))
	assert.ElementsMatch(t, want, flatten(restored.Evaluate(now)))
	v, ok := find(want, MetricSLI, "slo.service=shop,slo.window=30m")
	require.True(t, ok)
	assert.InDelta(t, 14.0/20, v, 1e-12, "m%3 == 2: 10 bad of 100, below 95%")

	for name, c := range map[string]*Config{
		"Occurrences": ratioConfig(nil),
		"a 5m slice": ratioConfig(func(s *SLOConfig) {
			s.BudgetingMethod = Timeslices
			s.Objective.TimeSliceTarget = 0.95
			s.Objective.TimeSliceWindow = Duration(5 * time.Minute)
		}),
	} {
		fresh := mustEvaluator(t, c)
		names, skipped, err := fresh.RestoreState(b)
		require.NoError(t, err, name)
		assert.Empty(t, names, name)
		assert.Equal(t, []string{"api"}, skipped, name)
	}
}

// TestStateReadsTimeslicesVersion1 keeps reading a Timeslices SLO's state as
// this build wrote it: testdata/state/timeslices-v1.bin holds feedMinutes
// (rewrite with -update-state).
func TestStateReadsTimeslicesVersion1(t *testing.T) {
	cfg := timeslicesConfig()
	live := mustEvaluator(t, cfg)
	feedMinutes(live)
	restored := restoreGolden(t, cfg, live, "timeslices-v1.bin", "api")
	now := t0.Add(25 * time.Minute)
	assert.ElementsMatch(t, flatten(live.Evaluate(now)), flatten(restored.Evaluate(now)))
}
