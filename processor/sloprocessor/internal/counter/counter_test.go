// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package counter

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-sre/otelcol-sre/processor/sloprocessor/internal/statecodec"
)

const (
	sec   = int64(time.Second)
	since = 1000 * sec // the tracker could see points from here on
)

type step struct {
	key  uint64
	p    Point
	want Increment
	o    Outcome
}

func pt(start, ts int64, total float64) Point { return Point{Start: start, Time: ts, Total: total} }

func TestCumulative(t *testing.T) {
	tests := []struct {
		name    string
		initial InitialValue
		max     int
		steps   []step
	}{
		{
			name: "first point of a series older than the tracker is a baseline",
			steps: []step{
				{1, pt(500*sec, 1010*sec, 100), Increment{}, Baseline},
				{1, pt(500*sec, 1020*sec, 130), Increment{Total: 30}, Counted},
			},
		},
		{
			name: "first point of a series born after the tracker started counts",
			steps: []step{
				{1, pt(1005*sec, 1010*sec, 7), Increment{Total: 7}, Counted},
			},
		},
		{
			name: "series born exactly when the tracker started counts",
			steps: []step{
				{1, pt(since, 1010*sec, 7), Increment{Total: 7}, Counted},
			},
		},
		{
			name: "unknown start time is a baseline under auto",
			steps: []step{
				{1, pt(0, 1010*sec, 7), Increment{}, Baseline},
			},
		},
		{
			name:    "keep counts every first point",
			initial: Keep,
			steps: []step{
				{1, pt(0, 1010*sec, 7), Increment{Total: 7}, Counted},
			},
		},
		{
			name:    "drop takes every first point as a baseline",
			initial: Drop,
			steps: []step{
				{1, pt(1005*sec, 1010*sec, 7), Increment{}, Baseline},
			},
		},
		{
			name: "restart with a new start time counts the new value in full",
			steps: []step{
				{1, pt(500*sec, 1010*sec, 100), Increment{}, Baseline},
				{1, pt(1015*sec, 1020*sec, 4), Increment{Total: 4}, Counted},
				{1, pt(1015*sec, 1030*sec, 9), Increment{Total: 5}, Counted},
			},
		},
		{
			name: "restart with an unchanged start but a smaller value is a reset",
			steps: []step{
				{1, pt(0, 1010*sec, 100), Increment{}, Baseline},
				{1, pt(0, 1020*sec, 3), Increment{Total: 3}, Counted},
			},
		},
		{
			name: "restart with a new start and a larger value is still a reset",
			steps: []step{
				{1, pt(500*sec, 1010*sec, 10), Increment{}, Baseline},
				{1, pt(1012*sec, 1020*sec, 50), Increment{Total: 50}, Counted},
			},
		},
		{
			name: "same timestamp twice is a duplicate",
			steps: []step{
				{1, pt(500*sec, 1010*sec, 10), Increment{}, Baseline},
				{1, pt(500*sec, 1010*sec, 10), Increment{}, Duplicate},
				{1, pt(500*sec, 1020*sec, 12), Increment{Total: 2}, Counted},
			},
		},
		{
			name: "an older point is out of order and changes nothing",
			steps: []step{
				{1, pt(500*sec, 1020*sec, 10), Increment{}, Baseline},
				{1, pt(500*sec, 1010*sec, 5), Increment{}, OutOfOrder},
				{1, pt(500*sec, 1030*sec, 12), Increment{Total: 2}, Counted},
			},
		},
		{
			name: "a point of the previous incarnation is out of order",
			steps: []step{
				{1, pt(500*sec, 1010*sec, 10), Increment{}, Baseline},
				{1, pt(1015*sec, 1020*sec, 1), Increment{Total: 1}, Counted},
				{1, pt(500*sec, 1025*sec, 11), Increment{}, OutOfOrder},
			},
		},
		{
			name: "NaN, infinity and negative values are rejected",
			steps: []step{
				{1, pt(500*sec, 1010*sec, math.NaN()), Increment{}, Invalid},
				{1, pt(500*sec, 1010*sec, math.Inf(1)), Increment{}, Invalid},
				{1, pt(500*sec, 1010*sec, -1), Increment{}, Invalid},
				{1, Point{Start: 500 * sec, Time: 1010 * sec, Total: 1, Good: math.NaN()}, Increment{}, Invalid},
				{1, pt(500*sec, 1010*sec, 1), Increment{}, Baseline},
			},
		},
		{
			name: "good above total is rejected",
			steps: []step{
				{1, Point{Start: 500 * sec, Time: 1010 * sec, Total: 1, Good: 2}, Increment{}, Invalid},
			},
		},
		{
			name: "start after the point time is rejected",
			steps: []step{
				{1, pt(1020*sec, 1010*sec, 1), Increment{}, Invalid},
			},
		},
		{
			name: "histogram good and total move together",
			steps: []step{
				{1, Point{Start: 500 * sec, Time: 1010 * sec, Total: 10, Good: 8}, Increment{}, Baseline},
				{1, Point{Start: 500 * sec, Time: 1020 * sec, Total: 15, Good: 12}, Increment{Total: 5, Good: 4}, Counted},
			},
		},
		{
			name: "good that shrinks without a reset counts zero good",
			steps: []step{
				{1, Point{Start: 500 * sec, Time: 1010 * sec, Total: 10, Good: 8}, Increment{}, Baseline},
				{1, Point{Start: 500 * sec, Time: 1020 * sec, Total: 12, Good: 7.5}, Increment{Total: 2}, Counted},
			},
		},
		{
			name: "a series that first shows up after its producer's earlier export counts in full",
			steps: []step{
				{1, Point{Start: 500 * sec, Time: 1010 * sec, Total: 100, Producer: 9}, Increment{}, Baseline},
				{2, Point{Start: 500 * sec, Time: 1020 * sec, Total: 5, Producer: 9}, Increment{Total: 5}, Counted},
			},
		},
		{
			name: "series of the producer's first export are baselines",
			steps: []step{
				{1, Point{Start: 500 * sec, Time: 1010 * sec, Total: 100, Producer: 9}, Increment{}, Baseline},
				{2, Point{Start: 500 * sec, Time: 1010 * sec, Total: 5, Producer: 9}, Increment{}, Baseline},
			},
		},
		{
			name:    "drop ignores the producer",
			initial: Drop,
			steps: []step{
				{1, Point{Start: 500 * sec, Time: 1010 * sec, Total: 100, Producer: 9}, Increment{}, Baseline},
				{2, Point{Start: 500 * sec, Time: 1020 * sec, Total: 5, Producer: 9}, Increment{}, Baseline},
			},
		},
		{
			name: "series are independent",
			steps: []step{
				{1, pt(500*sec, 1010*sec, 10), Increment{}, Baseline},
				{2, pt(1005*sec, 1010*sec, 3), Increment{Total: 3}, Counted},
				{1, pt(500*sec, 1020*sec, 11), Increment{Total: 1}, Counted},
			},
		},
		{
			name: "a new series beyond the limit is refused, known ones go on",
			max:  1,
			steps: []step{
				{1, pt(500*sec, 1010*sec, 10), Increment{}, Baseline},
				{2, pt(1005*sec, 1010*sec, 3), Increment{}, SeriesLimit},
				{1, pt(500*sec, 1020*sec, 11), Increment{Total: 1}, Counted},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := New(Config{Initial: tt.initial, MaxSeries: tt.max}, since)
			for i, s := range tt.steps {
				inc, o := tr.Cumulative(s.p.Time, s.key, s.p)
				assert.Equal(t, s.o, o, "step %d", i)
				assert.Equal(t, s.want, inc, "step %d", i)
			}
		})
	}
}

