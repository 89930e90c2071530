// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package sloprocessor

import (
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// counterPoint is one point of the requests counter in the tests below.
type counterPoint struct {
	route, code, service string
	start, at            time.Duration // relative to t0
	value                int64
}

func requests(temporality pmetric.AggregationTemporality, pts ...counterPoint) pmetric.Metrics {
	md := pmetric.NewMetrics()
	for _, p := range pts {
		rm := md.ResourceMetrics().AppendEmpty()
		rm.Resource().Attributes().PutStr("service.name", p.service)
		m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
		m.SetName("http.server.requests")
		s := m.SetEmptySum()
		s.SetIsMonotonic(true)
		s.SetAggregationTemporality(temporality)
		dp := s.DataPoints().AppendEmpty()
		dp.Attributes().PutStr("http.route", p.route)
		dp.Attributes().PutStr("code", p.code)
		dp.SetStartTimestamp(pcommon.NewTimestampFromTime(t0.Add(p.start)))
		dp.SetTimestamp(pcommon.NewTimestampFromTime(t0.Add(p.at)))
		dp.SetIntValue(p.value)
	}
	return md
}

func ratioConfig(mutate func(*SLOConfig)) *Config {
	cfg := createDefaultConfig().(*Config)
	s := SLOConfig{
		Name: "api", Service: "shop", Objective: ObjectiveConfig{Target: 0.9}, TimeWindow: TimeWindowConfig{Duration: "30d"},
		Indicator: IndicatorConfig{Ratio: &RatioConfig{
			Total: &MetricSelector{Metric: "http.server.requests"},
			Good:  &MetricSelector{Metric: "http.server.requests", Attributes: map[string]string{"code": "200"}},
		}},
	}
	if mutate != nil {
		mutate(&s)
	}
	cfg.SLOs = []SLOConfig{s}
	cfg.Alerting.MinEvents = 1
	return cfg
}

// outPoint is an emitted point flattened for assertions.
type outPoint struct {
	metric string
	attrs  string // k=v pairs sorted, without slo.name
	value  float64
}

func flatten(md pmetric.Metrics) []outPoint {
	var out []outPoint
	ms := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
	for i := 0; i < ms.Len(); i++ {
		m := ms.At(i)
		var dps pmetric.NumberDataPointSlice
		if m.Type() == pmetric.MetricTypeSum {
			dps = m.Sum().DataPoints()
		} else {
			dps = m.Gauge().DataPoints()
		}
		for j := 0; j < dps.Len(); j++ {
			var kv []string
			for k, v := range dps.At(j).Attributes().All() {
				if k != AttrName {
					kv = append(kv, k+"="+v.AsString())
				}
			}
			sort.Strings(kv)
			out = append(out, outPoint{m.Name(), strings.Join(kv, ","), dps.At(j).DoubleValue()})
		}
	}
	return out
}

func find(pts []outPoint, metric, attrs string) (float64, bool) {
	for _, p := range pts {
		if p.metric == metric && p.attrs == attrs {
			return p.value, true
		}
	}
	return 0, false
}

func TestEvaluatorOutputs(t *testing.T) {
	e := mustEvaluator(t, ratioConfig(nil))
	cum := pmetric.AggregationTemporalityCumulative
	// Baseline, then 8 good and 2 bad requests within the minute.
	consume(e, t0.Add(10*time.Second), requests(cum,
		counterPoint{"/a", "200", "shop", -time.Hour, 10 * time.Second, 100},
		counterPoint{"/a", "500", "shop", -time.Hour, 10 * time.Second, 10}))
	consume(e, t0.Add(50*time.Second), requests(cum,
		counterPoint{"/a", "200", "shop", -time.Hour, 50 * time.Second, 108},
		counterPoint{"/a", "500", "shop", -time.Hour, 50 * time.Second, 12}))
	pts := flatten(e.Evaluate(t0.Add(time.Minute)))

	for _, w := range []string{"5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d"} {
		v, ok := find(pts, MetricSLI, "slo.service=shop,slo.window="+w)
		require.True(t, ok, w)
		assert.InDelta(t, 0.8, v, 1e-12, w)
		v, _ = find(pts, MetricBurnRate, "slo.service=shop,slo.window="+w)
		assert.InDelta(t, 2, v, 1e-12, w)
	}
	v, _ := find(pts, MetricObjective, "slo.service=shop")
	assert.Equal(t, 0.9, v)
	v, _ = find(pts, MetricBudgetRemaining, "slo.service=shop,slo.window=30d")
	assert.InDelta(t, -1, v, 1e-12, "2 bad of 10 at a 10% budget: spent twice over")
	v, _ = find(pts, MetricEvents, "slo.outcome=good,slo.service=shop")
	assert.Equal(t, 8.0, v)
	v, _ = find(pts, MetricEvents, "slo.outcome=bad,slo.service=shop")
	assert.Equal(t, 2.0, v)
	v, _ = find(pts, MetricAlertState, "slo.alert.severity=page,slo.service=shop")
	assert.Equal(t, 0.0, v, "burn rate 2 pages nobody")
	v, _ = find(pts, MetricCoverage, "slo.service=shop,slo.window=5m")
	assert.Equal(t, 0.2, v, "1 of 5 minutes observed")
	v, _ = find(pts, MetricCoverage, "slo.service=shop,slo.window=1h")
	assert.InDelta(t, 1.0/60, v, 1e-12)

	// Ten minutes later the 5m window holds no events: no SLI point for
	// it, not 1 and not NaN; the 30m window still has one.
	pts = flatten(e.Evaluate(t0.Add(11 * time.Minute)))
	_, ok := find(pts, MetricSLI, "slo.service=shop,slo.window=5m")
	assert.False(t, ok)
	_, ok = find(pts, MetricBurnRate, "slo.service=shop,slo.window=5m")
	assert.False(t, ok)
	_, ok = find(pts, MetricSLI, "slo.service=shop,slo.window=30m")
	assert.True(t, ok)
	v, _ = find(pts, MetricCoverage, "slo.service=shop,slo.window=5m")
	assert.Equal(t, 1.0, v)
}

func TestEvaluatorNoDataNoSLI(t *testing.T) {
	e := mustEvaluator(t, ratioConfig(nil))
	pts := flatten(e.Evaluate(t0.Add(time.Minute)))
	for _, p := range pts {
		assert.Equal(t, MetricCoverage, p.metric, "only coverage before any event: %+v", p)
	}
	assert.Len(t, pts, 8)
}

func TestEvaluatorAlertFires(t *testing.T) {
	e := mustEvaluator(t, ratioConfig(func(s *SLOConfig) { s.Objective.Target = 0.999 }))
	cum := pmetric.AggregationTemporalityCumulative
	consume(e, t0, requests(cum, counterPoint{"/a", "200", "shop", time.Second, 0, 0}, counterPoint{"/a", "500", "shop", time.Second, 0, 0}))
	consume(e, t0.Add(time.Minute), requests(cum,
		counterPoint{"/a", "200", "shop", 0, time.Minute, 90},
		counterPoint{"/a", "500", "shop", 0, time.Minute, 10}))
	pts := flatten(e.Evaluate(t0.Add(time.Minute)))
	v, _ := find(pts, MetricAlertState, "slo.alert.severity=page,slo.service=shop")
	assert.Equal(t, 1.0, v, "burn rate 100 over 5m and 1h")
	v, _ = find(pts, MetricAlertState, "slo.alert.severity=ticket,slo.service=shop")
	assert.Equal(t, 1.0, v)
}

func TestEvaluatorGroupBy(t *testing.T) {
	cfg := ratioConfig(func(s *SLOConfig) { s.GroupBy = []string{"http.route", "service.name"} })
	cfg.MaxGroups = 2
	e := mustEvaluator(t, cfg)
	del := pmetric.AggregationTemporalityDelta
	consume(e, t0, requests(del,
		counterPoint{"/a", "200", "shop", -time.Second, 0, 3},
		counterPoint{"/a", "500", "shop", -time.Second, 0, 1},
		counterPoint{"/b", "200", "shop", -time.Second, 0, 5},
		counterPoint{"/c", "200", "shop", -time.Second, 0, 5}, // third group: over max_groups
	))
	pts := flatten(e.Evaluate(t0.Add(time.Second)))
	v, ok := find(pts, MetricSLI, "http.route=/a,service.name=shop,slo.service=shop,slo.window=5m")
	require.True(t, ok)
	assert.Equal(t, 0.75, v)
	v, _ = find(pts, MetricSLI, "http.route=/b,service.name=shop,slo.service=shop,slo.window=5m")
	assert.Equal(t, 1.0, v)
	_, ok = find(pts, MetricSLI, "http.route=/c,service.name=shop,slo.service=shop,slo.window=5m")
	assert.False(t, ok)
	assert.Equal(t, int64(2), e.Dropped[ReasonGroupLimit], "the /c total and good points")
	assert.Equal(t, 2, e.Stats().Groups)
}

func TestEvaluatorMatchers(t *testing.T) {
	e := mustEvaluator(t, ratioConfig(func(s *SLOConfig) {
		s.Indicator.Ratio.Total.ResourceAttributes = map[string]string{"service.name": "shop"}
		s.Indicator.Ratio.Good = nil
		s.Indicator.Ratio.Bad = &MetricSelector{Metric: "http.server.requests", Condition: `attributes["code"] == "500" and resource.attributes["service.name"] == "shop"`}
	}))
	del := pmetric.AggregationTemporalityDelta
	consume(e, t0, requests(del,
		counterPoint{"/a", "200", "shop", -time.Second, 0, 6},
		counterPoint{"/a", "500", "shop", -time.Second, 0, 2},
		counterPoint{"/a", "500", "other", -time.Second, 0, 50}, // other service: neither total nor bad
	))
	pts := flatten(e.Evaluate(t0.Add(time.Second)))
	v, _ := find(pts, MetricSLI, "slo.service=shop,slo.window=5m")
	assert.Equal(t, 0.75, v)
}

func TestMapMatches(t *testing.T) {
	m := pcommon.NewMap()
	m.PutStr("method", "GET")
	m.PutInt("status", 503)
	m.PutBool("ok", false)
	tests := []struct {
		name string
		want map[string]string
		ok   bool
	}{
		{"string equal", map[string]string{"method": "GET"}, true},
		{"string differs", map[string]string{"method": "POST"}, false},
		{"integer attribute written as a string", map[string]string{"status": "503"}, true},
		{"integer differs", map[string]string{"status": "500"}, false},
		{"integer against a non-number", map[string]string{"status": "5xx"}, false},
		{"boolean", map[string]string{"ok": "false"}, true},
		{"missing attribute", map[string]string{"route": "/"}, false},
		{"all of several", map[string]string{"method": "GET", "status": "503"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.ok, mapMatches(m, sortedPairs(tt.want)))
		})
	}
}

