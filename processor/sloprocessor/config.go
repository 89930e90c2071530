// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package sloprocessor

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/ottl"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/ottl/contexts/ottldatapoint"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/ottl/ottlfuncs"
	"go.opentelemetry.io/collector/component"
	"go.uber.org/zap"
)

// Config is the slo processor's configuration. Each SLO is shaped after
// OpenSLO (objective, time_window, budgeting_method, indicator) in the
// collector's snake_case.
type Config struct {
	// EvaluationInterval is how often the processor emits its metrics.
	EvaluationInterval time.Duration `mapstructure:"evaluation_interval"`
	// Storage names a storage extension (file_storage) that keeps windows,
	// budgets and counter baselines across restarts.
	Storage *component.ID `mapstructure:"storage"`
	// PersistInterval is how often state is written to Storage (and at
	// shutdown).
	PersistInterval time.Duration `mapstructure:"persist_interval"`
	// Resolution is the slot width of the SLI and burn rate windows.
	Resolution Duration `mapstructure:"resolution"`
	// BudgetResolution is the slot width of each SLO's own time window.
	BudgetResolution Duration `mapstructure:"budget_resolution"`
	// Windows are the SLI and burn rate windows.
	Windows []Duration `mapstructure:"windows"`
	// InitialValue says what the first cumulative point of a series counts
	// for: auto, keep or drop (as in cumulativetodelta).
	InitialValue string `mapstructure:"initial_value"`
	// StaleAfter forgets series that had no point for this long.
	StaleAfter time.Duration `mapstructure:"stale_after"`
	// MaxSeries bounds the series tracked per SLO.
	MaxSeries int `mapstructure:"max_series"`
	// MaxGroups bounds the group_by combinations per SLO.
	MaxGroups int `mapstructure:"max_groups"`
	// MaxFutureSkew is how far ahead of the collector's clock a point may be.
	MaxFutureSkew time.Duration `mapstructure:"max_future_skew"`
	// Alerting holds the multi-window multi-burn-rate rules.
	Alerting AlertingConfig `mapstructure:"alerting"`
	// SLOs are the objectives to compute.
	SLOs []SLOConfig `mapstructure:"slos"`

	_ struct{}
}

// AlertingConfig holds the multi-window multi-burn-rate alert rules.
type AlertingConfig struct {
	// MinEvents is how many events a rule's long window needs to fire.
	MinEvents float64 `mapstructure:"min_events"`
	// Rules fire when the burn rate over both windows reaches the factor.
	Rules []AlertRule `mapstructure:"rules"`
}

// AlertRule is one multi-window multi-burn-rate rule.
type AlertRule struct {
	Severity    string   `mapstructure:"severity"`
	Factor      float64  `mapstructure:"factor"`
	LongWindow  Duration `mapstructure:"long_window"`
	ShortWindow Duration `mapstructure:"short_window"`
}

// SLOConfig is one service level objective.
type SLOConfig struct {
	Name            string           `mapstructure:"name"`
	Service         string           `mapstructure:"service"`
	Description     string           `mapstructure:"description"`
	Objective       ObjectiveConfig  `mapstructure:"objective"`
	TimeWindow      TimeWindowConfig `mapstructure:"time_window"`
	BudgetingMethod string           `mapstructure:"budgeting_method"`
	// GroupBy splits the SLO by these attributes (data point attributes
	// first, then resource attributes); max_groups bounds it.
	GroupBy   []string        `mapstructure:"group_by"`
	Indicator IndicatorConfig `mapstructure:"indicator"`
}

// ObjectiveConfig holds the target, as a ratio or a percentage, and for
// budgeting_method: Timeslices the slices (OpenSLO's timeSliceTarget and
// timeSliceWindow).
type ObjectiveConfig struct {
	Target        float64 `mapstructure:"target"`
	TargetPercent float64 `mapstructure:"target_percent"`
	// TimeSliceTarget is the SLI a slice's events need for the slice to be
	// good, in (0,1].
	TimeSliceTarget float64 `mapstructure:"time_slice_target"`
	// TimeSliceWindow is the length of a slice.
	TimeSliceWindow Duration `mapstructure:"time_slice_window"`
}

// TimeWindowConfig is the SLO's own window: rolling ("30d") or calendar
// ("1M" or "1w" with calendar.time_zone).
type TimeWindowConfig struct {
	Duration  string          `mapstructure:"duration"`
	IsRolling *bool           `mapstructure:"is_rolling"`
	Calendar  *CalendarConfig `mapstructure:"calendar"`
}

