// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package sli

import (
	"fmt"
	"time"
)

// Timeslices (OpenSLO budgetingMethod: Timeslices). Time is cut into slices
// of Spec.Slice aligned to the Unix epoch: slice x is (x*Slice, (x+1)*Slice],
// closed at its end like the slots of the Occurrences rings. A slice is good
// when the SLI of its events (good / total) is at least SliceTarget, bad when
// it is below, and a slice without events is good: no request was failed in
// it, and the budget of a window is then a fixed number of slices known in
// advance. A window's SLI is the share of good slices among the slices it
// holds since the processor began watching (since); its error budget is
// (1 - Target) times the number of slices of the whole window.
//
// Only complete slices count: a window of length w read at T holds the
// w/Slice slices that end at or before T, so the slice T is in counts once
// it has ended. At a slice boundary that is exactly (T - w, T]; inside a
// slice it is (B - w, B] for the last boundary B before T. Late points land in the slice of their own timestamp and change its
// verdict at the next evaluation, as long as the ring holds it.
//
// The group keeps one ring of (good, total) pairs at the slice width, long
// enough for the longest window and the budget window; the verdicts are
// taken from it at every evaluation.

// prepareSlices checks a Timeslices spec and sizes its ring.
func (s *Spec) prepareSlices() error {
	if !(s.SliceTarget > 0 && s.SliceTarget <= 1) {
		return fmt.Errorf("time slice target must be in (0,1], got %v", s.SliceTarget)
	}
	s.sliceLens = make([]int64, len(s.Windows))
	var span int64
	for i, w := range s.Windows {
		if w.Length <= 0 || w.Length%s.Slice != 0 {
			return fmt.Errorf("window %q (%v) must be a positive multiple of the time slice %v", w.Name, w.Length, s.Slice)
		}
		s.sliceLens[i] = int64(w.Length / s.Slice)
		span = max(span, s.sliceLens[i])
	}
	switch s.Budget.Calendar {
	case Rolling:
		if s.Budget.Length <= 0 || s.Budget.Length%s.Slice != 0 {
			return fmt.Errorf("budget window %v must be a positive multiple of the time slice %v", s.Budget.Length, s.Slice)
		}
		s.budgetLen = int64(s.Budget.Length / s.Slice)
	case Month, Week:
		if (15*time.Minute)%s.Slice != 0 {
			return fmt.Errorf("calendar windows need a time slice that divides 15m (time zone offsets), got %v", s.Slice)
		}
		s.budgetLen = int64(s.calendarDays() / s.Slice)
	default:
		return fmt.Errorf("unknown calendar %d", s.Budget.Calendar)
	}
	span = max(span, s.budgetLen)
	s.fineLens = []int64{span}
	s.fineSize = span + s.margin(s.Slice)
	s.budgetSize = 0
	return nil
}

// fineRes is the slot width of the group's fine ring: the slice of a
// Timeslices SLO, else the resolution.
func (s *Spec) fineRes() int64 {
	if s.Slice > 0 {
		return int64(s.Slice)
	}
	return int64(s.Resolution)
}

// sliceCount is what a range of slices holds.
type sliceCount struct {
	slices, bad int64
	events      float64
}

// add counts slice p.
func (c *sliceCount) add(p pair, target float64) {
	c.slices++
	if p.total <= eventsEpsilon {
		return // no events: a good slice
	}
	c.events += p.total
	if clampCount(p.good, p.total)/p.total < target {
		c.bad++
	}
}

// sliceResult turns a count of slices into a window result: Good and Total
// are slices, Events the events inside them.
func (s *Spec) sliceResult(c sliceCount, cov float64) WindowResult {
	w := WindowResult{Coverage: cov, Events: c.events}
	if c.events <= eventsEpsilon || c.slices == 0 {
		return w
	}
	w.HasEvents = true
	w.Total = float64(c.slices)
	w.Good = float64(c.slices - c.bad)
	w.SLI = w.Good / w.Total
	w.BurnRate = (1 - w.SLI) / (1 - s.Target)
	return w
}

// evaluateSlices fills the windows and the budget of a Timeslices SLO at
// now: the complete slices of each window since the processor began
// watching.
func (g *Group) evaluateSlices(now, since int64, r *Result) {
	s := g.spec
	res := int64(s.Slice)
	last := floorDiv(now, res) - 1 // the newest complete slice: it ends at or before now
	first := max(floorDiv(since, res), g.fine.oldest())

	// The budget's slices: the last budgetLen, or those of the calendar
	// window so far (its start is a slice boundary).
	budgetFirst, budgetSlices := last-s.budgetLen+1, s.budgetLen
	if s.Budget.Calendar != Rolling {
		start, end := s.budgetPeriod(now)
		budgetFirst, budgetSlices = floorDiv(start, res), (end-start)/res
	}
	span := max(s.fineLens[0], last-budgetFirst+1)
	var c, budget sliceCount
	for j := int64(1); j <= span; j++ {
		x := last - j + 1
		if x >= first {
			p := g.fine.slot(x)
			c.add(p, s.SliceTarget)
			if x >= budgetFirst {
				budget.add(p, s.SliceTarget)
			}
		}
		for i, k := range s.sliceLens {
			if k == j {
				r.Windows[i] = s.sliceResult(c, s.WindowCoverage(i, now, since))
			}
		}
	}
	r.Budget = s.sliceResult(budget, s.BudgetCoverage(now, since))
	r.BudgetRemaining = 0
	if r.Budget.HasEvents {
		r.BudgetRemaining = 1 - float64(budget.bad)/((1-s.Target)*float64(budgetSlices))
	}
}
