// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package sloprocessor

import (
	"context"
	"fmt"
	"time"

	"github.com/cespare/xxhash/v2"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.uber.org/zap"

	"github.com/otelcol-sre/otelcol-sre/processor/sloprocessor/internal/counter"
	"github.com/otelcol-sre/otelcol-sre/processor/sloprocessor/internal/sli"
)

// Consume reads the indicator points of md at time now. md is not changed.
func (e *Evaluator) Consume(ctx context.Context, now time.Time, md pmetric.Metrics) {
	nowNs := now.UnixNano()
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		rm := rms.At(i)
		resHash, hashed := uint64(0), false
		sms := rm.ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			sm := sms.At(j)
			ms := sm.Metrics()
			for k := 0; k < ms.Len(); k++ {
				m := ms.At(k)
				roles := e.byMetric[m.Name()]
				if len(roles) == 0 {
					continue
				}
				if !hashed {
					resHash, hashed = mapHash(rm.Resource().Attributes()), true
				}
				e.attrHashes = e.attrHashes[:0]
				for _, r := range roles {
					e.consumeMetric(ctx, nowNs, r, rm, sm, m, resHash)
				}
			}
		}
	}
}

// attrHash returns the attribute hash of point i of the current metric.
func (e *Evaluator) attrHash(i int, attrs pcommon.Map) uint64 {
	if i < len(e.attrHashes) && e.attrHashes[i] != 0 {
		return e.attrHashes[i]
	}
	h := mapHash(attrs)
	for len(e.attrHashes) <= i {
		e.attrHashes = append(e.attrHashes, 0)
	}
	e.attrHashes[i] = h
	return h
}

// point is one decoded indicator point.
type point struct {
	attrs       pcommon.Map
	attrsHash   uint64
	p           counter.Point
	temporality pmetric.AggregationTemporality
}

func (e *Evaluator) consumeMetric(ctx context.Context, now int64, r *role, rm pmetric.ResourceMetrics, sm pmetric.ScopeMetrics, m pmetric.Metric, resHash uint64) {
	tr := r.slo.tracker
	metricHash := xxhash.Sum64String(m.Name())
	saw := func(temporality pmetric.AggregationTemporality, start, ts pcommon.Timestamp) {
		if temporality == pmetric.AggregationTemporalityCumulative {
			tr.SawProducer(now, producerKey(metricHash, resHash, start), int64(ts))
		}
	}
	switch m.Type() {
	case pmetric.MetricTypeSum:
		if r.kind == roleLatency {
			break
		}
		sum := m.Sum()
		dps := sum.DataPoints()
		for i := 0; i < dps.Len(); i++ {
			dp := dps.At(i)
			saw(sum.AggregationTemporality(), dp.StartTimestamp(), dp.Timestamp())
			if !r.sel.matchesAttrs(rm, dp.Attributes()) || (r.sel.cond != nil && !r.sel.matchesCondition(ctx, rm, sm, m, dp)) {
				continue
			}
			v := dp.DoubleValue()
			if dp.ValueType() == pmetric.NumberDataPointValueTypeInt {
				v = float64(dp.IntValue())
			}
			e.observe(now, r, rm, resHash, point{attrs: dp.Attributes(), attrsHash: e.attrHash(i, dp.Attributes()), temporality: sum.AggregationTemporality(),
				p: counter.Point{Start: int64(dp.StartTimestamp()), Time: int64(dp.Timestamp()), Total: v,
					Producer: producerKey(metricHash, resHash, dp.StartTimestamp())}})
		}
		return
	case pmetric.MetricTypeHistogram:
		h := m.Histogram()
		mc := metricContext{ctx: ctx, now: now, r: r, rm: rm, sm: sm, m: m, resHash: resHash, metricHash: metricHash, temporality: h.AggregationTemporality()}
		consumeHistogram(e, mc, h.DataPoints(), explicitGood, func(dp pmetric.HistogramDataPoint, _ float64) string {
			return explicitBoundsText(dp)
		})
		return
	case pmetric.MetricTypeExponentialHistogram:
		h := m.ExponentialHistogram()
		mc := metricContext{ctx: ctx, now: now, r: r, rm: rm, sm: sm, m: m, resHash: resHash, metricHash: metricHash, temporality: h.AggregationTemporality()}
		consumeHistogram(e, mc, h.DataPoints(), exponentialGood, exponentialBoundsText)
		return
	}
	e.Dropped[ReasonUnsupportedType] += int64(dataPointCount(m))
	if !r.warned {
		r.warned = true
		want := "a sum or a histogram"
		if r.kind == roleLatency {
			want = "a histogram or an exponential histogram"
		}
		e.logger.Warn("SLO indicator metric has a type the processor cannot read; its points are dropped",
			zap.String("slo", r.slo.cfg.Name), zap.String("metric", m.Name()),
			zap.String("type", m.Type().String()), zap.String("want", want))
	}
}

// metricContext is the metric a role reads and where it comes from.
type metricContext struct {
	ctx                 context.Context
	now                 int64
	r                   *role
	rm                  pmetric.ResourceMetrics
	sm                  pmetric.ScopeMetrics
	m                   pmetric.Metric
	resHash, metricHash uint64
	temporality         pmetric.AggregationTemporality
}

// histogramPoint is what explicit-bucket and exponential histogram points
// share.
type histogramPoint interface {
	pmetric.HistogramDataPoint | pmetric.ExponentialHistogramDataPoint
	StartTimestamp() pcommon.Timestamp
	Timestamp() pcommon.Timestamp
	Attributes() pcommon.Map
	Count() uint64
}

