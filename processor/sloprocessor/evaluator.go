// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package sloprocessor

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.uber.org/zap"

	"github.com/otelcol-sre/otelcol-sre/processor/sloprocessor/internal/counter"
	"github.com/otelcol-sre/otelcol-sre/processor/sloprocessor/internal/sli"
)

// Reason is why a data point of an SLO indicator was not counted.
type Reason int

// Reasons for dropped points, reported as the reason attribute of
// otelcol_processor_slo_points_dropped.
const (
	ReasonDuplicate Reason = iota
	ReasonOutOfOrder
	ReasonInvalid
	ReasonSeriesLimit
	ReasonGroupLimit
	ReasonTooOld
	ReasonFuture
	ReasonThresholdNotBound
	ReasonUnit
	ReasonUnsupportedType
	numReasons
)

var reasonNames = [numReasons]string{
	"duplicate", "out_of_order", "invalid", "series_limit", "group_limit", "too_old", "future",
	"threshold_not_bound", "unit", "unsupported_type",
}

func (r Reason) String() string { return reasonNames[r] }

type roleKind int

const (
	roleLatency roleKind = iota // histogram: good under threshold, total count
	roleTotal                   // ratio total
	roleGood                    // ratio good
	roleBad                     // ratio bad
)

// role is one way an SLO reads one metric.
type role struct {
	slo  *sloState
	kind roleKind
	sel  *selector
	id   uint64 // mixed into series keys: one counter state per role and series
	// warned is set once the role has logged that a metric has the wrong type.
	warned bool
}

type groupState struct {
	g      *sli.Group
	values []string // group_by values
}

type sloState struct {
	index   int
	cfg     *SLOConfig
	spec    sli.Spec
	tracker *counter.Tracker
	groups  map[uint64]*groupState
	// latency indicator
	threshold   time.Duration
	unit        string
	interpolate bool
	warnedBound bool
	warnedUnit  bool
	result      sli.Result // reused across evaluations
}

// Evaluator is the processor's engine, shared with cmd/slo-backtest: it
// reads SLO indicator data points from metrics and builds the SLO metrics.
// It is not safe for concurrent use.
type Evaluator struct {
	cfg      *Config
	logger   *zap.Logger
	slos     []*sloState
	byMetric map[string][]*role
	// Dropped counts points not counted per reason; Counted counts the
	// others. Both only grow.
	Dropped [numReasons]int64
	Counted int64
	// attrHashes caches the attribute hash of each point of the metric
	// being read, shared by the roles reading it; 0 means not computed.
	attrHashes []uint64
}

// NewEvaluator builds an evaluator for a validated configuration. since is
// the time from which it could have seen data: the first point of a series
// that started earlier is a baseline.
func NewEvaluator(cfg *Config, set component.TelemetrySettings, since time.Time) (*Evaluator, error) {
	e := &Evaluator{cfg: cfg, logger: set.Logger, byMetric: map[string][]*role{}}
	for i := range cfg.SLOs {
		s, err := e.newSLO(i, set, since.UnixNano())
		if err != nil {
			return nil, fmt.Errorf("slos[%d] (%s): %w", i, cfg.SLOs[i].Name, err)
		}
		e.slos = append(e.slos, s)
	}
	return e, nil
}

func initialValue(s string) counter.InitialValue {
	switch s {
	case "keep":
		return counter.Keep
	case "drop":
		return counter.Drop
	}
	return counter.Auto
}

func (e *Evaluator) newSLO(i int, set component.TelemetrySettings, since int64) (*sloState, error) {
	cfg := e.cfg
	sc := &cfg.SLOs[i]
	target, err := sc.Objective.target()
	if err != nil {
		return nil, err
	}
	bw, err := sc.TimeWindow.window(time.Duration(cfg.BudgetResolution))
	if err != nil {
		return nil, err
	}
	s := &sloState{
		index:  i,
		cfg:    sc,
		groups: map[uint64]*groupState{},
		tracker: counter.New(counter.Config{
			Initial: initialValue(cfg.InitialValue), StaleAfter: cfg.StaleAfter, MaxSeries: cfg.MaxSeries,
		}, since),
		spec: sli.Spec{
			Target:           target,
			Resolution:       time.Duration(cfg.Resolution),
			BudgetResolution: time.Duration(cfg.BudgetResolution),
			Budget:           sli.BudgetWindow{Name: bw.name, Length: bw.length, Location: bw.location},
			MinEvents:        cfg.Alerting.MinEvents,
			MaxFutureSkew:    cfg.MaxFutureSkew,
		},
	}
	switch bw.calendar {
	case "month":
		s.spec.Budget.Calendar = sli.Month
	case "week":
		s.spec.Budget.Calendar = sli.Week
	}
	for _, w := range cfg.Windows {
		s.spec.Windows = append(s.spec.Windows, sli.Window{Name: w.String(), Length: time.Duration(w)})
	}
	windowIndex := func(d Duration) int {
		for i, w := range cfg.Windows {
			if w == d {
				return i
			}
		}
		return -1
	}
	for _, r := range cfg.Alerting.Rules {
		s.spec.Rules = append(s.spec.Rules, sli.Rule{
			Severity: r.Severity, Factor: r.Factor,
			Long: windowIndex(r.LongWindow), Short: windowIndex(r.ShortWindow),
		})
	}
	if err := s.spec.Prepare(); err != nil {
		return nil, err
	}
	addRole := func(kind roleKind, m *MetricSelector) error {
		sel, err := compileSelector(m, set)
		if err != nil {
			return err
		}
		r := &role{slo: s, kind: kind, sel: sel, id: mix64(uint64(i)<<8 | uint64(kind))}
		e.byMetric[m.Metric] = append(e.byMetric[m.Metric], r)
		return nil
	}
	ind := sc.Indicator
	if ind.Latency != nil {
		s.threshold, s.unit, s.interpolate = ind.Latency.Threshold, ind.Latency.Unit, ind.Latency.Interpolate
		return s, addRole(roleLatency, &ind.Latency.MetricSelector)
	}
	if err := addRole(roleTotal, ind.Ratio.Total); err != nil {
		return nil, err
	}
	if ind.Ratio.Good != nil {
		return s, addRole(roleGood, ind.Ratio.Good)
	}
	return s, addRole(roleBad, ind.Ratio.Bad)
}