func TestEvaluatorDropReasons(t *testing.T) {
	core, logs := observer.New(zap.WarnLevel)
	cfg := groundTruthConfig(15, false)
	cfg.SLOs = cfg.SLOs[:1]
	e, err := NewEvaluator(cfg, nopTelemetry(), t0)
	require.NoError(t, err)
	e.logger = zap.New(core)

	proc := &simProcess{service: "s", temporality: pmetric.AggregationTemporalityDelta,
		series: []*simSeries{{attrs: map[string]string{}, start: t0, all: []float64{1, 12, 30}}}}
	consume(e, t0.Add(10*time.Second), proc.export(t0.Add(10*time.Second)))
	consume(e, t0.Add(10*time.Second), proc.export(t0.Add(20*time.Second)))
	assert.Equal(t, int64(2), e.Dropped[ReasonThresholdNotBound])
	require.Equal(t, 1, logs.Len(), "logged once")
	assert.Contains(t, logs.All()[0].Message,
		"slos[0].indicator.latency.threshold: 15ms is not a bucket bound of http.server.request.duration (bounds in ms: 1, 2, 5, 10, 25, 50, 100, 250) — set the threshold to a bound or set interpolate: true")

	// A histogram without a time unit.
	md := proc.export(t0.Add(30 * time.Second))
	md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).SetUnit("By")
	consume(e, t0.Add(30*time.Second), md)
	assert.Equal(t, int64(1), e.Dropped[ReasonUnit])
	assert.Contains(t, logs.All()[1].Message, `metric http.server.request.duration has unit "By", not a time unit`)

	// A gauge cannot be an indicator.
	g := pmetric.NewMetrics()
	m := g.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName("http.server.request.duration")
	m.SetEmptyGauge().DataPoints().AppendEmpty().SetDoubleValue(1)
	consume(e, t0.Add(30*time.Second), g)
	assert.Equal(t, int64(1), e.Dropped[ReasonUnsupportedType])

	assert.Equal(t, "threshold_not_bound=2, unit=1, unsupported_type=1", e.DroppedSummary())

	// Too far in the future, and too old.
	e = mustEvaluator(t, groundTruthConfig(10, false))
	future := &simProcess{service: "s", temporality: pmetric.AggregationTemporalityDelta,
		series: []*simSeries{{attrs: map[string]string{}, start: t0, all: []float64{1}}}}
	consume(e, t0, future.export(t0.Add(time.Hour)))
	assert.Equal(t, int64(2), e.Dropped[ReasonFuture], "one per SLO")
	old := &simProcess{service: "old", temporality: pmetric.AggregationTemporalityDelta,
		series: []*simSeries{{attrs: map[string]string{}, start: t0.Add(-32 * 24 * time.Hour), all: []float64{1}}}}
	consume(e, t0, old.export(t0.Add(-31*24*time.Hour)))
	assert.Equal(t, int64(2), e.Dropped[ReasonTooOld])
	// The same delta point again is a duplicate.
	old.series[0].exported = 0
	consume(e, t0, old.export(t0.Add(-31*24*time.Hour)))
	assert.Equal(t, int64(2), e.Dropped[ReasonDuplicate])
}

