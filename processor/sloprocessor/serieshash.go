// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package sloprocessor

import (
	"math"
	"slices"

	"github.com/cespare/xxhash/v2"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// Series, group and producer keys: order-independent hashes of attributes
// that allocate nothing for scalar values.

// producerKey identifies the exporter of a cumulative series: its resource,
// metric and start time (see counter.Point.Producer).
func producerKey(metricHash, resHash uint64, start pcommon.Timestamp) uint64 {
	return mix64(metricHash ^ mix64(resHash^mix64(uint64(start)+1)))
}

// mix64 is the splitmix64 finalizer: it spreads the bits of x.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// valueHash hashes an attribute value without allocating for the scalar types.
func valueHash(v pcommon.Value) uint64 {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return xxhash.Sum64String(v.Str())
	case pcommon.ValueTypeInt:
		return mix64(uint64(v.Int()) ^ 0x1)
	case pcommon.ValueTypeDouble:
		return mix64(math.Float64bits(v.Double()) ^ 0x2)
	case pcommon.ValueTypeBool:
		if v.Bool() {
			return mix64(0x3)
		}
		return mix64(0x4)
	case pcommon.ValueTypeEmpty:
		return mix64(0x5)
	default:
		return xxhash.Sum64String(v.AsString()) ^ uint64(v.Type())
	}
}

// mapHash hashes a set of attributes independent of their order: producers
// may send the same attributes in any order.
func mapHash(m pcommon.Map) uint64 {
	var h uint64
	for k, v := range m.All() {
		h += mix64(xxhash.Sum64String(k) ^ mix64(valueHash(v)))
	}
	return mix64(h ^ uint64(m.Len()))
}

// groupKey hashes the values of the group_by attributes of a point, looked
// up in the data point attributes first and the resource attributes second.
func groupKey(groupBy []string, attrs, res pcommon.Map) uint64 {
	h := uint64(len(groupBy))
	for i, name := range groupBy {
		v, ok := attrs.Get(name)
		if !ok {
			v, ok = res.Get(name)
		}
		e := uint64(0x9e3779b97f4a7c15)
		if ok {
			e = valueHash(v)
		}
		h = mix64(h ^ e ^ uint64(i)<<56)
	}
	return h
}

// groupValues returns the group_by values of a point as strings; absent
// attributes are empty.
func groupValues(groupBy []string, attrs, res pcommon.Map) []string {
	out := make([]string, len(groupBy))
	for i, name := range groupBy {
		v, ok := attrs.Get(name)
		if !ok {
			v, ok = res.Get(name)
		}
		if ok {
			out[i] = v.AsString()
		}
	}
	return slices.Clip(out)
}
