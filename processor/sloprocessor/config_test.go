// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package sloprocessor

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/confmap/xconfmap"

	"github.com/otelcol-sre/otelcol-sre/processor/sloprocessor/internal/metadata"
)

func ptr[T any](v T) *T { return &v }

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	def := createDefaultConfig().(*Config)
	minimal := createDefaultConfig().(*Config)
	minimal.SLOs = []SLOConfig{{
		Name:       "checkout-availability",
		Objective:  ObjectiveConfig{Target: 0.99},
		TimeWindow: TimeWindowConfig{Duration: "30d"},
		Indicator: IndicatorConfig{Ratio: &RatioConfig{
			Total: &MetricSelector{Metric: "http.server.request.count"},
			Bad:   &MetricSelector{Metric: "http.server.request.count", Condition: `attributes["http.response.status_code"] >= 500`},
		}},
	}}

	storageID := component.MustNewID("file_storage")
	full := &Config{
		EvaluationInterval: 30 * time.Second,
		Storage:            &storageID,
		PersistInterval:    time.Minute,
		Resolution:         Duration(30 * time.Second),
		BudgetResolution:   Duration(5 * time.Minute),
		Windows:            []Duration{Duration(5 * time.Minute), Duration(time.Hour), Duration(6 * time.Hour), Duration(72 * time.Hour)},
		InitialValue:       "keep",
		StaleAfter:         10 * time.Minute,
		MaxSeries:          500,
		MaxGroups:          20,
		MaxFutureSkew:      30 * time.Second,
		Alerting: AlertingConfig{MinEvents: 50, Rules: []AlertRule{
			{Severity: "page", Factor: 14.4, LongWindow: Duration(time.Hour), ShortWindow: Duration(5 * time.Minute)},
			{Severity: "ticket", Factor: 1, LongWindow: Duration(72 * time.Hour), ShortWindow: Duration(6 * time.Hour)},
		}},
		SLOs: []SLOConfig{
			{
				Name:            "checkout-latency",
				Service:         "checkout",
				Description:     "99% of GET /checkout calls complete within 10ms",
				Objective:       ObjectiveConfig{TargetPercent: 99},
				TimeWindow:      TimeWindowConfig{Duration: "1M", Calendar: &CalendarConfig{TimeZone: "Europe/Berlin"}},
				BudgetingMethod: "Occurrences",
				GroupBy:         []string{"http.route"},
				Indicator: IndicatorConfig{Latency: &LatencyConfig{
					MetricSelector: MetricSelector{
						Metric:             "http.server.request.duration",
						Attributes:         map[string]string{"http.request.method": "GET"},
						ResourceAttributes: map[string]string{"service.name": "checkout"},
					},
					Threshold:   10 * time.Millisecond,
					Unit:        "s",
					Interpolate: true,
				}},
			},
			{
				Name:       "payments-success",
				Service:    "payments",
				Objective:  ObjectiveConfig{Target: 0.999},
				TimeWindow: TimeWindowConfig{Duration: "4w", IsRolling: ptr(true)},
				Indicator: IndicatorConfig{Ratio: &RatioConfig{
					Total: &MetricSelector{Metric: "payments.attempts"},
					Good:  &MetricSelector{Metric: "payments.succeeded", Condition: `resource.attributes["deployment.environment"] == "prod"`},
				}},
			},
		},
	}

	timeslices := createDefaultConfig().(*Config)
	timeslices.SLOs = []SLOConfig{{
		Name:            "uptime",
		Objective:       ObjectiveConfig{Target: 0.99, TimeSliceTarget: 0.95, TimeSliceWindow: Duration(time.Minute)},
		TimeWindow:      TimeWindowConfig{Duration: "30d"},
		BudgetingMethod: "Timeslices",
		Indicator:       IndicatorConfig{Ratio: &RatioConfig{Total: &MetricSelector{Metric: "a"}, Good: &MetricSelector{Metric: "b"}}},
	}}

	tests := []struct {
		id       component.ID
		expected *Config
		wantErr  string
	}{
		{id: component.NewID(metadata.Type), expected: minimal},
		{id: component.NewIDWithName(metadata.Type, "full"), expected: full},
		{id: component.NewIDWithName(metadata.Type, "timeslices"), expected: timeslices},
		{id: component.NewIDWithName(metadata.Type, "timeslices_invalid"), wantErr: `slo "timeslices": slos[0].objective.time_slice_target: must be in (0,1], got 95 — did you mean 0.95?`},
	}
	for _, tt := range tests {
		t.Run(tt.id.String(), func(t *testing.T) {
			cfg := createDefaultConfig()
			sub, err := cm.Sub(tt.id.String())
			require.NoError(t, err)
			require.NoError(t, sub.Unmarshal(cfg))
			if tt.wantErr != "" {
				require.ErrorContains(t, xconfmap.Validate(cfg), tt.wantErr)
				return
			}
			require.NoError(t, xconfmap.Validate(cfg))
			assert.Equal(t, tt.expected, cfg)
		})
	}
	assert.Empty(t, def.SLOs)
}

