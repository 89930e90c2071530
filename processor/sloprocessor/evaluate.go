// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package sloprocessor

import (
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/otelcol-sre/otelcol-sre/processor/sloprocessor/internal/metadata"
	"github.com/otelcol-sre/otelcol-sre/processor/sloprocessor/internal/sli"
)

// Names of the metrics and attributes the processor emits: the contract
// deploy's rules and dashboards use (docs/DESIGN.md).
const (
	MetricSLI             = "slo.sli"
	MetricBurnRate        = "slo.burn_rate"
	MetricObjective       = "slo.objective"
	MetricBudgetRemaining = "slo.error_budget.remaining"
	MetricEvents          = "slo.events"
	MetricCoverage        = "slo.window.coverage"
	MetricAlertState      = "slo.alert.state"

	AttrName     = "slo.name"
	AttrService  = "slo.service"
	AttrWindow   = "slo.window"
	AttrSeverity = "slo.alert.severity"
	AttrOutcome  = "slo.outcome"
)

// outputMetrics holds the metrics of one evaluation under construction.
type outputMetrics struct {
	sli, burn, objective, budget, events, coverage, alert pmetric.NumberDataPointSlice
	ts                                                    pcommon.Timestamp
}

func newOutput(now time.Time, resource pcommon.Map) (pmetric.Metrics, *outputMetrics) {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	resource.CopyTo(rm.Resource().Attributes())
	sm := rm.ScopeMetrics().AppendEmpty()
	sm.Scope().SetName(metadata.ScopeName)
	ms := sm.Metrics()
	gauge := func(name, desc, unit string) pmetric.NumberDataPointSlice {
		m := ms.AppendEmpty()
		m.SetName(name)
		m.SetDescription(desc)
		m.SetUnit(unit)
		return m.SetEmptyGauge().DataPoints()
	}
	o := &outputMetrics{ts: pcommon.NewTimestampFromTime(now)}
	o.sli = gauge(MetricSLI, "Good events divided by all events over the window (for a Timeslices SLO: good time slices divided by all).", "1")
	o.burn = gauge(MetricBurnRate, "Rate at which the error budget is spent over the window: (1 - sli) / (1 - objective).", "1")
	o.objective = gauge(MetricObjective, "The SLO's target ratio of good events.", "1")
	o.budget = gauge(MetricBudgetRemaining, "Share of the error budget left over the SLO's time window; negative once overspent.", "1")
	ev := ms.AppendEmpty()
	ev.SetName(MetricEvents)
	ev.SetDescription("Events counted by the SLO since the group started, by outcome.")
	ev.SetUnit("{event}")
	sum := ev.SetEmptySum()
	sum.SetIsMonotonic(true)
	sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	o.events = sum.DataPoints()
	o.coverage = gauge(MetricCoverage, "Share of the window the processor has observed; below 1 while windows warm up.", "1")
	o.alert = gauge(MetricAlertState, "1 while a multi-window multi-burn-rate rule of the severity fires, else 0.", "1")
	return md, o
}

func (o *outputMetrics) point(dps pmetric.NumberDataPointSlice, base pcommon.Map, v float64) pmetric.NumberDataPoint {
	dp := dps.AppendEmpty()
	dp.SetTimestamp(o.ts)
	base.CopyTo(dp.Attributes())
	dp.SetDoubleValue(v)
	return dp
}

// startEvents is the time of the 0 a new group's slo.events begins with, before its first value at ts:
// the group's start, or just before ts for a group whose first event arrived after the tick it is emitted
// for. A backend that computes increases from samples (Prometheus' increase(), AMP's ruler) cannot count
// the first sample of a new series, which holds every event until the first emission: with the 0 in front
// it counts them. This is what keeps the rule-computed SLIs right when a service moves to another replica
// (README, "Rescaling"). Groups restored from storage continue their series and get no 0.
func startEvents(start, ts pcommon.Timestamp) pcommon.Timestamp {
	return min(start, ts-pcommon.Timestamp(time.Millisecond))
}

// Evaluate advances every SLO to now, forgets stale series and empty groups,
// and returns the SLO metrics.
func (e *Evaluator) Evaluate(now time.Time) pmetric.Metrics {
	md, o := newOutput(now, e.emitter)
	nowNs := now.UnixNano()
	for _, s := range e.slos {
		s.tracker.Expire(nowNs)
		base := pcommon.NewMap()
		base.PutStr(AttrName, s.cfg.Name)
		if s.cfg.Service != "" {
			base.PutStr(AttrService, s.cfg.Service)
		}
		since := s.tracker.Since()
		e.coverage(o, s, base, nowNs, since)
		for key, gs := range s.groups {
			r := &s.result
			gs.g.Evaluate(nowNs, since, r)
			attrs := pcommon.NewMap()
			base.CopyTo(attrs)
			for i, name := range s.cfg.GroupBy {
				attrs.PutStr(name, gs.values[i])
			}
			e.emitGroup(o, s, gs, attrs, r)
			if gs.g.Empty() {
				delete(s.groups, key)
			}
		}
	}
	// Consumers see no metric without points.
	ms := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
	ms.RemoveIf(func(m pmetric.Metric) bool {
		if m.Type() == pmetric.MetricTypeSum {
			return m.Sum().DataPoints().Len() == 0
		}
		return m.Gauge().DataPoints().Len() == 0
	})
	return md
}

// coverage emits per SLO how much of each window the processor observed.
func (*Evaluator) coverage(o *outputMetrics, s *sloState, base pcommon.Map, now, since int64) {
	for i, w := range s.spec.Windows {
		o.point(o.coverage, base, s.spec.WindowCoverage(i, now, since)).Attributes().PutStr(AttrWindow, w.Name)
	}
	o.point(o.coverage, base, s.spec.BudgetCoverage(now, since)).Attributes().PutStr(AttrWindow, s.spec.Budget.Name)
}

func (e *Evaluator) emitGroup(o *outputMetrics, s *sloState, gs *groupState, attrs pcommon.Map, r *sli.Result) {
	window := func(name string, w sli.WindowResult) {
		if !w.HasEvents {
			return // no point for a window without events: not 1, not NaN
		}
		o.point(o.sli, attrs, w.SLI).Attributes().PutStr(AttrWindow, name)
		o.point(o.burn, attrs, w.BurnRate).Attributes().PutStr(AttrWindow, name)
	}
	for i, w := range s.spec.Windows {
		window(w.Name, r.Windows[i])
	}
	window(s.spec.Budget.Name, r.Budget)
	o.point(o.objective, attrs, s.spec.Target)
	if r.Budget.HasEvents {
		o.point(o.budget, attrs, r.BudgetRemaining).Attributes().PutStr(AttrWindow, s.spec.Budget.Name)
	}
	start := pcommon.Timestamp(gs.g.Created)
	for _, ev := range []struct {
		outcome string
		v       float64
	}{{"good", r.Good}, {"bad", r.Bad}} {
		if !gs.started && e.ZeroStartEvents {
			zero := o.point(o.events, attrs, 0)
			zero.SetStartTimestamp(start)
			zero.SetTimestamp(startEvents(start, o.ts))
			zero.Attributes().PutStr(AttrOutcome, ev.outcome)
		}
		dp := o.point(o.events, attrs, ev.v)
		dp.SetStartTimestamp(start)
		dp.Attributes().PutStr(AttrOutcome, ev.outcome)
	}
	gs.started = true
	for i, sev := range s.spec.Severities() {
		v := 0.0
		if r.Alerts[i] {
			v = 1
		}
		o.point(o.alert, attrs, v).Attributes().PutStr(AttrSeverity, sev)
	}
}
