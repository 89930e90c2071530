// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package sloimport

import (
	"bytes"
	"fmt"

	"go.yaml.in/yaml/v3"

	"github.com/otelcol-sre/otelcol-sre/processor/sloprocessor"
)

// Marshal writes converted SLOs as the slo processor's configuration (the
// keys under processors: slo:), headed by the source and the notes.
func Marshal(slos []sloprocessor.SLOConfig, source string, notes []string) ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# slo processor configuration converted by `slo-backtest convert` from %s.\n", source)
	for _, n := range notes {
		fmt.Fprintf(&b, "# Note: %s\n", n)
	}
	list := make([]map[string]any, 0, len(slos))
	for _, s := range slos {
		list = append(list, sloMap(s))
	}
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(map[string]any{"slos": list}); err != nil {
		return nil, err
	}
	return b.Bytes(), enc.Close()
}

// sloMap writes the fields a conversion sets, under their configuration keys.
func sloMap(s sloprocessor.SLOConfig) map[string]any {
	m := map[string]any{"name": s.Name}
	put := func(k string, v string) {
		if v != "" {
			m[k] = v
		}
	}
	put("service", s.Service)
	put("description", s.Description)
	put("budgeting_method", s.BudgetingMethod)
	o := map[string]any{"target": s.Objective.Target}
	if s.Objective.TargetPercent != 0 {
		o = map[string]any{"target_percent": s.Objective.TargetPercent}
	}
	if s.Objective.TimeSliceWindow != 0 {
		o["time_slice_target"] = s.Objective.TimeSliceTarget
		o["time_slice_window"] = s.Objective.TimeSliceWindow.String()
	}
	m["objective"] = o
	tw := map[string]any{"duration": s.TimeWindow.Duration}
	if s.TimeWindow.Calendar != nil {
		tw["calendar"] = map[string]any{"time_zone": s.TimeWindow.Calendar.TimeZone}
	}
	m["time_window"] = tw
	switch ind := s.Indicator; {
	case ind.Latency != nil:
		l := selectorMap(&ind.Latency.MetricSelector)
		l["threshold"] = ind.Latency.Threshold.String()
		if ind.Latency.Unit != "" {
			l["unit"] = ind.Latency.Unit
		}
		m["indicator"] = map[string]any{"latency": l}
	case ind.Ratio != nil:
		r := map[string]any{"total": selectorMap(ind.Ratio.Total)}
		if ind.Ratio.Good != nil {
			r["good"] = selectorMap(ind.Ratio.Good)
		}
		if ind.Ratio.Bad != nil {
			r["bad"] = selectorMap(ind.Ratio.Bad)
		}
		m["indicator"] = map[string]any{"ratio": r}
	}
	return m
}

func selectorMap(sel *sloprocessor.MetricSelector) map[string]any {
	m := map[string]any{"metric": sel.Metric}
	if len(sel.Attributes) > 0 {
		m["attributes"] = sel.Attributes
	}
	if len(sel.ResourceAttributes) > 0 {
		m["resource_attributes"] = sel.ResourceAttributes
	}
	if sel.Condition != "" {
		m["condition"] = sel.Condition
	}
	return m
}
