// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package sli

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type event struct {
	at          time.Duration // point time relative to t0
	good, total float64
}

// windowIndex maps window names of workbookSpec to indexes.
var windowIndex = map[string]int{"5m": 0, "30m": 1, "1h": 2, "2h": 3, "6h": 4, "1d": 5, "3d": 6}

func TestGroupWindows(t *testing.T) {
	tests := []struct {
		name     string
		events   []event
		now      time.Duration // evaluation time relative to t0
		outcomes []Outcome     // expected outcome per event; nil means all accepted
		want     map[string][2]float64
		empty    []string // windows expected without events
	}{
		{
			name:   "events in the current slot count in every window",
			events: []event{{10 * time.Second, 9, 10}},
			now:    30 * time.Second,
			want:   map[string][2]float64{"5m": {9, 10}, "3d": {9, 10}},
		},
		{
			name:   "an event 5 slots back has left the 5m window only",
			events: []event{{0, 1, 1}, {5 * time.Minute, 2, 2}},
			now:    5*time.Minute + 30*time.Second,
			want:   map[string][2]float64{"5m": {2, 2}, "30m": {3, 3}},
		},
		{
			name:   "a window with no events has no SLI",
			events: []event{{0, 1, 2}},
			now:    2 * time.Hour,
			want:   map[string][2]float64{"6h": {1, 2}},
			empty:  []string{"5m", "30m", "1h", "2h"},
		},
		{
			name:   "late data lands in the slot of its own timestamp",
			events: []event{{50 * time.Minute, 5, 5}, {10 * time.Minute, 0, 3}},
			now:    50 * time.Minute,
			want:   map[string][2]float64{"5m": {5, 5}, "30m": {5, 5}, "1h": {5, 8}},
		},
		{
			name:     "data older than the burn rate windows still counts in the budget",
			events:   []event{{80 * time.Hour, 1, 1}, {0, 5, 5}},
			now:      80 * time.Hour,
			outcomes: []Outcome{Accepted, Accepted},
			want:     map[string][2]float64{"3d": {1, 1}},
		},
		{
			name:     "data older than the budget window is dropped",
			events:   []event{{31 * 24 * time.Hour, 1, 1}, {0, 5, 5}},
			now:      31 * 24 * time.Hour,
			outcomes: []Outcome{Accepted, TooOld},
			want:     map[string][2]float64{"3d": {1, 1}},
		},
		{
			name:     "data from beyond the allowed clock skew is dropped",
			events:   []event{{0, 1, 1}, {3 * time.Minute, 1, 1}},
			now:      time.Minute,
			outcomes: []Outcome{Accepted, Future},
			want:     map[string][2]float64{"5m": {1, 1}},
		},
		{
			name:   "a gap longer than the ring clears every window",
			events: []event{{0, 1, 1}, {100 * time.Hour, 3, 4}},
			now:    100 * time.Hour,
			want:   map[string][2]float64{"5m": {3, 4}, "3d": {3, 4}},
		},
		{
			name:   "a point ahead of the clock is not in a window read before it",
			events: []event{{90 * time.Second, 1, 1}, {30 * time.Second, 2, 2}},
			now:    time.Minute,
			want:   map[string][2]float64{"5m": {2, 2}, "3d": {2, 2}},
		},
		{
			name:   "a point at a slot boundary belongs to the slot it ends",
			events: []event{{5 * time.Minute, 1, 1}, {0, 2, 2}},
			now:    5 * time.Minute,
			want:   map[string][2]float64{"5m": {1, 1}, "30m": {3, 3}},
		},
		{
			name:   "read inside a slot, the oldest slot counts by its share in the window",
			events: []event{{30 * time.Second, 0, 4}, {5*time.Minute + 10*time.Second, 1, 1}},
			now:    5*time.Minute + 15*time.Second,
			want:   map[string][2]float64{"5m": {1, 4}, "30m": {1, 5}},
		},
		{
			name:   "bad events counted as negative good stay exact",
			events: []event{{0, 10, 10}, {30 * time.Second, -3, 0}},
			now:    time.Minute,
			want:   map[string][2]float64{"5m": {7, 10}},
		},
		{
			name:   "good clamps at zero when bad exceeds total",
			events: []event{{0, 2, 2}, {0, -5, 0}},
			now:    time.Minute,
			want:   map[string][2]float64{"5m": {0, 2}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := workbookSpec(t)
			g := NewGroup(spec, at(0))
			for i, e := range tt.events {
				got := g.Add(at(tt.now), at(e.at), e.good, e.total)
				want := Accepted
				if tt.outcomes != nil {
					want = tt.outcomes[i]
				}
				assert.Equal(t, want, got, "event %d", i)
			}
			var r Result
			g.Evaluate(at(tt.now), at(0), &r)
			for name, want := range tt.want {
				w := r.Windows[windowIndex[name]]
				assert.True(t, w.HasEvents, name)
				assert.Equal(t, want, [2]float64{w.Good, w.Total}, name)
			}
			for _, name := range tt.empty {
				assert.False(t, r.Windows[windowIndex[name]].HasEvents, name)
			}
		})
	}
}