func TestEvaluatorInterpolatedThreshold(t *testing.T) {
	e := mustEvaluator(t, groundTruthConfig(15, true))
	proc := &simProcess{service: "s", temporality: pmetric.AggregationTemporalityDelta,
		series: []*simSeries{{attrs: map[string]string{}, start: t0, all: []float64{1, 12, 30}}}}
	consume(e, t0.Add(10*time.Second), proc.export(t0.Add(10*time.Second)))
	r, ok := groupResult(t, e, 0, t0.Add(time.Minute))
	require.True(t, ok)
	// 1 event at or under 10, one in (10, 25]: a third of it counts.
	assert.InDelta(t, 1+1.0/3, r.Windows[0].Good, 1e-12)
	assert.Equal(t, 3.0, r.Windows[0].Total)
}

// Two replicas of an SLO tier that both hold a group (a service moved between them) write different series:
// the SLO metrics carry the emitting collector's service.name and service.instance.id, and nothing else of
// its resource.
func TestEvaluatorOutputCarriesTheCollectorsIdentity(t *testing.T) {
	cfg := ratioConfig(nil)
	require.NoError(t, cfg.Validate())
	for _, replica := range []string{"otelcol-sre-gateway-slo-0", "otelcol-sre-gateway-slo-1"} {
		set := nopTelemetry()
		set.Resource = pcommon.NewResource()
		set.Resource.Attributes().PutStr("service.name", "otelcol-sre")
		set.Resource.Attributes().PutStr("service.instance.id", replica)
		set.Resource.Attributes().PutStr("service.version", "0.1.0")
		e, err := NewEvaluator(cfg, set, t0)
		require.NoError(t, err)
		md := e.Evaluate(t0.Add(time.Minute))
		require.Equal(t, 1, md.ResourceMetrics().Len())
		assert.Equal(t, map[string]any{"service.name": "otelcol-sre", "service.instance.id": replica},
			md.ResourceMetrics().At(0).Resource().Attributes().AsRaw())
	}
	// Without an identity (slo-backtest) the resource stays empty.
	md := mustEvaluator(t, cfg).Evaluate(t0.Add(time.Minute))
	assert.Equal(t, 0, md.ResourceMetrics().At(0).Resource().Attributes().Len())
}

