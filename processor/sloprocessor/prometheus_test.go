// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package sloprocessor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/otelcol-sre/otelcol-sre/internal/promtest"
)

// promSample is one scraped sample of http_requests_total.
type promSample struct {
	code  string
	start time.Time // process start, for the OTLP side
	at    time.Time
	value float64
}

// scrapeSeries simulates 4 hours of a service scraped every 15 s, one second
// before each quarter minute (so there is data just before every slot
// boundary): steady traffic with ~1% errors, an incident with ~30% errors
// from 1h30 to 1h50, and a process restart (counter reset) at 2h30.
func scrapeSeries(base time.Time) []promSample {
	rng := rand.New(rand.NewPCG(7, 9))
	const step = 15 * time.Second
	start := base.Add(-time.Hour)
	var good, bad float64
	var out []promSample
	for d := step - time.Second; d <= 4*time.Hour; d += step {
		at := base.Add(d)
		if d == 150*time.Minute-time.Second {
			start, good, bad = at.Add(-5*time.Second), 0, 0
		}
		good += float64(40 + rng.IntN(30))
		switch {
		case d >= 90*time.Minute && d < 110*time.Minute:
			bad += float64(15 + rng.IntN(20))
		case rng.IntN(3) == 0:
			bad += float64(rng.IntN(3))
		}
		out = append(out, promSample{"200", start, at, good}, promSample{"500", start, at, bad})
	}
	return out
}

// openMetrics writes the samples as OpenMetrics text for promtest.Start.
func openMetrics(samples []promSample) string {
	var b strings.Builder
	b.WriteString("# TYPE http_requests counter\n")
	for _, code := range []string{"200", "500"} {
		for _, s := range samples {
			if s.code == code {
				b.WriteString(promtest.OpenMetricsSample(fmt.Sprintf("http_requests_total{code=%q}", code), s.value, s.at))
			}
		}
	}
	b.WriteString("# EOF\n")
	return b.String()
}

// promTolerance is the documented agreement between the processor's SLI and
// Sloth-style PromQL over a window w with scrape interval step: Prometheus
// measures the increase between the first and last sample inside the window
// and extrapolates it to the window's edges, while the processor sums the
// exact increments reported inside the window's slots, so the two windows
// differ by up to one scrape interval at each edge. The SLI of those edge
// intervals can differ from the window's by at most maxBadRatio (the largest
// share of bad events in any interval), which bounds the difference.
func promTolerance(w, step time.Duration, maxBadRatio float64) float64 {
	return 2 * float64(step) / float64(w) * maxBadRatio
}

func TestAgainstPrometheus(t *testing.T) {
	base := time.Now().UTC().Truncate(time.Hour).Add(-24 * time.Hour)
	samples := scrapeSeries(base)
	prom := promtest.Start(t, openMetrics(samples))

	cfg := createDefaultConfig().(*Config)
	cfg.SLOs = []SLOConfig{{
		Name: "availability", Objective: ObjectiveConfig{Target: 0.99}, TimeWindow: TimeWindowConfig{Duration: "30d"},
		Indicator: IndicatorConfig{Ratio: &RatioConfig{
			Total: &MetricSelector{Metric: "http_requests_total"},
			Good:  &MetricSelector{Metric: "http_requests_total", Attributes: map[string]string{"code": "200"}},
		}},
	}}
	require.NoError(t, cfg.Validate())
	e, err := NewEvaluator(cfg, nopTelemetry(), base.Add(-time.Minute))
	require.NoError(t, err)

	windows := map[string]time.Duration{"5m": 5 * time.Minute, "30m": 30 * time.Minute, "1h": time.Hour, "2h": 2 * time.Hour}
	const maxBadRatio = 34.0 / (34 + 40) // the incident's worst 15 s
	// Reads at slot boundaries (where rules, panels and the processor's
	// emission evaluate), half a slot in, and 1 ms before a boundary. Inside
	// a slot the processor weights the window's oldest slot by its share,
	// which adds at most that slot's share of the window times the largest
	// bad share.
	reads := []struct {
		kind   string
		offset time.Duration
		extra  func(w time.Duration) float64
	}{
		{"boundary", 0, func(time.Duration) float64 { return 0 }},
		{"mid-slot", 30 * time.Second, func(w time.Duration) float64 { return float64(time.Minute) / float64(w) * maxBadRatio }},
		{"1ms before", -time.Millisecond, func(w time.Duration) float64 { return float64(time.Minute) / float64(w) * maxBadRatio }},
	}
	next := 0
	compared := 0
	worstAbs := map[string]map[string]float64{}
	for k := 1; k <= 24; k++ {
		for _, rd := range reads {
			at := base.Add(time.Duration(k)*10*time.Minute + rd.offset)
			for ; next < len(samples) && !samples[next].at.After(at); next += 2 {
				md := pmetric.NewMetrics()
				m := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
				m.SetName("http_requests_total")
				sum := m.SetEmptySum()
				sum.SetIsMonotonic(true)
				sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
				for _, s := range samples[next : next+2] {
					dp := sum.DataPoints().AppendEmpty()
					dp.Attributes().PutStr("code", s.code)
					dp.SetStartTimestamp(pcommon.NewTimestampFromTime(s.start))
					dp.SetTimestamp(pcommon.NewTimestampFromTime(s.at))
					dp.SetDoubleValue(s.value)
				}
				consume(e, samples[next].at, md)
			}
			r, ok := groupResult(t, e, 0, at)
			require.True(t, ok)
			for i, w := range e.slos[0].spec.Windows {
				length, compare := windows[w.Name]
				if !compare || at.Sub(base) < length {
					continue
				}
				q := fmt.Sprintf(`sum(rate(http_requests_total{code="200"}[%s])) / sum(rate(http_requests_total[%s]))`, w.Name, w.Name)
				want, ok := prom.Scalar(t, q, at)
				require.True(t, ok, q)
				got := r.Windows[i].SLI
				diff := math.Abs(got - want)
				if worstAbs[rd.kind] == nil {
					worstAbs[rd.kind] = map[string]float64{}
				}
				worstAbs[rd.kind][w.Name] = max(worstAbs[rd.kind][w.Name], diff)
				require.LessOrEqual(t, diff, promTolerance(length, 15*time.Second, maxBadRatio)+rd.extra(length),
					"%s %s at +%v: processor %.6f, prometheus %.6f", rd.kind, w.Name, at.Sub(base).Round(time.Second), got, want)
				compared++
			}
		}
	}
	require.Greater(t, compared, 150)
	t.Logf("compared %d window SLIs; largest |processor - prometheus| per read and window: %v", compared, worstAbs)
}
