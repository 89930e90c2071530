// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package sli

import "math"

// Outcome tells what Add did with a point.
type Outcome int

const (
	// Accepted means the events landed in the slot of their timestamp.
	Accepted Outcome = iota
	// TooOld means the timestamp is older than every window the group keeps.
	TooOld
	// Future means the timestamp is further ahead of the clock than the
	// allowed skew.
	Future
)

// eventsEpsilon is the count under which a window is treated as empty.
// Counts are sums of increments; fractional increments can leave rounding
// residue after they leave a window.
const eventsEpsilon = 1e-9

// Group is the state of one SLO group (one combination of group_by values):
// a fine ring for the SLI and burn rate windows, a coarse ring for the budget
// window and cumulative event counts.
type Group struct {
	spec   *Spec
	fine   ring
	coarse ring
	// Cumulative events accepted since the group was created at Created.
	good, total float64
	// Created is when the group was created (Unix ns): the start time of
	// its cumulative event counts.
	Created int64
}

// NewGroup returns an empty group created at now. spec must have been
// prepared.
func NewGroup(spec *Spec, now int64) *Group {
	g := &Group{
		spec:    spec,
		Created: now,
		fine:    newRing(spec.fineRes(), spec.fineSize, spec.fineLens),
		coarse:  newRing(int64(spec.BudgetResolution), spec.budgetSize, budgetLens(spec)),
	}
	if spec.Slice > 0 {
		g.fine.markSlices(spec.SliceTarget)
	}
	return g
}

func budgetLens(spec *Spec) []int64 {
	if spec.Budget.Calendar == Rolling && spec.Slice == 0 {
		return []int64{spec.budgetLen}
	}
	return nil
}

// Add places good and total events at time t (Unix ns), evaluated at now.
// good may be negative when an indicator counts bad events (good = total -
// bad): sums over windows are linear, so window sums stay exact.
func (g *Group) Add(now, t int64, good, total float64) Outcome {
	if t > now+int64(g.spec.MaxFutureSkew) {
		return Future
	}
	// The rings end at the clock, or at a newer point within the skew.
	g.fine.advance(g.fine.slotOf(now))
	g.coarse.advance(g.coarse.slotOf(now))
	p := pair{good: good, total: total}
	okFine := g.fine.add(g.fine.slotOf(t), p)
	okCoarse := g.coarse.add(g.coarse.slotOf(t), p)
	if !okFine && !okCoarse {
		return TooOld
	}
	g.good += good
	g.total += total
	return Accepted
}

// WindowResult is the state of one window at evaluation time.
type WindowResult struct {
	// Good and Total are events, or for a Timeslices SLO slices.
	Good, Total float64
	// Events are the events in the window (Total for Occurrences).
	Events float64
	// HasEvents is false when the window holds no events: SLI, BurnRate
	// and (for the budget) Remaining are then meaningless and not emitted.
	HasEvents bool
	SLI       float64
	BurnRate  float64
	// Coverage is the fraction of the window the processor has observed.
	Coverage float64
}

// Result is a group's state at evaluation time.
type Result struct {
	Windows []WindowResult // in Spec.Windows order
	Budget  WindowResult
	// BudgetRemaining is 1 - bad/((1-target)*total) over the budget
	// window; it goes negative once the budget is overspent.
	BudgetRemaining float64
	// Alerts holds per severity (Spec.Severities order) whether any of its
	// rules fires.
	Alerts []bool
	// Good and Bad are the cumulative events since the group was created.
	Good, Bad float64
}