// eventsPoints returns the slo.events points of outcome as (timestamp, value) pairs in emission order.
func eventsPoints(md pmetric.Metrics, outcome string) [][2]float64 {
	var out [][2]float64
	ms := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
	for i := 0; i < ms.Len(); i++ {
		if ms.At(i).Name() != MetricEvents {
			continue
		}
		dps := ms.At(i).Sum().DataPoints()
		for j := 0; j < dps.Len(); j++ {
			if v, _ := dps.At(j).Attributes().Get(AttrOutcome); v.Str() == outcome {
				out = append(out, [2]float64{float64(dps.At(j).Timestamp().AsTime().Sub(t0)) / 1e9, dps.At(j).DoubleValue()})
			}
		}
	}
	return out
}

// A new group's slo.events begin with a 0 at the group's start, so that increase() in Prometheus counts the
// events of its first emission (a service that moved to this replica); later emissions, and a group restored
// from stored state whose series Prometheus already has, get none.
func TestEvaluatorNewGroupEventsStartAtZero(t *testing.T) {
	cfg := ratioConfig(nil)
	cfg.InitialValue = "keep"
	e := mustEvaluator(t, cfg)
	e.ZeroStartEvents = true
	cum := pmetric.AggregationTemporalityCumulative
	consume(e, t0.Add(10*time.Second), requests(cum,
		counterPoint{"/a", "200", "shop", 0, 10 * time.Second, 8},
		counterPoint{"/a", "500", "shop", 0, 10 * time.Second, 2}))
	md := e.Evaluate(t0.Add(time.Minute))
	assert.Equal(t, [][2]float64{{10, 0}, {60, 8}}, eventsPoints(md, "good"))
	assert.Equal(t, [][2]float64{{10, 0}, {60, 2}}, eventsPoints(md, "bad"))
	assert.Equal(t, [][2]float64{{120, 8}}, eventsPoints(e.Evaluate(t0.Add(2*time.Minute)), "good"), "second emission")

	// An event that arrives after the tick it is emitted for: the 0 goes just before the tick.
	late := mustEvaluator(t, cfg)
	late.ZeroStartEvents = true
	consume(late, t0.Add(time.Minute+time.Second), requests(cum, counterPoint{"/a", "200", "shop", 0, 59 * time.Second, 5}))
	assert.Equal(t, [][2]float64{{59.999, 0}, {60, 5}}, eventsPoints(late.Evaluate(t0.Add(time.Minute)), "good"))

	restored := mustEvaluator(t, cfg)
	restored.ZeroStartEvents = true
	_, _, err := restored.RestoreState(e.AppendState(nil))
	require.NoError(t, err)
	assert.Equal(t, [][2]float64{{180, 8}}, eventsPoints(restored.Evaluate(t0.Add(3*time.Minute)), "good"))
}
