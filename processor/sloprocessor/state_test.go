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