// pointSlice is a pdata slice of points.
type pointSlice[P any] interface {
	Len() int
	At(int) P
}

// consumeHistogram reads the points of a histogram: their count is total
// events and, for a latency role, good(point, threshold) the good ones;
// bounds names the point's bounds when the threshold is not one.
func consumeHistogram[P histogramPoint, S pointSlice[P]](e *Evaluator, mc metricContext, dps S,
	good func(P, float64, bool) (float64, bool), bounds func(P, float64) string,
) {
	r := mc.r
	thr, unitOK := e.threshold(r, mc.m)
	for i := 0; i < dps.Len(); i++ {
		dp := dps.At(i)
		if mc.temporality == pmetric.AggregationTemporalityCumulative {
			r.slo.tracker.SawProducer(mc.now, producerKey(mc.metricHash, mc.resHash, dp.StartTimestamp()), int64(dp.Timestamp()))
		}
		if !r.sel.matchesAttrs(mc.rm, dp.Attributes()) || (r.sel.cond != nil && !r.sel.matchesCondition(mc.ctx, mc.rm, mc.sm, mc.m, dp)) {
			continue
		}
		pt := point{attrs: dp.Attributes(), attrsHash: e.attrHash(i, dp.Attributes()), temporality: mc.temporality,
			p: counter.Point{Start: int64(dp.StartTimestamp()), Time: int64(dp.Timestamp()), Total: float64(dp.Count()),
				Producer: producerKey(mc.metricHash, mc.resHash, dp.StartTimestamp())}}
		if r.kind == roleLatency {
			if !unitOK {
				e.drop(ReasonUnit)
				continue
			}
			g, ok := good(dp, thr, r.slo.interpolate)
			if !ok {
				e.notOnBound(r, mc.m, bounds(dp, thr))
				continue
			}
			pt.p.Good = g
		}
		e.observe(mc.now, r, mc.rm, mc.resHash, pt)
	}
}

func dataPointCount(m pmetric.Metric) int {
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		return m.Gauge().DataPoints().Len()
	case pmetric.MetricTypeSummary:
		return m.Summary().DataPoints().Len()
	}
	return 0
}

// threshold converts the latency threshold into the histogram's unit.
func (e *Evaluator) threshold(r *role, m pmetric.Metric) (float64, bool) {
	s := r.slo
	if r.kind != roleLatency {
		return 0, true
	}
	unit := s.unit
	if unit == "" {
		unit = m.Unit()
	}
	d, ok := unitDurations[unit]
	if !ok {
		if !s.warnedUnit {
			s.warnedUnit = true
			e.logger.Error(fmt.Sprintf("slos[%d].indicator.latency.unit: metric %s has unit %q, not a time unit — set unit: s, ms, us or ns to say what its values measure",
				s.index, m.Name(), m.Unit()), zap.String("slo", s.cfg.Name))
		}
		return 0, false
	}
	return float64(s.threshold) / float64(d), true
}

func (e *Evaluator) notOnBound(r *role, m pmetric.Metric, bounds string) {
	e.drop(ReasonThresholdNotBound)
	s := r.slo
	if s.warnedBound {
		return
	}
	s.warnedBound = true
	unit := s.unit
	if unit == "" {
		unit = m.Unit()
	}
	e.logger.Error(fmt.Sprintf("slos[%d].indicator.latency.threshold: %v is not a bucket bound of %s (bounds in %s: %s) — set the threshold to a bound or set interpolate: true (approximate)",
		s.index, s.threshold, m.Name(), unit, bounds), zap.String("slo", s.cfg.Name))
}

func (e *Evaluator) observe(now int64, r *role, rm pmetric.ResourceMetrics, resHash uint64, pt point) {
	s := r.slo
	key := mix64(r.id ^ resHash ^ mix64(pt.attrsHash))
	var inc counter.Increment
	var o counter.Outcome
	switch pt.temporality {
	case pmetric.AggregationTemporalityCumulative:
		inc, o = s.tracker.Cumulative(now, key, pt.p)
	case pmetric.AggregationTemporalityDelta:
		inc, o = s.tracker.Delta(now, key, pt.p)
	default:
		o = counter.Invalid
	}
	switch o {
	case counter.Counted:
	case counter.Baseline:
		e.Counted++
		return
	default:
		e.drop(counterReasons[o])
		return
	}
	if inc.Total == 0 && inc.Good == 0 {
		e.Counted++
		return
	}
	var good, total float64
	switch r.kind {
	case roleLatency:
		good, total = inc.Good, inc.Total
	case roleTotal:
		total = inc.Total
		if s.cfg.Indicator.Ratio.Bad != nil {
			good = inc.Total // good = total - bad
		}
	case roleGood:
		good = inc.Total
	case roleBad:
		good = -inc.Total
	}
	res := rm.Resource().Attributes()
	gk := groupKey(s.cfg.GroupBy, pt.attrs, res)
	g, ok := s.groups[gk]
	if !ok {
		if len(s.groups) >= e.cfg.MaxGroups {
			e.drop(ReasonGroupLimit)
			return
		}
		g = &groupState{g: sli.NewGroup(&s.spec, now), values: groupValues(s.cfg.GroupBy, pt.attrs, res)}
		s.groups[gk] = g
	}
	switch g.g.Add(now, pt.p.Time, good, total) {
	case sli.TooOld:
		e.drop(ReasonTooOld)
	case sli.Future:
		e.drop(ReasonFuture)
	default:
		e.Counted++
	}
}
