// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package sloimport

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/otelcol-sre/otelcol-sre/processor/sloprocessor"
)

// openSLODoc is one OpenSLO v1 document (SLO or SLI; others are skipped).
type openSLODoc struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Spec openSLOSpec `yaml:"spec"`
}

type openSLOSpec struct {
	// SLO
	Description     string       `yaml:"description"`
	Service         string       `yaml:"service"`
	Indicator       *openSLODoc  `yaml:"indicator"`
	IndicatorRef    string       `yaml:"indicatorRef"`
	BudgetingMethod string       `yaml:"budgetingMethod"`
	TimeWindow      []timeWindow `yaml:"timeWindow"`
	Objectives      []objective  `yaml:"objectives"`
	// SLI
	RatioMetric *struct {
		Counter bool          `yaml:"counter"`
		Good    *metricHolder `yaml:"good"`
		Bad     *metricHolder `yaml:"bad"`
		Total   *metricHolder `yaml:"total"`
		Raw     *metricHolder `yaml:"raw"`
	} `yaml:"ratioMetric"`
	ThresholdMetric *metricHolder `yaml:"thresholdMetric"`
}

type timeWindow struct {
	Duration  string `yaml:"duration"`
	IsRolling bool   `yaml:"isRolling"`
	Calendar  *struct {
		TimeZone string `yaml:"timeZone"`
	} `yaml:"calendar"`
}

type objective struct {
	DisplayName     string   `yaml:"displayName"`
	Op              string   `yaml:"op"`
	Value           *float64 `yaml:"value"`
	Target          float64  `yaml:"target"`
	TargetPercent   float64  `yaml:"targetPercent"`
	TimeSliceTarget *float64 `yaml:"timeSliceTarget"`
	// TimeSliceWindow is a duration (5m) or a number of minutes.
	TimeSliceWindow string `yaml:"timeSliceWindow"`
}

type metricHolder struct {
	MetricSource struct {
		Type string `yaml:"type"`
		Spec struct {
			Query string `yaml:"query"`
		} `yaml:"spec"`
	} `yaml:"metricSource"`
}

// query returns the Prometheus query of a metric source.
func (m *metricHolder) query(field string) (string, error) {
	if m == nil {
		return "", fmt.Errorf("%s: required", field)
	}
	if t := m.MetricSource.Type; !strings.EqualFold(t, "Prometheus") {
		return "", fmt.Errorf("%s.metricSource.type %q: only Prometheus queries convert (the processor reads the metrics the collector sees)", field, t)
	}
	return m.MetricSource.Spec.Query, nil
}

func convertOpenSLO(b []byte) ([]sloprocessor.SLOConfig, []string, error) {
	docs, err := decodeAll[openSLODoc](b)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the OpenSLO documents: %w", err)
	}
	slis := map[string]*openSLODoc{}
	for i := range docs {
		if docs[i].Kind == "SLI" {
			slis[docs[i].Metadata.Name] = &docs[i]
		}
	}
	var out []sloprocessor.SLOConfig
	var notes []string
	var errs []error
	n := 0
	for _, d := range docs {
		if d.Kind != "SLO" {
			continue
		}
		if d.APIVersion != "openslo/v1" {
			errs = append(errs, fmt.Errorf("SLO %s: apiVersion %q: only openslo/v1 converts", d.Metadata.Name, d.APIVersion))
			continue
		}
		slos, ns, err := convertOpenSLOSLO(d, slis)
		if err != nil {
			errs = append(errs, fmt.Errorf("SLO %s: %w", d.Metadata.Name, err))
		}
		out = append(out, slos...)
		notes = append(notes, ns...)
		n++
	}
	if n == 0 && len(errs) == 0 {
		errs = append(errs, errors.New("no OpenSLO SLO document (kind: SLO)"))
	}
	return out, notes, errors.Join(errs...)
}