func TestDelta(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
	}{
		{
			name: "every delta point counts, the first one too",
			steps: []step{
				{1, pt(1000*sec, 1010*sec, 4), Increment{Total: 4}, Counted},
				{1, pt(1010*sec, 1020*sec, 6), Increment{Total: 6}, Counted},
			},
		},
		{
			name: "a repeated delta point is a duplicate",
			steps: []step{
				{1, pt(1000*sec, 1010*sec, 4), Increment{Total: 4}, Counted},
				{1, pt(1000*sec, 1010*sec, 4), Increment{}, Duplicate},
			},
		},
		{
			name: "an older delta point is out of order",
			steps: []step{
				{1, pt(1010*sec, 1020*sec, 4), Increment{Total: 4}, Counted},
				{1, pt(1000*sec, 1010*sec, 4), Increment{}, OutOfOrder},
			},
		},
		{
			name: "a negative delta is rejected",
			steps: []step{
				{1, pt(1000*sec, 1010*sec, -4), Increment{}, Invalid},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := New(Config{}, since)
			for i, s := range tt.steps {
				inc, o := tr.Delta(s.p.Time, s.key, s.p)
				assert.Equal(t, s.o, o, "step %d", i)
				assert.Equal(t, s.want, inc, "step %d", i)
			}
		})
	}
}