// CalendarConfig places calendar windows in a time zone.
type CalendarConfig struct {
	TimeZone string `mapstructure:"time_zone"`
}

// IndicatorConfig holds exactly one indicator.
type IndicatorConfig struct {
	Latency *LatencyConfig `mapstructure:"latency"`
	Ratio   *RatioConfig   `mapstructure:"ratio"`
}

// LatencyConfig counts events of a histogram under a threshold as good.
type LatencyConfig struct {
	MetricSelector `mapstructure:",squash"`
	// Threshold is the latency under which (inclusive) an event is good.
	Threshold time.Duration `mapstructure:"threshold"`
	// Unit overrides the histogram's unit (s, ms, us, ns) when it is unset
	// or not a time unit.
	Unit string `mapstructure:"unit"`
	// Interpolate allows a threshold between bucket bounds, assuming
	// events spread evenly inside the bucket. Approximate.
	Interpolate bool `mapstructure:"interpolate"`
}

// RatioConfig counts good (or bad) events against total events.
type RatioConfig struct {
	Total *MetricSelector `mapstructure:"total"`
	Good  *MetricSelector `mapstructure:"good"`
	Bad   *MetricSelector `mapstructure:"bad"`
}

// MetricSelector picks the data points of one metric: a counter or sum, or a
// histogram whose count is used.
type MetricSelector struct {
	Metric             string            `mapstructure:"metric"`
	Attributes         map[string]string `mapstructure:"attributes"`
	ResourceAttributes map[string]string `mapstructure:"resource_attributes"`
	// Condition is an OTTL datapoint condition, e.g.
	// attributes["http.response.status_code"] >= 500.
	Condition string `mapstructure:"condition"`
}

var (
	errNoSLOs    = errors.New("slos: at least one SLO is required")
	validInitial = []string{"auto", "keep", "drop"}
)