func TestGroupAddsThroughTime(t *testing.T) {
	// One event per second for 4 days, 1% bad in the second day: every
	// window must hold exactly the events of (T-w, T] at slot boundaries,
	// and inside a slot be off by no more than the events of the slot it
	// weights in part, with the head moving forward point by point
	// (running sums, slot reuse, ring rotation).
	spec := workbookSpec(t)
	g := NewGroup(spec, at(0))
	end := 4 * 24 * time.Hour
	isGood := func(d time.Duration) float64 {
		if d >= 24*time.Hour && d < 48*time.Hour && int64(d/time.Second)%100 == 0 {
			return 0
		}
		return 1
	}
	// truth counts the events at whole seconds in (now-w, now].
	truth := func(now, w time.Duration) (good, total float64) {
		for d := (now - w).Truncate(time.Second) + time.Second; d <= now && d < end; d += time.Second {
			if d >= 0 {
				good += isGood(d)
				total++
			}
		}
		return good, total
	}
	reads := map[time.Duration]bool{ // read time -> at a slot boundary
		end - time.Minute:                   true,
		end:                                 true,
		end - time.Second:                   false,
		end - 30*time.Second:                false,
		24*time.Hour + 15*time.Minute + 1:   false,
		48*time.Hour + 20*time.Second:       false,
		48 * time.Hour:                      true,
		30*time.Hour + 7*time.Minute + 59e9: false,
	}
	var r Result
	for d := time.Duration(0); d < end+time.Minute; d += time.Second {
		if d < end {
			require.Equal(t, Accepted, g.Add(at(d), at(d), isGood(d), 1))
		}
		for at_, boundary := range reads {
			if at_ >= d && at_ < d+time.Second {
				g.Evaluate(at(at_), at(0), &r)
				for i, w := range spec.Windows {
					good, total := truth(at_, w.Length)
					if boundary {
						assert.Equal(t, [2]float64{good, total}, [2]float64{r.Windows[i].Good, r.Windows[i].Total}, "%s at %v", w.Name, at_)
						continue
					}
					// the slot weighted in part holds 60 events
					assert.InDelta(t, total, r.Windows[i].Total, 60, "%s at %v", w.Name, at_)
					assert.InDelta(t, good, r.Windows[i].Good, 60, "%s at %v", w.Name, at_)
				}
				good, total := truth(at_, 30*24*time.Hour)
				assert.Equal(t, [2]float64{good, total}, [2]float64{r.Budget.Good, r.Budget.Total}, "budget at %v", at_)
			}
		}
	}
	g.Evaluate(at(end), at(0), &r)
	assert.Equal(t, 4*86400.0-864, r.Good)
	assert.Equal(t, 864.0, r.Bad)
}

func TestGroupBurnRateBudgetAndAlerts(t *testing.T) {
	tests := []struct {
		name       string
		events     []event
		now        time.Duration
		wantAlerts []bool // page, ticket
		wantBurn5m float64
		wantBudget float64
	}{
		{
			name:       "all good: no burn, full budget",
			events:     []event{{0, 100, 100}},
			now:        time.Minute,
			wantAlerts: []bool{false, false},
			wantBurn5m: 0,
			wantBudget: 1,
		},
		{
			name:       "20% errors burn 20x and page",
			events:     []event{{0, 80, 100}},
			now:        time.Minute,
			wantAlerts: []bool{true, true},
			wantBurn5m: 20,
			wantBudget: 1 - 20.0/1,
		},
		{
			name:       "min-events guard keeps one failure of two from paging",
			events:     []event{{0, 1, 2}},
			now:        time.Minute,
			wantAlerts: []bool{false, false},
			wantBurn5m: 50,
			wantBudget: 1 - 1/(0.01*2),
		},
		{
			name: "incident over: short window recovered, long window still burning",
			// 1h ago a burst of errors; last 5m clean.
			events:     []event{{0, 50, 100}, {59 * time.Minute, 100, 100}},
			now:        59 * time.Minute,
			wantAlerts: []bool{false, true},
			wantBurn5m: 0,
			wantBudget: 1 - 50/(0.01*200),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewGroup(workbookSpec(t), at(0))
			for _, e := range tt.events {
				g.Add(at(tt.now), at(e.at), e.good, e.total)
			}
			var r Result
			g.Evaluate(at(tt.now), at(-30*24*time.Hour), &r)
			assert.Equal(t, tt.wantAlerts, r.Alerts)
			assert.InDelta(t, tt.wantBurn5m, r.Windows[0].BurnRate, 1e-9)
			assert.InDelta(t, tt.wantBudget, r.BudgetRemaining, 1e-9)
		})
	}
}

