// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package sli

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-sre/otelcol-sre/processor/sloprocessor/internal/statecodec"
)

// slicesSpec is a Timeslices SLO: 99% of 1-minute slices over a rolling day
// must have at least 95% good events.
func slicesSpec(t testing.TB) *Spec {
	s := &Spec{
		Target:           0.99,
		Resolution:       time.Minute,
		BudgetResolution: 15 * time.Minute,
		Windows:          []Window{{"5m", 5 * time.Minute}, {"30m", 30 * time.Minute}, {"1h", time.Hour}},
		Budget:           BudgetWindow{Name: "1d", Length: 24 * time.Hour},
		Rules:            []Rule{{"page", 14.4, 2, 0}},
		MinEvents:        10,
		MaxFutureSkew:    time.Minute,
		Slice:            time.Minute,
		SliceTarget:      0.95,
	}
	require.NoError(t, s.Prepare())
	return s
}

// sliceWant is a window's expected good and counted slices; events -1 means
// the window has no events (no SLI).
type sliceWant struct{ good, slices, events float64 }

func TestGroupTimeslices(t *testing.T) {
	tests := []struct {
		name       string
		since, now time.Duration
		events     []event
		want       map[string]sliceWant // by window name; "budget" is the budget window
		remaining  float64
		page       bool
	}{
		{
			name:   "a slice exactly at its target is good; slices without events are good",
			events: []event{{30 * time.Second, 19, 20}},
			now:    5 * time.Minute,
			want:   map[string]sliceWant{"5m": {5, 5, 20}, "1h": {5, 5, 20}, "budget": {5, 5, 20}},
			// no bad slice: the whole budget is left
			remaining: 1,
		},
		{
			name:   "a slice under its target is bad, whatever its traffic",
			events: []event{{30 * time.Second, 18, 20}, {90 * time.Second, 1000, 1000}},
			now:    5 * time.Minute,
			want:   map[string]sliceWant{"5m": {4, 5, 1020}, "budget": {4, 5, 1020}},
			// one of the day's 1440 × 1% = 14.4 bad slices spent
			remaining: 1 - 1/14.4,
			page:      true, // 1 bad of 5 and of the hour's 5 observed slices: burn 20 ≥ 14.4
		},
		{
			name:   "the current slice counts once it has ended",
			events: []event{{5*time.Minute + 10*time.Second, 0, 20}},
			now:    5*time.Minute + 50*time.Second,
			want:   map[string]sliceWant{"5m": {0, 0, -1}, "budget": {0, 0, -1}},
		},
		{
			name:      "inside a slice a window holds the slices up to the last boundary",
			events:    []event{{30 * time.Second, 0, 20}},
			now:       5*time.Minute + 30*time.Second,
			want:      map[string]sliceWant{"5m": {4, 5, 20}, "30m": {4, 5, 20}},
			remaining: 1 - 1/14.4,
			page:      true,
		},
		{
			name:      "the bad slice leaves the 5m window at the next boundary",
			events:    []event{{30 * time.Second, 0, 20}, {3 * time.Minute, 20, 20}},
			now:       6 * time.Minute,
			want:      map[string]sliceWant{"5m": {5, 5, 20}, "30m": {5, 6, 40}},
			remaining: 1 - 1/14.4,
		},
		{
			name:   "slices before the processor watched are not counted",
			since:  3*time.Minute + 20*time.Second,
			events: []event{{3*time.Minute + 30*time.Second, 0, 20}},
			now:    5 * time.Minute,
			// (3m,4m] is watched in part and counts; (4m,5m] is empty and good
			want:      map[string]sliceWant{"5m": {1, 2, 20}, "budget": {1, 2, 20}},
			remaining: 1 - 1/14.4,
			page:      true,
		},
		{
			name:   "min_events counts events, not slices",
			events: []event{{30 * time.Second, 0, 5}},
			now:    5 * time.Minute,
			want:   map[string]sliceWant{"5m": {4, 5, 5}},
			page:   false,
			// 1 bad slice
			remaining: 1 - 1/14.4,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := slicesSpec(t)
			g := NewGroup(spec, at(tt.since))
			for _, e := range tt.events {
				require.Equal(t, Accepted, g.Add(at(tt.now), at(e.at), e.good, e.total))
			}
			var r Result
			g.Evaluate(at(tt.now), at(tt.since), &r)
			for name, want := range tt.want {
				w := r.Budget
				if name != "budget" {
					w = r.Windows[map[string]int{"5m": 0, "30m": 1, "1h": 2}[name]]
				}
				if want.events < 0 {
					assert.False(t, w.HasEvents, name)
					continue
				}
				require.True(t, w.HasEvents, name)
				assert.Equal(t, [3]float64{want.good, want.slices, want.events}, [3]float64{w.Good, w.Total, w.Events}, name)
				assert.InDelta(t, want.good/want.slices, w.SLI, 1e-12, name)
				assert.InDelta(t, (1-want.good/want.slices)/0.01, w.BurnRate, 1e-9, name)
			}
			if tt.want["budget"].events >= 0 && r.Budget.HasEvents {
				assert.InDelta(t, tt.remaining, r.BudgetRemaining, 1e-12)
			}
			assert.Equal(t, []bool{tt.page}, r.Alerts)
		})
	}
}