func TestExpire(t *testing.T) {
	tr := New(Config{StaleAfter: 5 * time.Minute}, since)
	tr.Cumulative(1000*sec, 1, Point{Start: 500 * sec, Time: 1000 * sec, Total: 1, Producer: 7})
	tr.Cumulative(1200*sec, 2, pt(500*sec, 1200*sec, 1))
	assert.Equal(t, 0, tr.Expire(1200*sec))
	assert.Equal(t, 1, tr.Expire(1301*sec), "series 1 unseen for more than 5m")
	assert.Equal(t, 1, tr.Len())
	assert.Empty(t, tr.producers, "its producer too")
	// A series that comes back after expiry starts over as a baseline.
	inc, o := tr.Cumulative(1400*sec, 1, pt(500*sec, 1400*sec, 50))
	assert.Equal(t, Baseline, o)
	assert.Equal(t, Increment{}, inc)

	assert.Equal(t, 0, New(Config{}, since).Expire(math.MaxInt64), "no staleness configured")
}

func TestOutcomeString(t *testing.T) {
	assert.Equal(t, "out_of_order", OutOfOrder.String())
	assert.Equal(t, "series_limit", SeriesLimit.String())
}

func TestCodec(t *testing.T) {
	tr := New(Config{MaxSeries: 10}, since)
	tr.Cumulative(1010*sec, 1, Point{Start: 500 * sec, Time: 1010 * sec, Total: 10, Good: 8})
	tr.Cumulative(1010*sec, 2, Point{Start: 1005 * sec, Time: 1010 * sec, Total: 3, Producer: 4})
	b := tr.AppendBinary(nil)

	r := statecodec.NewReader(append(b, 7))
	got, err := Decode(Config{MaxSeries: 10}, r)
	rest := r.Rest()
	require.NoError(t, err)
	assert.Equal(t, []byte{7}, rest)
	assert.Equal(t, tr.series, got.series)
	assert.Equal(t, tr.producers, got.producers)
	assert.Equal(t, int64(since), got.Since())
	inc, o := got.Cumulative(1020*sec, 1, Point{Start: 500 * sec, Time: 1020 * sec, Total: 12, Good: 9})
	assert.Equal(t, Counted, o)
	assert.Equal(t, Increment{Total: 2, Good: 1}, inc)

	for name, in := range map[string][]byte{
		"empty":                {},
		"unknown version":      {9},
		"truncated":            b[:len(b)-1],
		"more series than max": b,
	} {
		t.Run(name, func(t *testing.T) {
			cfg := Config{MaxSeries: 10}
			if name == "more series than max" {
				cfg.MaxSeries = 1
			}
			_, err := Decode(cfg, statecodec.NewReader(in))
			assert.Error(t, err)
		})
	}
}

func FuzzDecode(f *testing.F) {
	tr := New(Config{}, since)
	f.Add(tr.AppendBinary(nil))
	tr.Cumulative(1010*sec, 1, Point{Start: 500 * sec, Time: 1010 * sec, Total: 10, Good: 8})
	f.Add(tr.AppendBinary(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		tr, err := Decode(Config{MaxSeries: 1000}, statecodec.NewReader(b))
		if err != nil {
			return
		}
		for k := range tr.series {
			_, o := tr.Cumulative(0, k, Point{Time: math.MaxInt64, Total: 1})
			require.NotEqual(t, SeriesLimit, o)
		}
	})
}
