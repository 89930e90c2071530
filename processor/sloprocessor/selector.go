package sloprocessor

import (
	"context"
	"math"
	"slices"
	"sort"
	"strconv"

	"github.com/cespare/xxhash/v2"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/ottl"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/ottl/contexts/ottldatapoint"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// kv is an attribute to match; integer and boolean forms of the value are
// parsed once so that typed attributes compare without formatting.
type kv struct {
	key, value string
	i          int64
	isInt      bool
}

// selector is a compiled MetricSelector.
type selector struct {
	attrs    []kv
	resAttrs []kv
	cond     *ottl.ConditionSequence[*ottldatapoint.TransformContext]
}

func sortedPairs(m map[string]string) []kv {
	out := make([]kv, 0, len(m))
	for k, v := range m {
		i, err := strconv.ParseInt(v, 10, 64)
		out = append(out, kv{key: k, value: v, i: i, isInt: err == nil})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out
}

func compileSelector(m *MetricSelector, set component.TelemetrySettings) (*selector, error) {
	s := &selector{attrs: sortedPairs(m.Attributes), resAttrs: sortedPairs(m.ResourceAttributes)}
	if m.Condition != "" {
		var err error
		if s.cond, err = parseCondition(m.Condition, set); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func mapMatches(m pcommon.Map, want []kv) bool {
	for _, p := range want {
		v, ok := m.Get(p.key)
		if !ok {
			return false
		}
		switch v.Type() {
		case pcommon.ValueTypeStr:
			if v.Str() != p.value {
				return false
			}
		case pcommon.ValueTypeInt:
			if !p.isInt || v.Int() != p.i {
				return false
			}
		default:
			if v.AsString() != p.value {
				return false
			}
		}
	}
	return true
}

// matchesAttrs reports whether a data point's attributes and resource
// attributes are selected.
func (s *selector) matchesAttrs(rm pmetric.ResourceMetrics, attrs pcommon.Map) bool {
	return mapMatches(rm.Resource().Attributes(), s.resAttrs) && mapMatches(attrs, s.attrs)
}

// matchesCondition evaluates the OTTL condition on a data point (a
// pmetric.*DataPoint). Callers check cond != nil first: boxing the point
// allocates.
func (s *selector) matchesCondition(ctx context.Context, rm pmetric.ResourceMetrics, sm pmetric.ScopeMetrics, m pmetric.Metric, dp any) bool {
	tCtx := ottldatapoint.NewTransformContextPtr(rm, sm, m, dp)
	defer tCtx.Close()
	ok, err := s.cond.Eval(ctx, tCtx)
	return err == nil && ok
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