// validSLO is a minimal valid SLO that tests mutate.
func validSLO() SLOConfig {
	return SLOConfig{
		Name:       "api",
		Objective:  ObjectiveConfig{Target: 0.99},
		TimeWindow: TimeWindowConfig{Duration: "30d"},
		Indicator: IndicatorConfig{Latency: &LatencyConfig{
			MetricSelector: MetricSelector{Metric: "http.server.request.duration"},
			Threshold:      10 * time.Millisecond,
		}},
	}
}

// timeslicesSLO makes the valid SLO a Timeslices SLO.
func timeslicesSLO(target float64, slice time.Duration) func(*Config) {
	return func(c *Config) {
		c.SLOs[0].BudgetingMethod = Timeslices
		c.SLOs[0].Objective.TimeSliceTarget = target
		c.SLOs[0].Objective.TimeSliceWindow = Duration(slice)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr string
	}{
		{"valid", func(*Config) {}, ""},
		{"no SLOs", func(c *Config) { c.SLOs = nil }, "slos: at least one SLO is required"},
		{"target given as a percentage", func(c *Config) { c.SLOs[0].Objective.Target = 99 },
			`slo "api": slos[0].objective.target: must be in (0,1), got 99 — did you mean 0.99?`},
		{"target of 1", func(c *Config) { c.SLOs[0].Objective.Target = 1 }, "objective.target: must be in (0,1), got 1"},
		{"both target and target_percent", func(c *Config) { c.SLOs[0].Objective.TargetPercent = 99 }, "set target or target_percent, not both"},
		{"target_percent over 100", func(c *Config) {
			c.SLOs[0].Objective = ObjectiveConfig{TargetPercent: 100}
		}, "objective.target_percent: must be in (0,100), got 100"},
		{"missing name", func(c *Config) { c.SLOs[0].Name = "" }, "slos[0].name: required"},
		{"duplicate names", func(c *Config) { c.SLOs = append(c.SLOs, validSLO()) }, `slos[1].name: "api" is already the name of slos[0]`},
		{"Timeslices", timeslicesSLO(1, time.Minute), ""},
		{"Timeslices without a slice", timeslicesSLO(0.95, 0),
			`slo "api": slos[0].objective.time_slice_window: required with budgeting_method: Timeslices — the length of a slice, e.g. 1m or 5m`},
		{"Timeslices without a slice target", timeslicesSLO(0, time.Minute), "objective.time_slice_target: must be in (0,1] with budgeting_method: Timeslices, got 0"},
		{"Timeslices with a slice that does not divide a window", timeslicesSLO(0.95, 2*time.Minute),
			"objective.time_slice_window: 2m does not divide windows[0] 5m — use a slice that divides every window (e.g. 1m), or change windows"},
		{"Timeslices with a slice that does not divide the SLO's window", func(c *Config) {
			timeslicesSLO(0.95, 7*time.Minute)(c)
			c.Windows = []Duration{Duration(7 * time.Minute)}
			c.Alerting.Rules = nil
		}, "objective.time_slice_window: 7m does not divide time_window.duration 30d"},
		{"Timeslices in a calendar week with hour slices", func(c *Config) {
			timeslicesSLO(0.95, time.Hour)(c)
			c.Windows = []Duration{Duration(time.Hour), Duration(6 * time.Hour)}
			c.Alerting.Rules = nil
			c.SLOs[0].TimeWindow = TimeWindowConfig{Duration: "1w", Calendar: &CalendarConfig{TimeZone: "Asia/Kolkata"}}
		}, "objective.time_slice_window: 1h does not divide 15m, which calendar windows need"},
		{"time slices without Timeslices", func(c *Config) { c.SLOs[0].Objective.TimeSliceWindow = Duration(time.Minute) },
			"objective.time_slice_target, time_slice_window: only with budgeting_method: Timeslices — set it or remove them"},
		{"unknown budgeting method", func(c *Config) { c.SLOs[0].BudgetingMethod = "Ratio" }, `budgeting_method: unknown method "Ratio" — use Occurrences (every event weighs the same) or Timeslices (every time slice does)`},
		{"no indicator", func(c *Config) { c.SLOs[0].Indicator = IndicatorConfig{} }, "indicator: set exactly one of latency or ratio"},
		{"latency without metric", func(c *Config) { c.SLOs[0].Indicator.Latency.Metric = "" }, "indicator.latency.metric: required"},
		{"latency without threshold", func(c *Config) { c.SLOs[0].Indicator.Latency.Threshold = 0 }, "indicator.latency.threshold: must be a positive duration with unit, e.g. 10ms"},
		{"latency with a non-time unit", func(c *Config) { c.SLOs[0].Indicator.Latency.Unit = "By" }, `indicator.latency.unit: "By" is not a time unit`},
		{"bad OTTL condition", func(c *Config) { c.SLOs[0].Indicator.Latency.Condition = `attributes["x" ==` }, "indicator.latency.condition:"},
		{"ratio without total", func(c *Config) {
			c.SLOs[0].Indicator = IndicatorConfig{Ratio: &RatioConfig{Good: &MetricSelector{Metric: "g"}}}
		}, "indicator.ratio.total: required"},
		{"ratio with good and bad", func(c *Config) {
			c.SLOs[0].Indicator = IndicatorConfig{Ratio: &RatioConfig{Total: &MetricSelector{Metric: "t"}, Good: &MetricSelector{Metric: "g"}, Bad: &MetricSelector{Metric: "b"}}}
		}, "indicator.ratio: set exactly one of good or bad"},
		{"rolling window in days not a multiple", func(c *Config) { c.SLOs[0].TimeWindow.Duration = "30x" }, "time_window.duration: invalid duration"},
		{"window too short", func(c *Config) { c.SLOs[0].TimeWindow.Duration = "5m" }, "outside 1h..366d"},
		{"calendar of 2 months", func(c *Config) {
			c.SLOs[0].TimeWindow = TimeWindowConfig{Duration: "2M", Calendar: &CalendarConfig{}}
		}, "calendar windows are 1M (month) or 1w (week)"},
		{"unknown time zone", func(c *Config) {
			c.SLOs[0].TimeWindow = TimeWindowConfig{Duration: "1M", Calendar: &CalendarConfig{TimeZone: "Mars/Olympus"}}
		}, "time_window.calendar.time_zone"},
		{"rolling and calendar", func(c *Config) {
			c.SLOs[0].TimeWindow = TimeWindowConfig{Duration: "1M", IsRolling: ptr(true), Calendar: &CalendarConfig{}}
		}, "conflicts with calendar"},
		{"calendar window with a budget resolution that does not divide 15m", func(c *Config) {
			c.BudgetResolution = Duration(10 * time.Minute)
			c.SLOs[0].TimeWindow = TimeWindowConfig{Duration: "1w", Calendar: &CalendarConfig{}}
		}, `slo "api": slos[0].time_window: calendar windows need a budget resolution that divides 15m`},
		{"empty group_by entry", func(c *Config) { c.SLOs[0].GroupBy = []string{""} }, "group_by[0]"},
		{"window not a multiple of the resolution", func(c *Config) { c.Windows[0] = Duration(90 * time.Second) }, "windows[0]: 1m30s is not a positive multiple of resolution 1m"},
		{"duplicate window", func(c *Config) { c.Windows[1] = c.Windows[0] }, "windows[1]: 5m is listed twice"},
		{"alert rule on an unknown window", func(c *Config) { c.Alerting.Rules[0].ShortWindow = Duration(10 * time.Minute) },
			"alerting.rules[0].short_window: 10m is not one of windows"},
		{"alert rule without factor", func(c *Config) { c.Alerting.Rules[0].Factor = 0 }, "alerting.rules[0].factor: must be positive"},
		{"initial value typo", func(c *Config) { c.InitialValue = "first" }, `initial_value: must be one of auto, keep, drop, got "first"`},
		{"zero evaluation interval", func(c *Config) { c.EvaluationInterval = 0 }, "evaluation_interval: must be positive"},
		{"zero max_groups", func(c *Config) { c.MaxGroups = 0 }, "max_groups: must be positive"},
		{"storage without persist interval", func(c *Config) {
			id := component.MustNewID("file_storage")
			c.Storage, c.PersistInterval = &id, 0
		}, "persist_interval: must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := createDefaultConfig().(*Config)
			cfg.SLOs = []SLOConfig{validSLO()}
			tt.mutate(cfg)
			err := cfg.Validate()
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"5m": 5 * time.Minute, "3d": 72 * time.Hour, "4w": 28 * 24 * time.Hour, "90s": 90 * time.Second,
	} {
		var d Duration
		require.NoError(t, d.UnmarshalText([]byte(in)), in)
		assert.Equal(t, want, time.Duration(d), in)
	}
	for _, in := range []string{"3.5d", "-1d", "d", "soon"} {
		var d Duration
		assert.Error(t, d.UnmarshalText([]byte(in)), in)
	}
	for d, want := range map[Duration]string{
		Duration(72 * time.Hour): "3d", Duration(14 * 24 * time.Hour): "2w", Duration(7 * 24 * time.Hour): "7d",
		Duration(2 * time.Hour): "2h", Duration(30 * time.Minute): "30m", Duration(90 * time.Second): "1m30s",
	} {
		assert.Equal(t, want, d.String())
	}
}

func FuzzConfig(f *testing.F) {
	f.Add("slos:\n  - name: a\n    objective: {target: 0.99}\n    time_window: {duration: 30d}\n    indicator: {latency: {metric: m, threshold: 10ms}}\n")
	f.Add("windows: [5m, 1h]\nslos:\n  - name: b\n    objective: {target_percent: 99.9}\n    time_window: {duration: 1w, calendar: {time_zone: Asia/Kolkata}}\n    indicator: {ratio: {total: {metric: t}, bad: {metric: t, condition: 'attributes[\"c\"] >= 500'}}}\n")
	f.Add("windows: [5m, 1h]\nslos:\n  - name: c\n    budgeting_method: Timeslices\n    objective: {target: 0.99, time_slice_target: 0.95, time_slice_window: 5m}\n    time_window: {duration: 1M, calendar: {time_zone: Europe/Berlin}}\n    indicator: {latency: {metric: m, threshold: 10ms}}\n")
	f.Fuzz(func(t *testing.T, yaml string) {
		conf, err := confmap.NewRetrievedFromYAML([]byte(yaml))
		if err != nil {
			return
		}
		raw, err := conf.AsRaw()
		if err != nil {
			return
		}
		m, ok := raw.(map[string]any)
		if !ok {
			return
		}
		cfg := createDefaultConfig().(*Config)
		if confmap.NewFromStringMap(m).Unmarshal(cfg) != nil {
			return
		}
		if cfg.Validate() != nil {
			return
		}
		// A configuration that validates must build an evaluator.
		_, err = NewEvaluator(cfg, nopTelemetry(), time.Unix(0, 0))
		require.NoError(t, err)
	})
}
