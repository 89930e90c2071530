// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package sloprocessor

import (
	"context"
	"sort"
	"strconv"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/ottl"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/ottl/contexts/ottldatapoint"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// kv is an attribute to match. Its integer form, when it has one, is parsed
// once so that integer attributes compare without formatting; string
// attributes compare as they are and the other types by their string form.
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
