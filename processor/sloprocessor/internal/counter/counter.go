// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

// Package counter turns the points of many series into increments: deltas of
// cumulative points with resets handled, delta points checked, and the first
// point of a series counted or taken as a baseline by its start time.
//
// It has no collector types, no goroutines and no clock of its own: every
// call takes the time it runs at, in Unix nanoseconds.
package counter

import (
	"math"
	"time"
)

// InitialValue says what the first cumulative point of a series counts for,
// as cumulativetodelta's initial_value does.
type InitialValue int

const (
	// Auto counts the first point when its start time shows the series
	// began after the tracker could have seen it (start >= since), and
	// takes it as a baseline otherwise.
	Auto InitialValue = iota
	// Keep always counts the first point in full.
	Keep
	// Drop always takes the first point as a baseline.
	Drop
)

// Outcome tells what happened to a point.
type Outcome int

const (
	// Counted means the point's increment is returned.
	Counted Outcome = iota
	// Baseline means the point started a series and counts nothing.
	Baseline
	// Duplicate means the series already has a point with this timestamp.
	Duplicate
	// OutOfOrder means the series already has a newer point.
	OutOfOrder
	// Invalid means a value is NaN, infinite or negative, good exceeds
	// total, or the start time is after the point's time.
	Invalid
	// SeriesLimit means the series is new and the tracker is full.
	SeriesLimit
)

var outcomeNames = [...]string{"counted", "baseline", "duplicate", "out_of_order", "invalid", "series_limit"}

func (o Outcome) String() string { return outcomeNames[o] }

// Point is one data point of a series. Total is the counter value (or a
// histogram's count); Good is the part of it that is good (a histogram's
// count under the latency threshold) and is zero for plain counters.
//
// Producer identifies what exports the series together with others (for
// example resource, metric and start time); 0 means unknown. A cumulative
// exporter sends all its series every time, so a series that first shows up
// after its producer's earlier export was born since then and counts in full
// even when its start time is the producer's (older) start time, as with
// OpenTelemetry SDKs.
type Point struct {
	Start, Time int64 // Unix ns; Start 0 means unknown
	Total, Good float64
	Producer    uint64
}

// Increment is what a point adds to its series.
type Increment struct {
	Total, Good float64
}

// Config bounds a tracker.
type Config struct {
	Initial    InitialValue
	StaleAfter time.Duration // series not seen for this long are forgotten
	MaxSeries  int           // 0 means unbounded
}

type state struct {
	start, time int64
	seen        int64 // tracker clock when the series last had a point
	total, good float64
}

// producer is when a producer's first point was seen.
type producer struct {
	first int64 // point time of its first point
	seen  int64 // tracker clock of its last point
}

// Tracker holds the last point of every series it has seen.
type Tracker struct {
	cfg       Config
	since     int64
	series    map[uint64]state
	producers map[uint64]producer
}

// New returns a tracker that has been able to see points since the time since.
func New(cfg Config, since int64) *Tracker {
	return &Tracker{cfg: cfg, since: since, series: make(map[uint64]state), producers: make(map[uint64]producer)}
}

// Since returns the time from which the tracker could have seen points.
func (t *Tracker) Since() int64 { return t.since }

// Len returns the number of tracked series.
func (t *Tracker) Len() int { return len(t.series) }

// StateBytes is the memory one tracked series takes in the maps (key, value
// and Go map overhead, and a share of a producer), for sizing.
const StateBytes = 8 + 40 + 16 + 8

func valid(p Point) bool {
	return finiteNonNegative(p.Total) && finiteNonNegative(p.Good) && p.Good <= p.Total &&
		(p.Start == 0 || p.Start <= p.Time)
}

func finiteNonNegative(v float64) bool { return v >= 0 && !math.IsInf(v, 1) } // NaN fails v >= 0

// ordered checks a point of a known series against its last point.
func ordered(st state, p Point) Outcome {
	switch {
	case p.Time == st.time:
		return Duplicate
	case p.Time < st.time, p.Start != 0 && st.start != 0 && p.Start < st.start:
		return OutOfOrder
	}
	return Counted
}