func convertOpenSLOSLO(d openSLODoc, slis map[string]*openSLODoc) ([]sloprocessor.SLOConfig, []string, error) {
	s := d.Spec
	method := sloprocessor.Occurrences
	switch strings.ToLower(s.BudgetingMethod) {
	case "occurrences", "":
	case "timeslices":
		method = sloprocessor.Timeslices
	case "ratiotimeslices":
		return nil, nil, fmt.Errorf("budgetingMethod %s: the mean of the slices' ratios is not implemented by the processor — use Timeslices (the share of good slices) or Occurrences", s.BudgetingMethod)
	default:
		return nil, nil, fmt.Errorf("budgetingMethod %q: unknown — use Occurrences or Timeslices", s.BudgetingMethod)
	}
	if len(s.TimeWindow) != 1 {
		return nil, nil, fmt.Errorf("timeWindow: exactly one window converts, got %d", len(s.TimeWindow))
	}
	tw := s.TimeWindow[0]
	window := sloprocessor.TimeWindowConfig{Duration: tw.Duration}
	if !tw.IsRolling || tw.Calendar != nil {
		if tw.Duration != "1M" && tw.Duration != "1w" {
			return nil, nil, fmt.Errorf("timeWindow: calendar window %q: only 1M (month) and 1w (week) convert", tw.Duration)
		}
		window.Calendar = &sloprocessor.CalendarConfig{}
		if tw.Calendar != nil {
			window.Calendar.TimeZone = tw.Calendar.TimeZone
		}
	}
	sli := s.Indicator
	if sli == nil {
		if sli = slis[s.IndicatorRef]; sli == nil {
			return nil, nil, fmt.Errorf("indicatorRef %q: no SLI document of that name in the input — inline the indicator or add the SLI", s.IndicatorRef)
		}
	}
	if len(s.Objectives) == 0 {
		return nil, nil, errors.New("objectives: at least one required")
	}
	var out []sloprocessor.SLOConfig
	var notes []string
	for i, o := range s.Objectives {
		name := d.Metadata.Name
		if len(s.Objectives) > 1 {
			suffix := o.DisplayName
			if suffix == "" {
				suffix = fmt.Sprint(i)
			}
			name += "-" + strings.ToLower(strings.ReplaceAll(suffix, " ", "-"))
		}
		ind, n, err := openSLOIndicator(sli.Spec, o)
		if err != nil {
			return out, notes, fmt.Errorf("objectives[%d]: %w", i, err)
		}
		slo := sloprocessor.SLOConfig{
			Name: name, Service: s.Service, Description: s.Description,
			Objective:  sloprocessor.ObjectiveConfig{Target: o.Target, TargetPercent: o.TargetPercent},
			TimeWindow: window, BudgetingMethod: method, Indicator: ind,
		}
		if method == sloprocessor.Timeslices {
			sn, err := openSLOSlices(&slo, sli.Spec, o)
			if err != nil {
				return out, notes, fmt.Errorf("objectives[%d]: %w", i, err)
			}
			n = append(n, sn...)
		}
		notes = append(notes, n...)
		out = append(out, slo)
	}
	return out, notes, nil
}

// openSLOSlices sets a Timeslices SLO's slices from the objective. A ratio
// metric's slice is good when its SLI is at least timeSliceTarget. A
// threshold metric's slice is good when its value meets the threshold: the
// converted indicator compares each request with the threshold, and a
// histogram_quantile(q, ...) ≤ threshold over a slice means at least q of
// its requests are within it, so q is the slice target.
func openSLOSlices(slo *sloprocessor.SLOConfig, sli openSLOSpec, o objective) ([]string, error) {
	if o.TimeSliceWindow == "" {
		return nil, errors.New("timeSliceWindow: required with budgetingMethod Timeslices, e.g. 1m")
	}
	w := o.TimeSliceWindow
	if _, err := strconv.ParseUint(w, 10, 32); err == nil {
		w += "m" // a number is minutes
	}
	if err := slo.Objective.TimeSliceWindow.UnmarshalText([]byte(w)); err != nil {
		return nil, fmt.Errorf("timeSliceWindow: %w", err)
	}
	if sli.ThresholdMetric == nil {
		if o.TimeSliceTarget == nil {
			return nil, errors.New("timeSliceTarget: required with budgetingMethod Timeslices, e.g. 0.95")
		}
		slo.Objective.TimeSliceTarget = *o.TimeSliceTarget
		return nil, nil
	}
	q, _ := sli.ThresholdMetric.query("thresholdMetric")
	quantile, ok := quantileOf(q)
	if !ok {
		return nil, fmt.Errorf("thresholdMetric %q: with Timeslices the query must be histogram_quantile(q, ...) with a number q: a slice is good when at least q of its requests are within the threshold", q)
	}
	slo.Objective.TimeSliceTarget = quantile
	note := fmt.Sprintf("%s: a slice is good when its %v-quantile is within %v, i.e. at least %v of its requests are (time_slice_target %v), taken once over every request of the slice", slo.Name, quantile, *o.Value, quantile, quantile)
	if o.TimeSliceTarget != nil && *o.TimeSliceTarget != 1 {
		note += fmt.Sprintf("; timeSliceTarget %v (the share of the query's samples in a slice that must meet the threshold) has no samples to count and is not used", *o.TimeSliceTarget)
	}
	return []string{note}, nil
}