func TestGroupCoverage(t *testing.T) {
	tests := []struct {
		name    string
		since   time.Duration
		now     time.Duration
		window  string
		want    float64
		budget  bool
		calWant float64
	}{
		{"warming up: 30 minutes of a 1h window", 0, 30 * time.Minute, "1h", 0.5, false, 0},
		{"a full window", 0, 2 * time.Hour, "1h", 1, false, 0},
		{"restored state that predates the window", -40 * 24 * time.Hour, 0, "3d", 1, false, 0},
		{"budget after one day of 30", 0, 24 * time.Hour, "", 1.0 / 30, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewGroup(workbookSpec(t), at(tt.since))
			var r Result
			g.Evaluate(at(tt.now), at(tt.since), &r)
			if tt.budget {
				assert.InDelta(t, tt.want, r.Budget.Coverage, 1e-12)
				return
			}
			assert.InDelta(t, tt.want, r.Windows[windowIndex[tt.window]].Coverage, 1e-12)
		})
	}
}

func TestGroupCalendarMonth(t *testing.T) {
	spec := workbookSpec(t)
	monthStart := berlinMonth(t, spec)
	g := NewGroup(spec, monthStart.Add(-24*time.Hour).UnixNano())
	add := func(ts time.Time, good, total float64) {
		require.Equal(t, Accepted, g.Add(ts.UnixNano(), ts.UnixNano(), good, total))
	}
	add(monthStart.Add(-time.Hour), 0, 7)     // February in Berlin
	add(monthStart.Add(time.Minute), 99, 100) // March
	var r Result
	now := monthStart.Add(12 * time.Hour)
	g.Evaluate(now.UnixNano(), monthStart.Add(-24*time.Hour).UnixNano(), &r)
	assert.Equal(t, [2]float64{99, 100}, [2]float64{r.Budget.Good, r.Budget.Total})
	assert.InDelta(t, 0, r.BudgetRemaining, 1e-12)
	assert.Equal(t, 1.0, r.Budget.Coverage)

	// Late March data after the first evaluation still lands in the budget.
	add(monthStart.Add(2*time.Hour), 0, 1)
	g.Evaluate(now.UnixNano(), now.UnixNano(), &r)
	assert.Equal(t, [2]float64{99, 101}, [2]float64{r.Budget.Good, r.Budget.Total})
	assert.Equal(t, 0.0, r.Budget.Coverage, "observed since now: nothing of the month seen yet")

	// April in Berlin starts with an empty budget.
	april := time.Date(2026, 3, 31, 22, 0, 0, 0, time.UTC)
	g.Evaluate(april.Add(time.Minute).UnixNano(), monthStart.UnixNano(), &r)
	assert.False(t, r.Budget.HasEvents)
}

// berlinMonth makes spec's budget the calendar month in Berlin and returns
// the start of March 2026 there: 2026-02-28T23:00Z.
func berlinMonth(t *testing.T, spec *Spec) time.Time {
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	spec.Budget = BudgetWindow{Name: "month", Calendar: Month, Location: berlin}
	require.NoError(t, spec.Prepare())
	return time.Date(2026, 2, 28, 23, 0, 0, 0, time.UTC)
}

func TestGroupFractionalCountsResync(t *testing.T) {
	// 0.1 is not exact in binary: after the values leave the window, the
	// running sum must be back to exactly empty after one rotation.
	spec := workbookSpec(t)
	g := NewGroup(spec, at(0))
	for i := range 1000 {
		g.Add(at(time.Duration(i)*time.Second), at(time.Duration(i)*time.Second), 0.1, 0.1)
	}
	var r Result
	g.Evaluate(at(80*time.Hour), at(0), &r)
	for _, w := range r.Windows {
		assert.False(t, w.HasEvents)
		assert.Zero(t, w.Total)
	}
	assert.False(t, g.Empty(), "still in the 30d budget")
	g.Evaluate(at(31*24*time.Hour), at(0), &r)
	assert.True(t, g.Empty())
	assert.InDelta(t, 100, r.Good, 1e-9)
	assert.False(t, math.IsNaN(r.BudgetRemaining))
}
