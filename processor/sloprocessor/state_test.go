// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package sloprocessor

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

func TestStateRoundTrip(t *testing.T) {
	cfg := ratioConfig(func(s *SLOConfig) { s.GroupBy = []string{"http.route"} })
	other := validSLO()
	other.Name = "latency"
	cfg.SLOs = append(cfg.SLOs, other)
	e := mustEvaluator(t, cfg)
	consume(e, t0, requests(pmetric.AggregationTemporalityDelta,
		counterPoint{"/a", "200", "shop", -time.Second, 0, 5},
		counterPoint{"/b", "500", "shop", -time.Second, 0, 1}))
	b := e.AppendState(nil)

	restored := mustEvaluator(t, cfg)
	names, skipped, err := restored.RestoreState(b)
	require.NoError(t, err)
	assert.Equal(t, []string{"api", "latency"}, names)
	assert.Empty(t, skipped)
	now := t0.Add(time.Minute)
	assert.ElementsMatch(t, flatten(e.Evaluate(now)), flatten(restored.Evaluate(now)))

	// An SLO whose indicator changed starts afresh; the others restore.
	changed := ratioConfig(func(s *SLOConfig) {
		s.GroupBy = []string{"http.route"}
		s.Indicator.Ratio.Good.Attributes = map[string]string{"code": "204"}
	})
	changed.SLOs = append(changed.SLOs, other)
	fresh := mustEvaluator(t, changed)
	names, skipped, err = fresh.RestoreState(b)
	require.NoError(t, err)
	assert.Equal(t, []string{"latency"}, names)
	assert.Equal(t, []string{"api"}, skipped)
	assert.Equal(t, 0, fresh.Stats().Groups)

	for name, in := range map[string][]byte{"empty": nil, "unknown version": {9}, "truncated": b[:len(b)-2]} {
		_, _, err := mustEvaluator(t, cfg).RestoreState(in)
		assert.Error(t, err, name)
	}
}

var updateState = flag.Bool("update-state", false, "rewrite testdata/state/v1.bin with the current encoder")

// stateScenario feeds an evaluator cumulative series (counter baselines,
// producers), two groups and a calendar budget window.
func stateScenario(t *testing.T) (*Config, func(e *Evaluator, upTo time.Duration)) {
	cfg := ratioConfig(func(s *SLOConfig) { s.GroupBy = []string{"http.route"} })
	week := ratioConfig(func(s *SLOConfig) {
		s.Name = "errors"
		s.TimeWindow = TimeWindowConfig{Duration: "1w", Calendar: &CalendarConfig{TimeZone: "Europe/Berlin"}}
		s.Indicator.Ratio.Good = nil
		s.Indicator.Ratio.Bad = &MetricSelector{Metric: "http.server.requests", Attributes: map[string]string{"code": "500"}}
	}).SLOs[0]
	cfg.SLOs = append(cfg.SLOs, week)
	cum := pmetric.AggregationTemporalityCumulative
	feed := func(e *Evaluator, upTo time.Duration) {
		for d := time.Duration(0); d <= upTo; d += 30 * time.Second {
			n := int64(d / time.Second)
			consume(e, t0.Add(d), requests(cum,
				counterPoint{"/a", "200", "shop", -time.Hour, d, 1000 + 3*n},
				counterPoint{"/a", "500", "shop", -time.Hour, d, 10 + n/30},
				counterPoint{"/b", "200", "shop", -time.Hour, d, 50 + n}))
		}
	}
	return cfg, feed
}

// restoreGolden reads testdata/state/file (rewritten from live first with
// -update-state) into a new evaluator of cfg, which restores the SLOs names.
func restoreGolden(t *testing.T, cfg *Config, live *Evaluator, file string, names ...string) *Evaluator {
	path := filepath.Join("testdata", "state", file)
	if *updateState {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, live.AppendState(nil), 0o600))
	}
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	restored := mustEvaluator(t, cfg)
	got, skipped, err := restored.RestoreState(b)
	require.NoError(t, err)
	assert.Equal(t, names, got)
	assert.Empty(t, skipped)
	return restored
}

// TestStateReadsVersion1 keeps reading state written by an earlier build:
// testdata/state/v1.bin holds the state after 10 minutes of stateScenario.
func TestStateReadsVersion1(t *testing.T) {
	cfg, feed := stateScenario(t)
	live := mustEvaluator(t, cfg)
	feed(live, 10*time.Minute)
	restored := restoreGolden(t, cfg, live, "v1.bin", "api", "errors")
	now := t0.Add(11 * time.Minute)
	assert.ElementsMatch(t, flatten(live.Evaluate(now)), flatten(restored.Evaluate(now)))
	// The restored counter baselines turn the next points into the same
	// increments.
	next := requests(pmetric.AggregationTemporalityCumulative,
		counterPoint{"/a", "200", "shop", -time.Hour, 12 * time.Minute, 1000 + 3*720},
		counterPoint{"/a", "500", "shop", -time.Hour, 12 * time.Minute, 10 + 720/30 + 7})
	consume(live, t0.Add(12*time.Minute), next)
	consume(restored, t0.Add(12*time.Minute), next)
	now = t0.Add(13 * time.Minute)
	assert.ElementsMatch(t, flatten(live.Evaluate(now)), flatten(restored.Evaluate(now)))
	assert.Equal(t, live.Stats(), restored.Stats())
}