// admit returns the state of series key, and whether it is new, or the
// outcome that stops the point.
func (t *Tracker) admit(key uint64, p Point) (state, bool, Outcome) {
	if !valid(p) {
		return state{}, false, Invalid
	}
	st, ok := t.series[key]
	if !ok {
		if t.cfg.MaxSeries > 0 && len(t.series) >= t.cfg.MaxSeries {
			return st, true, SeriesLimit
		}
		return st, true, Counted
	}
	return st, false, ordered(st, p)
}

// Cumulative takes a cumulative point of series key at tracker time now and
// returns what it adds since the series' previous point.
func (t *Tracker) Cumulative(now int64, key uint64, p Point) (Increment, Outcome) {
	st, isNew, o := t.admit(key, p)
	if o != Counted {
		return Increment{}, o
	}
	t.series[key] = state{start: p.Start, time: p.Time, seen: now, total: p.Total, good: p.Good}
	full := Increment{Total: p.Total, Good: p.Good}
	if isNew {
		if t.cfg.Initial == Keep || (t.cfg.Initial == Auto && ((p.Start != 0 && p.Start >= t.since) || t.producerSaw(now, p))) {
			return full, Counted
		}
		return Increment{}, Baseline
	}
	if (p.Start != 0 && st.start != 0 && p.Start != st.start) || p.Total < st.total {
		// Reset: the series restarted and everything it holds is new.
		return full, Counted
	}
	inc := Increment{Total: p.Total - st.total}
	// The good part of a histogram only grows with its count; clamping
	// keeps a re-bucketed point from counting more good than total.
	inc.Good = math.Min(math.Max(p.Good-st.good, 0), inc.Total)
	return inc, Counted
}

// SawProducer records that a producer exported a point at time ts. Callers
// report every point of a producer, also the ones no series is tracked for
// and the ones of known series, so that a series born later is recognised as
// such and the producer does not go stale.
func (t *Tracker) SawProducer(now int64, id uint64, ts int64) {
	pr, ok := t.producers[id]
	if !ok {
		if t.cfg.MaxSeries > 0 && len(t.producers) >= t.cfg.MaxSeries {
			return
		}
		t.producers[id] = producer{first: ts, seen: now}
		return
	}
	// Refreshing seen is only needed for staleness: skip the map write
	// while it is recent.
	if now-pr.seen > int64(t.cfg.StaleAfter)/8 || ts < pr.first {
		pr.seen, pr.first = max(pr.seen, now), min(pr.first, ts)
		t.producers[id] = pr
	}
}

// producerSaw records the producer of a new series' first point and reports
// whether the producer had an export before this point's time.
func (t *Tracker) producerSaw(now int64, p Point) bool {
	if p.Producer == 0 {
		return false
	}
	t.SawProducer(now, p.Producer, p.Time)
	return t.producers[p.Producer].first < p.Time
}

// Delta takes a delta point of series key at tracker time now: its values
// are the increment.
func (t *Tracker) Delta(now int64, key uint64, p Point) (Increment, Outcome) {
	_, _, o := t.admit(key, p)
	if o != Counted {
		return Increment{}, o
	}
	t.series[key] = state{start: p.Start, time: p.Time, seen: now}
	return Increment{Total: p.Total, Good: p.Good}, Counted
}

// Expire forgets series that had no point for StaleAfter before now and
// returns how many it forgot.
func (t *Tracker) Expire(now int64) int {
	if t.cfg.StaleAfter <= 0 {
		return 0
	}
	n := 0
	cutoff := now - int64(t.cfg.StaleAfter)
	for k, st := range t.series {
		if st.seen < cutoff {
			delete(t.series, k)
			n++
		}
	}
	for k, pr := range t.producers {
		if pr.seen < cutoff {
			delete(t.producers, k)
		}
	}
	return n
}
