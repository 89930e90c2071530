// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package sloprocessor

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/pdata/pmetric"
)

// sameBound tells whether a bucket bound equals the threshold, allowing for
// the rounding of unit conversions (0.01 s vs 10 ms).
func sameBound(bound, thr float64) bool {
	return math.Abs(bound-thr) <= 1e-9*math.Max(math.Abs(thr), 1e-300)
}

// explicitGood counts the events of an explicit-bucket histogram at or under
// thr. Bucket i holds (bounds[i-1], bounds[i]]; the last one is unbounded.
// Without interpolate, thr must be one of the bounds. With it, events are
// taken as spread evenly inside the bucket holding thr, the first bucket
// starting at 0 (latencies are not negative); a thr past the last bound
// counts the unbounded bucket as bad.
func explicitGood(dp pmetric.HistogramDataPoint, thr float64, interpolate bool) (float64, bool) {
	bounds, counts := dp.ExplicitBounds(), dp.BucketCounts()
	if counts.Len() != bounds.Len()+1 {
		if counts.Len() == 0 && interpolate {
			return 0, true
		}
		if counts.Len() == 0 || counts.Len() != bounds.Len()+1 {
			return 0, false
		}
	}
	var good float64
	for i := 0; i < bounds.Len(); i++ {
		b := bounds.At(i)
		c := float64(counts.At(i))
		switch {
		case sameBound(b, thr):
			return good + c, true
		case b < thr:
			good += c
		case !interpolate:
			return 0, false
		default:
			lower := 0.0
			if i > 0 {
				lower = bounds.At(i - 1)
			}
			if b > lower && thr > lower {
				good += c * (thr - lower) / (b - lower)
			}
			return good, true
		}
	}
	if !interpolate {
		return 0, false
	}
	return good, true
}

// exponentialGood counts the events of an exponential histogram at or under
// thr. Positive bucket i holds (base^i, base^(i+1)] with base =
// 2^(2^-scale); zero and negative buckets count as good.
func exponentialGood(dp pmetric.ExponentialHistogramDataPoint, thr float64, interpolate bool) (float64, bool) {
	good := float64(dp.ZeroCount())
	neg := dp.Negative().BucketCounts()
	for i := 0; i < neg.Len(); i++ {
		good += float64(neg.At(i))
	}
	scale := float64(dp.Scale())
	jf := math.Log2(thr) * math.Exp2(scale) // thr = base^jf
	j := math.Round(jf)
	onBound := math.Abs(jf-j) < 1e-6
	if !onBound && !interpolate {
		return 0, false
	}
	pos := dp.Positive()
	counts := pos.BucketCounts()
	off := float64(pos.Offset())
	for k := 0; k < counts.Len(); k++ {
		idx := off + float64(k)
		c := float64(counts.At(k))
		switch {
		case onBound && idx+1 <= j, !onBound && idx+1 <= math.Floor(jf):
			good += c
		case !onBound && idx == math.Floor(jf):
			lower := math.Exp2(idx / math.Exp2(scale))
			upper := math.Exp2((idx + 1) / math.Exp2(scale))
			good += c * (thr - lower) / (upper - lower)
		}
	}
	return good, true
}

// explicitBoundsText lists bounds for an error message.
func explicitBoundsText(dp pmetric.HistogramDataPoint) string {
	b := dp.ExplicitBounds()
	parts := make([]string, 0, min(b.Len(), 20))
	for i := 0; i < b.Len() && i < 20; i++ {
		parts = append(parts, strconv.FormatFloat(b.At(i), 'g', -1, 64))
	}
	if b.Len() > 20 {
		parts = append(parts, "…")
	}
	return strings.Join(parts, ", ")
}

// exponentialBoundsText names the bounds around thr at the point's scale.
func exponentialBoundsText(dp pmetric.ExponentialHistogramDataPoint, thr float64) string {
	scale := math.Exp2(float64(dp.Scale()))
	jf := math.Log2(thr) * scale
	lo := math.Exp2(math.Floor(jf) / scale)
	hi := math.Exp2(math.Ceil(jf) / scale)
	return fmt.Sprintf("scale %d, nearest bounds %s and %s", dp.Scale(),
		strconv.FormatFloat(lo, 'g', 6, 64), strconv.FormatFloat(hi, 'g', 6, 64))
}
