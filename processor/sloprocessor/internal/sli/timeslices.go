// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package sli

import (
	"fmt"
	"slices"
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
// enough for the longest window and the budget window, with a mark per slot
// (bad or not) kept current as events arrive and running counts of bad
// slots per window beside its running sums: an evaluation costs what an
// Occurrences one does, whatever the number of slices.

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
	// The windows, then the budget window (a calendar one: its longest).
	s.fineLens = append(slices.Clone(s.sliceLens), s.budgetLen)
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

// markSlices makes r a Timeslices ring: slots whose good/total is under
// target are marked bad.
func (r *ring) markSlices(target float64) {
	r.target = target
	r.marks = make([]uint8, len(r.slots))
	r.bad = make([]int64, len(r.lens))
}

// mark is 1 for a slot with events whose good/total is under the target:
// a bad slice. A slot without events is a good slice.
func (r *ring) mark(p pair) uint8 {
	if p.total > eventsEpsilon && clampCount(p.good, p.total)/p.total < r.target {
		return 1
	}
	return 0
}

// remark updates the mark of slot x after events were added to it, and the
// bad counts of the windows holding it.
func (r *ring) remark(x int64) {
	m := r.mark(r.slots[r.idx(x)])
	d := int64(m) - int64(r.marks[r.idx(x)])
	if d == 0 {
		return
	}
	r.marks[r.idx(x)] = m
	for i, k := range r.lens {
		if x > r.head-k {
			r.bad[i] += d
		}
	}
	if r.fromSet && x >= r.from {
		r.fromBad += d
	}
}

// badRange counts the bad slots [from, to] held by the ring.
func (r *ring) badRange(from, to int64) int64 {
	var n int64
	for x := max(from, r.oldest()); x <= min(to, r.head); x++ {
		n += int64(r.marks[r.idx(x)])
	}
	return n
}

// badAt counts the bad slots of window i ending with slotOf(now), as at
// sums its events.
func (r *ring) badAt(i int, now int64) int64 {
	out, in := r.pastClock(r.slotOf(now), r.lens[i])
	return r.bad[i] - r.badRange(out[0], out[1]) + r.badRange(in[0], in[1])
}

// fromBadAt counts the bad slots of the calendar window (from, slotOf(now)].
func (r *ring) fromBadAt(now int64) int64 {
	c := r.slotOf(now)
	n := r.fromBad
	if c < r.head {
		n -= r.badRange(max(c+1, r.from), r.head)
	}
	return n
}

// sliceResult turns counted slices, the bad ones among them and their
// events into a window result: Good and Total are slices.
func (s *Spec) sliceResult(slices, bad int64, events, cov float64) WindowResult {
	w := WindowResult{Coverage: cov, Events: events}
	if events <= eventsEpsilon || slices <= 0 {
		return w
	}
	w.HasEvents = true
	w.Total = float64(slices)
	w.Good = float64(slices - bad)
	w.SLI = w.Good / w.Total
	w.BurnRate = (1 - w.SLI) / (1 - s.Target)
	return w
}

// evaluateSlices fills the windows and the budget of a Timeslices SLO at
// now: the complete slices of each window since the processor began
// watching, read at the last slice boundary B, where the ring's sums are
// exact.
func (g *Group) evaluateSlices(now, since int64, r *Result) {
	s := g.spec
	res := int64(s.Slice)
	b := floorDiv(now, res) * res
	last := b/res - 1             // the newest complete slice: it ends at or before now
	first := floorDiv(since, res) // slices before the processor watched are not counted
	count := func(from int64, events pair, bad int64) (int64, int64, float64) {
		if first > from { // warming up: take out what lies before first
			events.sub(g.fine.sumRange(from, first-1))
			bad -= g.fine.badRange(from, first-1)
			from = first
		}
		return last - from + 1, bad, events.total
	}
	for i, k := range s.sliceLens {
		n, bad, events := count(last-k+1, g.fine.at(i, b), g.fine.badAt(i, b))
		r.Windows[i] = s.sliceResult(n, bad, events, s.WindowCoverage(i, now, since))
	}
	var n, bad, budgetSlices int64
	var events float64
	if s.Budget.Calendar == Rolling {
		budgetSlices = s.budgetLen
		n, bad, events = count(last-s.budgetLen+1, g.fine.at(len(s.sliceLens), b), g.fine.badAt(len(s.sliceLens), b))
	} else {
		start, end := s.budgetPeriod(now)
		budgetSlices = (end - start) / res
		g.fine.setFrom(floorDiv(start, res))
		n, bad, events = count(g.fine.from, g.fine.fromAt(b), g.fine.fromBadAt(b))
	}
	r.Budget = s.sliceResult(n, bad, events, s.BudgetCoverage(now, since))
	r.BudgetRemaining = 0
	if r.Budget.HasEvents {
		r.BudgetRemaining = 1 - float64(bad)/((1-s.Target)*float64(budgetSlices))
	}
}
