// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package sloprocessor

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

func explicitPoint(bounds []float64, counts []uint64) pmetric.HistogramDataPoint {
	dp := pmetric.NewHistogramDataPoint()
	dp.ExplicitBounds().FromRaw(bounds)
	dp.BucketCounts().FromRaw(counts)
	return dp
}

func TestExplicitGood(t *testing.T) {
	bounds := []float64{5, 10, 25, 50}
	counts := []uint64{4, 3, 6, 2, 1} // (..5] (5,10] (10,25] (25,50] (50,..)
	tests := []struct {
		name        string
		thr         float64
		interpolate bool
		bounds      []float64
		counts      []uint64
		want        float64
		ok          bool
	}{
		{"threshold on a bound counts the buckets up to it", 10, false, bounds, counts, 7, true},
		{"threshold on the first bound", 5, false, bounds, counts, 4, true},
		{"threshold on the last bound", 50, false, bounds, counts, 15, true},
		{"threshold a rounding error away from a bound (0.01 s vs 10 ms)", 0.01, false, []float64{0.005, 0.010000000000000002}, []uint64{1, 2, 3}, 3, true},
		{"threshold between bounds is refused", 15, false, bounds, counts, 0, false},
		{"threshold between bounds interpolated", 15, true, bounds, counts, 7 + 6*5.0/15, true},
		{"threshold in the first bucket interpolated from 0", 2.5, true, bounds, counts, 2, true},
		{"threshold past the last bound: the unbounded bucket is bad", 80, true, bounds, counts, 15, true},
		{"threshold past the last bound without interpolate", 80, false, bounds, counts, 0, false},
		{"a histogram without buckets", 10, false, nil, []uint64{5}, 0, false},
		{"mismatched bucket counts", 10, false, bounds, []uint64{1, 2}, 0, false},
		{"empty point with interpolate", 10, true, nil, nil, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := explicitGood(explicitPoint(tt.bounds, tt.counts), tt.thr, tt.interpolate)
			assert.Equal(t, tt.ok, ok)
			assert.InDelta(t, tt.want, got, 1e-12)
		})
	}
}

func TestExponentialGood(t *testing.T) {
	// Scale 1: base sqrt(2); bucket i is (2^(i/2), 2^((i+1)/2)].
	// Offset 4: buckets (4, 5.66], (5.66, 8], (8, 11.3], (11.3, 16].
	dp := pmetric.NewExponentialHistogramDataPoint()
	dp.SetScale(1)
	dp.SetZeroCount(1)
	dp.Negative().BucketCounts().FromRaw([]uint64{2})
	dp.Positive().SetOffset(4)
	dp.Positive().BucketCounts().FromRaw([]uint64{10, 20, 30, 40})
	tests := []struct {
		name        string
		thr         float64
		interpolate bool
		want        float64
		ok          bool
	}{
		{"threshold on a bound (8 = 2^(6/2))", 8, false, 1 + 2 + 10 + 20, true},
		{"threshold on the lowest bound", 4, false, 3, true},
		{"threshold above every bucket", 64, false, 103, true},
		{"threshold between bounds is refused", 10, false, 0, false},
		{"threshold between bounds interpolated", 10, true, 33 + 30*(10-8)/(8*math.Sqrt2-8), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := exponentialGood(dp, tt.thr, tt.interpolate)
			assert.Equal(t, tt.ok, ok)
			assert.InDelta(t, tt.want, got, 1e-9)
		})
	}
	assert.Equal(t, "scale 1, nearest bounds 8 and 11.3137", exponentialBoundsText(dp, 10))
}

func TestExplicitBoundsText(t *testing.T) {
	assert.Equal(t, "5, 10, 25", explicitBoundsText(explicitPoint([]float64{5, 10, 25}, nil)))
	many := make([]float64, 25)
	for i := range many {
		many[i] = float64(i)
	}
	assert.Contains(t, explicitBoundsText(explicitPoint(many, nil)), "19, …")
}