func (e *Evaluator) drop(r Reason) { e.Dropped[r]++ }

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

// producerKey identifies the exporter of a cumulative series: its resource,
// metric and start time (see counter.Point.Producer).
func producerKey(metricHash, resHash uint64, start pcommon.Timestamp) uint64 {
	return mix64(metricHash ^ mix64(resHash^mix64(uint64(start)+1)))
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
		dps := h.DataPoints()
		thr, unitOK := e.threshold(r, m)
		for i := 0; i < dps.Len(); i++ {
			dp := dps.At(i)
			saw(h.AggregationTemporality(), dp.StartTimestamp(), dp.Timestamp())
			if !r.sel.matchesAttrs(rm, dp.Attributes()) || (r.sel.cond != nil && !r.sel.matchesCondition(ctx, rm, sm, m, dp)) {
				continue
			}
			pt := point{attrs: dp.Attributes(), attrsHash: e.attrHash(i, dp.Attributes()), temporality: h.AggregationTemporality(),
				p: counter.Point{Start: int64(dp.StartTimestamp()), Time: int64(dp.Timestamp()), Total: float64(dp.Count()),
					Producer: producerKey(metricHash, resHash, dp.StartTimestamp())}}
			if r.kind == roleLatency {
				if !unitOK {
					e.drop(ReasonUnit)
					continue
				}
				good, ok := explicitGood(dp, thr, r.slo.interpolate)
				if !ok {
					e.notOnBound(r, m, explicitBoundsText(dp))
					continue
				}
				pt.p.Good = good
			}
			e.observe(now, r, rm, resHash, pt)
		}
		return
	case pmetric.MetricTypeExponentialHistogram:
		h := m.ExponentialHistogram()
		dps := h.DataPoints()
		thr, unitOK := e.threshold(r, m)
		for i := 0; i < dps.Len(); i++ {
			dp := dps.At(i)
			saw(h.AggregationTemporality(), dp.StartTimestamp(), dp.Timestamp())
			if !r.sel.matchesAttrs(rm, dp.Attributes()) || (r.sel.cond != nil && !r.sel.matchesCondition(ctx, rm, sm, m, dp)) {
				continue
			}
			pt := point{attrs: dp.Attributes(), attrsHash: e.attrHash(i, dp.Attributes()), temporality: h.AggregationTemporality(),
				p: counter.Point{Start: int64(dp.StartTimestamp()), Time: int64(dp.Timestamp()), Total: float64(dp.Count()),
					Producer: producerKey(metricHash, resHash, dp.StartTimestamp())}}
			if r.kind == roleLatency {
				if !unitOK {
					e.drop(ReasonUnit)
					continue
				}
				good, ok := exponentialGood(dp, thr, r.slo.interpolate)
				if !ok {
					e.notOnBound(r, m, exponentialBoundsText(dp, thr))
					continue
				}
				pt.p.Good = good
			}
			e.observe(now, r, rm, resHash, pt)
		}
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

var counterReasons = map[counter.Outcome]Reason{
	counter.Duplicate: ReasonDuplicate, counter.OutOfOrder: ReasonOutOfOrder,
	counter.Invalid: ReasonInvalid, counter.SeriesLimit: ReasonSeriesLimit,
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

// Stats are the sizes the processor reports about itself.
type Stats struct {
	Series, Groups int
	StateBytes     int64
}

// Stats returns the evaluator's current sizes.
func (e *Evaluator) Stats() Stats {
	var st Stats
	for _, s := range e.slos {
		st.Series += s.tracker.Len()
		st.Groups += len(s.groups)
		st.StateBytes += int64(s.tracker.Len())*counter.StateBytes + int64(len(s.groups)*s.spec.SlotBytes())
	}
	return st
}

// DroppedSummary writes the non-zero drop counts as "reason=n, ...".
func (e *Evaluator) DroppedSummary() string {
	var b strings.Builder
	for r, n := range e.Dropped {
		if n == 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s=%d", Reason(r), n)
	}
	return b.String()
}
