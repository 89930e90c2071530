// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package slorules

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-sre/otelcol-sre/processor/sloprocessor"
)

func TestPromLabel(t *testing.T) {
	for attr, want := range map[string]string{
		"http.route":    "http_route",
		"service.name":  "service_name",
		"k8s-pod/name":  "k8s_pod_name",
		"2xx":           "key_2xx",
		"already_label": "already_label",
	} {
		assert.Equal(t, want, promLabel(attr), attr)
	}
}

func config(t *testing.T, mutate func(*sloprocessor.SLOConfig)) *sloprocessor.Config {
	cfg := sloprocessor.NewFactory().CreateDefaultConfig().(*sloprocessor.Config)
	s := sloprocessor.SLOConfig{
		Name: "api", Service: "shop", Objective: sloprocessor.ObjectiveConfig{TargetPercent: 99.5},
		TimeWindow: sloprocessor.TimeWindowConfig{Duration: "28d"},
		Indicator: sloprocessor.IndicatorConfig{Ratio: &sloprocessor.RatioConfig{
			Total: &sloprocessor.MetricSelector{Metric: "requests"},
			Bad:   &sloprocessor.MetricSelector{Metric: "requests", Attributes: map[string]string{"code": "500"}},
		}},
	}
	mutate(&s)
	cfg.SLOs = []sloprocessor.SLOConfig{s}
	require.NoError(t, cfg.Validate())
	return cfg
}

func TestGenerate(t *testing.T) {
	tests := []struct {
		name      string
		mutate    func(*sloprocessor.SLOConfig)
		opt       Options
		wantExpr  []string // substrings of some rule's expression
		wantNotes int
		windows   int // recorded windows: 7 defaults + the rolling budget window unless calendar
		alerts    int // page, ticket, and budget exhausted unless calendar
		interval  string
	}{
		{
			name:     "group_by attributes are kept as Prometheus labels",
			mutate:   func(s *sloprocessor.SLOConfig) { s.GroupBy = []string{"http.route"} },
			opt:      DefaultOptions(),
			wantExpr: []string{`sum by (cluster, slo_name, slo_service, http_route) (increase(slo_events{slo_name="api", slo_outcome="bad"}[4w]))`},
			windows:  8,
			alerts:   3,
		},
		{
			name:     "target_percent sets the error budget of burn rates",
			mutate:   func(*sloprocessor.SLOConfig) {},
			opt:      Options{EventsMetric: "slo_events_total"},
			wantExpr: []string{") / 0.005", `sum by (slo_name, slo_service) (increase(slo_events_total{slo_name="api"}[5m]))`},
			windows:  8,
			alerts:   3,
		},
		{
			name: "a Timeslices SLO records its slices once a slice and counts good slices over each window",
			mutate: func(s *sloprocessor.SLOConfig) {
				s.BudgetingMethod = sloprocessor.Timeslices
				s.Objective.TimeSliceTarget = 0.9
				s.Objective.TimeSliceWindow = sloprocessor.Duration(5 * time.Minute)
			},
			opt: Options{EventsMetric: "slo_events_total"},
			wantExpr: []string{
				`sum by (slo_name, slo_service) ((slo_events_total{slo_name="api", slo_outcome="bad"} - slo_events_total{slo_name="api", slo_outcome="bad"} offset 5m) >= 0)` + "\n<= bool\n0.1 * sum by",
				`avg_over_time(slo:timeslice_good{slo_name="api"}[59m59s999ms])`,
				`/ (0.005 * 8064)`, // 28 days of 5m slices
			},
			interval: "5m",
			windows:  8,
			alerts:   3,
		},
		{
			name: "a calendar window has no budget rules and says so",
			mutate: func(s *sloprocessor.SLOConfig) {
				s.TimeWindow = sloprocessor.TimeWindowConfig{Duration: "1M", Calendar: &sloprocessor.CalendarConfig{}}
			},
			opt:       DefaultOptions(),
			wantNotes: 1,
			windows:   7,
			alerts:    2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, notes, err := Generate(config(t, tt.mutate), tt.opt)
			require.NoError(t, err)
			assert.Len(t, notes, tt.wantNotes)
			require.Len(t, f.Groups, 1)
			assert.Equal(t, tt.interval, f.Groups[0].Interval)
			var exprs []string
			windows := map[string]bool{}
			alerts := 0
			for _, r := range f.Groups[0].Rules {
				exprs = append(exprs, r.Expr)
				if r.Record == RecordEventsTotal {
					windows[r.Labels[LabelWindow]] = true
				}
				if r.Alert != "" {
					alerts++
				}
			}
			assert.Len(t, windows, tt.windows)
			assert.Equal(t, tt.alerts, alerts)
			all := strings.Join(exprs, "\n")
			for _, w := range tt.wantExpr {
				assert.Contains(t, all, w)
			}
		})
	}
}

func TestGenerateRefusesSlicesShorterThanTheEmissions(t *testing.T) {
	cfg := config(t, func(s *sloprocessor.SLOConfig) {
		s.BudgetingMethod = sloprocessor.Timeslices
		s.Objective.TimeSliceTarget = 0.9
		s.Objective.TimeSliceWindow = sloprocessor.Duration(time.Minute)
	})
	cfg.EvaluationInterval = 2 * time.Minute
	_, _, err := Generate(cfg, DefaultOptions())
	require.ErrorContains(t, err, "slos[0] (api): objective.time_slice_window 1m is not a multiple of evaluation_interval 2m")
}

func TestSliceRange(t *testing.T) {
	for w, want := range map[time.Duration]string{
		5 * time.Minute: "4m59s999ms", time.Hour: "59m59s999ms", 30 * 24 * time.Hour: "29d23h59m59s999ms", time.Second: "999ms",
	} {
		assert.Equal(t, want, sliceRange(w), w)
	}
}

// Each recorded series mirrors the processor's own as remote write names it, with the other prefix: the SLO
// dashboard switches between them by the prefix alone.
func TestRecordedNamesMirrorTheProcessorsNames(t *testing.T) {
	for processor, recorded := range map[string]string{
		sloprocessor.MetricSLI:             RecordSLI,
		sloprocessor.MetricBurnRate:        RecordBurnRate,
		sloprocessor.MetricBudgetRemaining: RecordBudgetRemaining,
	} {
		if got := InStreamPrefix + strings.TrimPrefix(recorded, RecordPrefix); got != strings.ReplaceAll(processor, ".", "_") {
			t.Errorf("%s mirrors %s, want %s", recorded, got, strings.ReplaceAll(processor, ".", "_"))
		}
	}
}