// quantileOf returns q of a query histogram_quantile(q, ...).
func quantileOf(query string) (float64, bool) {
	expr, err := promqlParser.ParseExpr(windowVar.ReplaceAllString(query, "5m"))
	if err != nil {
		return 0, false
	}
	for {
		p, ok := expr.(*parser.ParenExpr)
		if !ok {
			break
		}
		expr = p.Expr
	}
	call, ok := expr.(*parser.Call)
	if !ok || call.Func.Name != "histogram_quantile" || len(call.Args) != 2 {
		return 0, false
	}
	n, ok := call.Args[0].(*parser.NumberLiteral)
	if !ok || !(n.Val > 0 && n.Val <= 1) {
		return 0, false
	}
	return n.Val, true
}

func openSLOIndicator(sli openSLOSpec, o objective) (sloprocessor.IndicatorConfig, []string, error) {
	if r := sli.RatioMetric; r != nil {
		if r.Raw != nil {
			return sloprocessor.IndicatorConfig{}, nil, errors.New("ratioMetric.raw: a precomputed ratio has no event counts; give good or bad and total")
		}
		if !r.Counter {
			return sloprocessor.IndicatorConfig{}, nil, errors.New("ratioMetric.counter: false (gauges) does not convert: the processor counts events from counters and histograms")
		}
		tq, err := r.Total.query("ratioMetric.total")
		if err != nil {
			return sloprocessor.IndicatorConfig{}, nil, err
		}
		total, err := selectorOf(tq)
		if err != nil {
			return sloprocessor.IndicatorConfig{}, nil, fmt.Errorf("ratioMetric.total: %w", err)
		}
		field, holder := "ratioMetric.good", r.Good
		if r.Bad != nil {
			field, holder = "ratioMetric.bad", r.Bad
		}
		q, err := holder.query(field)
		if err != nil {
			return sloprocessor.IndicatorConfig{}, nil, err
		}
		c, err := selectorOf(q)
		if err != nil {
			return sloprocessor.IndicatorConfig{}, nil, fmt.Errorf("%s: %w", field, err)
		}
		if r.Bad != nil {
			return indicator(nil, &c, total)
		}
		return indicator(&c, nil, total)
	}
	if sli.ThresholdMetric != nil {
		q, err := sli.ThresholdMetric.query("thresholdMetric")
		if err != nil {
			return sloprocessor.IndicatorConfig{}, nil, err
		}
		if o.Op != "lte" && o.Op != "lt" {
			return sloprocessor.IndicatorConfig{}, nil, fmt.Errorf("op %q: only lte/lt convert (an event is good at or under the threshold)", o.Op)
		}
		if o.Value == nil {
			return sloprocessor.IndicatorConfig{}, nil, errors.New("value: the threshold is required for a thresholdMetric")
		}
		sel, err := histogramOf(q)
		if err != nil {
			return sloprocessor.IndicatorConfig{}, nil, fmt.Errorf("thresholdMetric: %w", err)
		}
		ind, _, err := latency(sel, *o.Value)
		note := fmt.Sprintf("%s: thresholdMetric becomes a latency indicator: each request is compared with %v instead of each sample of the query (%s); the threshold must be a bucket bound", sel.Metric, *o.Value, q)
		return ind, []string{note}, err
	}
	return sloprocessor.IndicatorConfig{}, nil, errors.New("indicator: ratioMetric or thresholdMetric required")
}

// histogramOf finds the histogram a threshold query reads: its one _bucket
// selector (histogram_quantile over rate of it, typically).
func histogramOf(query string) (*sloprocessor.MetricSelector, error) {
	expr, err := promqlParser.ParseExpr(windowVar.ReplaceAllString(query, "5m"))
	if err != nil {
		return nil, fmt.Errorf("%q is not PromQL: %w", query, err)
	}
	var found []*parser.VectorSelector
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			found = append(found, vs)
		}
		return nil
	})
	if len(found) != 1 || !strings.HasSuffix(found[0].Name, "_bucket") {
		return nil, fmt.Errorf("%q: a threshold converts only on one histogram's buckets (histogram_quantile over x_bucket); a gauge's samples are not events", query)
	}
	var ms []*labels.Matcher
	for _, m := range found[0].LabelMatchers {
		switch m.Name {
		case "le":
		case model.MetricNameLabel:
			ms = append(ms, labels.MustNewMatcher(m.Type, m.Name, strings.TrimSuffix(m.Value, "_bucket")))
		default:
			ms = append(ms, m)
		}
	}
	c, err := matchersToSelector(query, ms)
	if err != nil {
		return nil, err
	}
	return c.sel, nil
}