// Evaluate advances the group's rings to now and fills r. since is the time
// from which the processor has observed the SLO's data (for coverage).
func (g *Group) Evaluate(now, since int64, r *Result) {
	s := g.spec
	g.fine.advance(g.fine.slotOf(now))
	g.coarse.advance(g.coarse.slotOf(now))

	if cap(r.Windows) < len(s.Windows) {
		r.Windows = make([]WindowResult, len(s.Windows))
	}
	r.Windows = r.Windows[:len(s.Windows)]
	if s.Slice > 0 {
		g.evaluateSlices(now, since, r)
	} else {
		g.evaluateEvents(now, since, r)
	}

	if cap(r.Alerts) < len(s.severities) {
		r.Alerts = make([]bool, len(s.severities))
	}
	r.Alerts = r.Alerts[:len(s.severities)]
	clear(r.Alerts)
	for i, rule := range s.Rules {
		long, short := r.Windows[rule.Long], r.Windows[rule.Short]
		if long.HasEvents && short.HasEvents && long.Events >= s.MinEvents &&
			long.BurnRate >= rule.Factor && short.BurnRate >= rule.Factor {
			r.Alerts[s.ruleSev[i]] = true
		}
	}
	r.Good = clampCount(g.good, g.total)
	r.Bad = g.total - r.Good
}

// evaluateEvents fills the windows and the budget of an Occurrences SLO at
// now.
func (g *Group) evaluateEvents(now, since int64, r *Result) {
	s := g.spec
	for i := range s.Windows {
		r.Windows[i] = s.result(g.fine.at(i, now), s.WindowCoverage(i, now, since))
	}
	if s.Budget.Calendar == Rolling {
		r.Budget = s.result(g.coarse.at(0, now), s.BudgetCoverage(now, since))
	} else {
		// The slot (start, start+res] is the first of the calendar window.
		g.coarse.setFrom(floorDiv(s.budgetStart(now), g.coarse.res))
		r.Budget = s.result(g.coarse.fromAt(now), s.BudgetCoverage(now, since))
	}
	r.BudgetRemaining = 0
	if r.Budget.HasEvents {
		bad := r.Budget.Total - r.Budget.Good
		r.BudgetRemaining = 1 - bad/((1-s.Target)*r.Budget.Total)
	}
}

// result turns summed events into an SLI and burn rate.
func (s *Spec) result(p pair, cov float64) WindowResult {
	w := WindowResult{Coverage: cov}
	if p.total <= eventsEpsilon {
		return w
	}
	w.HasEvents = true
	w.Total = p.total
	w.Events = p.total
	w.Good = clampCount(p.good, p.total)
	w.SLI = w.Good / w.Total
	w.BurnRate = (1 - w.SLI) / (1 - s.Target)
	return w
}

// clampCount keeps good within [0, total]: with a bad-events indicator good is
// total - bad, which inconsistent inputs could push outside.
func clampCount(good, total float64) float64 {
	return math.Min(math.Max(good, 0), total)
}

// WindowCoverage is the share of window i that the processor observed
// when it has seen data since the time since.
func (s *Spec) WindowCoverage(i int, now, since int64) float64 {
	return coverage(now-since, int64(s.Windows[i].Length))
}

// BudgetCoverage is the share of the budget window observed.
func (s *Spec) BudgetCoverage(now, since int64) float64 {
	if s.Budget.Calendar == Rolling {
		return coverage(now-since, int64(s.Budget.Length))
	}
	start := s.budgetStart(now)
	return coverage(now-max(since, start), now-start)
}

func coverage(covered, length int64) float64 {
	if length <= 0 {
		return 1
	}
	return math.Min(math.Max(float64(covered), 0)/float64(length), 1)
}

// Empty reports whether the group holds no events in any window, nor in a
// slot a window weights in part, so it can be forgotten.
func (g *Group) Empty() bool {
	if !g.fine.edgeEmpty() || !g.coarse.edgeEmpty() {
		return false
	}
	for _, p := range g.fine.sums {
		if p.total > eventsEpsilon {
			return false
		}
	}
	for _, p := range g.coarse.sums {
		if p.total > eventsEpsilon {
			return false
		}
	}
	return !g.coarse.fromSet || g.coarse.fromSum.total <= eventsEpsilon
}