// A late point lands in its own slice and turns its verdict at the next
// evaluation.
func TestGroupTimeslicesLatePoint(t *testing.T) {
	g := NewGroup(slicesSpec(t), at(0))
	var r Result
	g.Add(at(time.Minute), at(30*time.Second), 20, 20)
	g.Evaluate(at(time.Minute), at(0), &r)
	assert.Equal(t, 1.0, r.Windows[0].SLI)
	g.Add(at(time.Minute+5*time.Second), at(59*time.Second), 0, 20) // exported late
	g.Evaluate(at(2*time.Minute), at(0), &r)
	assert.Equal(t, [2]float64{1, 2}, [2]float64{r.Windows[0].Good, r.Windows[0].Total})
}

// A calendar month's budget is its number of slices, one hour short in a
// March with the DST change.
func TestGroupTimeslicesCalendarMonth(t *testing.T) {
	spec := slicesSpec(t)
	monthStart := berlinMonth(t, spec)
	since := monthStart.Add(-time.Hour)
	g := NewGroup(spec, since.UnixNano())
	add := func(ts time.Time, good, total float64) {
		require.Equal(t, Accepted, g.Add(ts.UnixNano(), ts.UnixNano(), good, total))
	}
	add(monthStart.Add(-30*time.Second), 0, 10) // a bad slice of February
	add(monthStart.Add(30*time.Second), 0, 10)  // March's first slice, bad
	add(monthStart.Add(90*time.Second), 10, 10)
	var r Result
	now := monthStart.Add(time.Hour)
	g.Evaluate(now.UnixNano(), since.UnixNano(), &r)
	assert.Equal(t, [2]float64{59, 60}, [2]float64{r.Budget.Good, r.Budget.Total})
	slices := float64(31*24-1) * 60 // 2026-03-29 has 23 hours in Berlin
	assert.InDelta(t, 1-1/(0.01*slices), r.BudgetRemaining, 1e-12)
	assert.Equal(t, [2]float64{59, 60}, [2]float64{r.Windows[2].Good, r.Windows[2].Total}, "1h: (0, 1h], not February's slice")

	for _, tz := range []string{"Asia/Kolkata", "Europe/Berlin"} {
		loc, err := time.LoadLocation(tz)
		require.NoError(t, err)
		spec.Budget.Location = loc
		spec.Slice = time.Hour
		spec.Windows = []Window{{"1h", time.Hour}}
		spec.Rules = nil
		assert.ErrorContains(t, spec.Prepare(), "calendar windows need a time slice that divides 15m", tz)
	}
}