// Validate checks the configuration; errors name the field and the fix.
func (cfg *Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if cfg.EvaluationInterval <= 0 {
		add("evaluation_interval: must be positive, got %v — e.g. 60s", cfg.EvaluationInterval)
	}
	if cfg.Storage != nil && cfg.PersistInterval <= 0 {
		add("persist_interval: must be positive with storage set, got %v — e.g. 5m", cfg.PersistInterval)
	}
	if cfg.Resolution <= 0 {
		add("resolution: must be positive, got %v — e.g. 1m", cfg.Resolution)
	}
	if cfg.BudgetResolution <= 0 {
		add("budget_resolution: must be positive, got %v — e.g. 15m", cfg.BudgetResolution)
	}
	if len(cfg.Windows) == 0 {
		add("windows: at least one window is required, e.g. [5m, 30m, 1h, 2h, 6h, 1d, 3d]")
	}
	for i, w := range cfg.Windows {
		if cfg.Resolution > 0 && (w <= 0 || w%cfg.Resolution != 0) {
			add("windows[%d]: %v is not a positive multiple of resolution %v — use a multiple or a finer resolution", i, w, cfg.Resolution)
		}
		if slices.Index(cfg.Windows, w) != i {
			add("windows[%d]: %v is listed twice — remove the duplicate", i, w)
		}
	}
	if !slices.Contains(validInitial, cfg.InitialValue) {
		add("initial_value: must be one of %s, got %q", strings.Join(validInitial, ", "), cfg.InitialValue)
	}
	if cfg.StaleAfter <= 0 {
		add("stale_after: must be positive, got %v — e.g. 15m", cfg.StaleAfter)
	}
	if cfg.MaxSeries <= 0 {
		add("max_series: must be positive, got %d", cfg.MaxSeries)
	}
	if cfg.MaxGroups <= 0 {
		add("max_groups: must be positive, got %d", cfg.MaxGroups)
	}
	if cfg.MaxFutureSkew < 0 {
		add("max_future_skew: must not be negative, got %v", cfg.MaxFutureSkew)
	}
	if cfg.Alerting.MinEvents < 0 {
		add("alerting.min_events: must not be negative, got %v", cfg.Alerting.MinEvents)
	}
	for i, r := range cfg.Alerting.Rules {
		if r.Severity == "" {
			add("alerting.rules[%d].severity: required, e.g. page or ticket", i)
		}
		if !(r.Factor > 0) {
			add("alerting.rules[%d].factor: must be positive, got %v — e.g. 14.4", i, r.Factor)
		}
		for _, w := range []struct {
			name string
			d    Duration
		}{{"long_window", r.LongWindow}, {"short_window", r.ShortWindow}} {
			if !slices.Contains(cfg.Windows, w.d) {
				add("alerting.rules[%d].%s: %v is not one of windows %v — add it to windows", i, w.name, w.d, cfg.Windows)
			}
		}
	}
	processorWideOK := len(errs) == 0
	if len(cfg.SLOs) == 0 {
		errs = append(errs, errNoSLOs)
	}
	names := map[string]int{}
	for i := range cfg.SLOs {
		s := &cfg.SLOs[i]
		if j, dup := names[s.Name]; dup && s.Name != "" {
			add("slos[%d].name: %q is already the name of slos[%d] — names must be unique", i, s.Name, j)
		}
		names[s.Name] = i
		for _, err := range s.validate(cfg, processorWideOK) {
			if s.Name != "" {
				err = fmt.Errorf("slo %q: slos[%d].%w", s.Name, i, err)
			} else {
				err = fmt.Errorf("slos[%d].%w", i, err)
			}
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// validate checks one SLO. processorWideOK tells whether the processor-wide
// settings are valid: only then can the SLO's spec be prepared.
func (s *SLOConfig) validate(cfg *Config, processorWideOK bool) []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if s.Name == "" {
		add("name: required, e.g. checkout-availability")
	}
	if _, fieldErrs, prepareErr := cfg.sloSpec(s); len(fieldErrs) > 0 {
		errs = append(errs, fieldErrs...)
	} else if prepareErr != nil && processorWideOK {
		errs = append(errs, prepareErr)
	}
	for i, a := range s.GroupBy {
		if a == "" || slices.Index(s.GroupBy, a) != i {
			add("group_by[%d]: %q must be a non-empty attribute name listed once", i, a)
		}
	}
	ind := s.Indicator
	switch {
	case (ind.Latency == nil) == (ind.Ratio == nil):
		add("indicator: set exactly one of latency or ratio")
	case ind.Latency != nil:
		l := ind.Latency
		errs = append(errs, l.MetricSelector.validate("indicator.latency")...)
		if l.Threshold <= 0 {
			add("indicator.latency.threshold: must be a positive duration with unit, e.g. 10ms, got %v", l.Threshold)
		}
		if _, ok := unitDurations[l.Unit]; l.Unit != "" && !ok {
			add("indicator.latency.unit: %q is not a time unit — use one of s, ms, us, ns", l.Unit)
		}
	default:
		r := ind.Ratio
		if r.Total == nil {
			add("indicator.ratio.total: required — the metric counting all events")
		} else {
			errs = append(errs, r.Total.validate("indicator.ratio.total")...)
		}
		switch {
		case (r.Good == nil) == (r.Bad == nil):
			add("indicator.ratio: set exactly one of good or bad")
		case r.Good != nil:
			errs = append(errs, r.Good.validate("indicator.ratio.good")...)
		default:
			errs = append(errs, r.Bad.validate("indicator.ratio.bad")...)
		}
	}
	return errs
}

func (m *MetricSelector) validate(field string) []error {
	var errs []error
	if m.Metric == "" {
		errs = append(errs, fmt.Errorf("%s.metric: required — the name of the metric to read", field))
	}
	if m.Condition != "" {
		if _, err := parseCondition(m.Condition, component.TelemetrySettings{Logger: zap.NewNop()}); err != nil {
			errs = append(errs, fmt.Errorf("%s.condition: %w", field, err))
		}
	}
	return errs
}

// parseCondition compiles an OTTL datapoint condition the way the filter
// processor does.
func parseCondition(cond string, set component.TelemetrySettings) (*ottl.ConditionSequence[*ottldatapoint.TransformContext], error) {
	parser, err := ottldatapoint.NewParser(ottlfuncs.StandardConverters[*ottldatapoint.TransformContext](), set)
	if err != nil {
		return nil, err
	}
	c, err := parser.ParseCondition(cond)
	if err != nil {
		return nil, err
	}
	seq := ottldatapoint.NewConditionSequence([]*ottl.Condition[*ottldatapoint.TransformContext]{c}, set,
		ottldatapoint.WithConditionSequenceErrorMode(ottl.IgnoreError))
	return &seq, nil
}

// unitDurations maps the UCUM time units histograms use to their length.
var unitDurations = map[string]time.Duration{
	"s": time.Second, "ms": time.Millisecond, "us": time.Microsecond, "µs": time.Microsecond,
	"ns": time.Nanosecond, "min": time.Minute, "h": time.Hour,
}