func TestSpecPrepareTimeslices(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*Spec)
		wantErr string
	}{
		{"valid", func(*Spec) {}, ""},
		{"slice target of 1: every event good", func(s *Spec) { s.SliceTarget = 1 }, ""},
		{"slice target of 0", func(s *Spec) { s.SliceTarget = 0 }, "time slice target must be in (0,1]"},
		{"window not a multiple of the slice", func(s *Spec) { s.Slice = 2 * time.Minute }, `window "5m" (5m0s) must be a positive multiple of the time slice 2m0s`},
		{"budget not a multiple of the slice", func(s *Spec) {
			s.Slice = 5 * time.Minute
			s.Budget.Length = 24*time.Hour + time.Minute
		}, "budget window 24h1m0s must be a positive multiple of the time slice 5m0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := slicesSpec(t)
			tt.mutate(s)
			err := s.Prepare()
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

// A Timeslices group survives a restart through the same codec, and is
// forgotten once its slices have left every window.
func TestTimeslicesCodecAndEmpty(t *testing.T) {
	spec := slicesSpec(t)
	g := NewGroup(spec, at(0))
	for i := range 300 {
		d := time.Duration(i) * 17 * time.Second
		g.Add(at(d), at(d), float64(i%7), 6)
	}
	now := at(300 * 17 * time.Second)
	var want, got Result
	g.Evaluate(now, at(0), &want)
	require.True(t, want.Budget.HasEvents)
	assert.Less(t, want.Budget.Good, want.Budget.Total)

	g2, err := DecodeGroup(spec, statecodec.NewReader(g.AppendBinary(nil)))
	require.NoError(t, err)
	g2.Evaluate(now, at(0), &got)
	assert.Equal(t, want, got)

	other := slicesSpec(t)
	other.Slice = 5 * time.Minute
	require.NoError(t, other.Prepare())
	_, err = DecodeGroup(other, statecodec.NewReader(g.AppendBinary(nil)))
	assert.ErrorContains(t, err, "slot width changed")

	assert.False(t, g.Empty())
	g.Evaluate(now+int64(24*time.Hour), at(0), &got)
	assert.False(t, g.Empty(), "the slices ending just before the day are still held")
	g.Evaluate(now+int64(25*time.Hour), at(0), &got)
	assert.True(t, g.Empty())
}

// The running counts of bad slices agree with counting the slices of the
// accepted events one by one, through late points, gaps longer than the
// ring, ring rotations and calendar weeks.
func TestTimeslicesRunningCountsAgreeWithACount(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	for _, budget := range []BudgetWindow{
		{Name: "1d", Length: 24 * time.Hour},
		{Name: "week", Calendar: Week, Location: berlin},
	} {
		t.Run(budget.Name, func(t *testing.T) {
			spec := slicesSpec(t)
			spec.Budget = budget
			require.NoError(t, spec.Prepare())
			rng := rand.New(rand.NewPCG(3, uint64(budget.Calendar)))
			since := at(0)
			g := NewGroup(spec, since)
			type ev struct {
				t           int64
				good, total float64
			}
			var evs []ev
			now := since
			var r Result
			for step := range 4000 {
				switch {
				case step%1000 == 999:
					now += int64(time.Duration(20+rng.IntN(60)) * time.Hour) // a gap, sometimes past the ring
				default:
					now += int64(time.Duration(rng.IntN(40)) * time.Second)
				}
				ts := now - int64(time.Duration(rng.IntN(90))*time.Minute) // up to 90 minutes late
				total := float64(rng.IntN(20))
				good := total - float64(rng.IntN(3))*float64(rng.IntN(2))
				if g.Add(now, ts, good, total) == Accepted {
					evs = append(evs, ev{ts, good, total})
				}
				if step%13 != 0 {
					continue
				}
				// Evaluate at a boundary and inside a slice.
				for _, read := range []int64{now / int64(time.Minute) * int64(time.Minute), now} {
					g.Evaluate(read, since, &r)
					last := read/int64(time.Minute) - 1
					first := since / int64(time.Minute)
					want := func(from int64) (slices, bad int64, events float64) {
						from = max(from, first)
						good, tot := map[int64]float64{}, map[int64]float64{}
						for _, e := range evs {
							x := (e.t - 1) / int64(time.Minute)
							if x >= from && x <= last {
								good[x] += e.good
								tot[x] += e.total
								events += e.total
							}
						}
						for x, n := range tot {
							if n > eventsEpsilon && good[x]/n < 0.95 {
								bad++
							}
						}
						return last - from + 1, bad, events
					}
					check := func(name string, w WindowResult, from int64) {
						n, bad, events := want(from)
						require.InDelta(t, events, w.Events, 1e-6, "%s at step %d", name, step)
						if events > 0 {
							require.Equal(t, [2]float64{float64(n - bad), float64(n)}, [2]float64{w.Good, w.Total}, "%s at step %d", name, step)
						}
					}
					for i, k := range spec.sliceLens {
						check(spec.Windows[i].Name, r.Windows[i], last-k+1)
					}
					from := last - spec.budgetLen + 1
					if budget.Calendar != Rolling {
						start, _ := spec.budgetPeriod(read)
						from = start / int64(time.Minute)
					}
					check("budget", r.Budget, from)
				}
			}
		})
	}
}
