// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package sloimport

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-sre/otelcol-sre/processor/sloprocessor"
)

// The conversion table (README): every SLO of the test documents either
// converts to the indicator below or is refused with the reason.
func TestConvert(t *testing.T) {
	tests := []struct {
		file      string
		format    Format
		converted map[string]sloprocessor.IndicatorConfig
		refused   []string // substrings of the error
		notes     int
		// Timeslices SLOs' objectives; the others are Occurrences.
		timeslices map[string]sloprocessor.ObjectiveConfig
	}{
		{
			file: "sloth.yaml", format: Sloth,
			converted: map[string]sloprocessor.IndicatorConfig{
				"myservice-requests-availability": {Ratio: &sloprocessor.RatioConfig{
					Total: &sloprocessor.MetricSelector{Metric: "http_request_duration_seconds", Attributes: map[string]string{"job": "myservice"}},
					Bad: &sloprocessor.MetricSelector{Metric: "http_request_duration_seconds", Attributes: map[string]string{"job": "myservice"},
						Condition: `IsMatch(attributes["code"], "^(?:(5..|429))$")`},
				}},
				"myservice-grpc-errors": {Ratio: &sloprocessor.RatioConfig{
					Total: &sloprocessor.MetricSelector{Metric: "grpc_server_handled_total", Attributes: map[string]string{"grpc_service": "cart"}},
					Bad: &sloprocessor.MetricSelector{Metric: "grpc_server_handled_total", Attributes: map[string]string{"grpc_service": "cart"},
						Condition: `attributes["grpc_code"] != "OK"`},
				}},
			},
			refused: []string{
				"slos[2] (ratio-only): sli.raw.error_ratio_query: a ratio of rates has no event counts",
				"slos[3] (latency-by-subtraction): sli.events.error_query: ",
				"arithmetic, several metrics and other functions do not convert",
				"slos[4] (per-route): sli.events.error_query: ",
				"only sum(...) without by/without converts",
				`slos[5] (plugin): sli.plugin "sloth-common/kubernetes/apiserver/availability": plugins write PromQL at generation time`,
			},
			notes: 2,
		},
		{
			file: "openslo.yaml", format: OpenSLO,
			converted: map[string]sloprocessor.IndicatorConfig{
				"checkout-latency": {Latency: &sloprocessor.LatencyConfig{
					MetricSelector: sloprocessor.MetricSelector{Metric: "http_server_request_duration_seconds", Attributes: map[string]string{"service": "checkout"}},
					Threshold:      250 * time.Millisecond, Unit: "s",
				}},
				"checkout-availability": {Ratio: &sloprocessor.RatioConfig{
					Total: &sloprocessor.MetricSelector{Metric: "http_requests_total", Attributes: map[string]string{"service": "checkout"}},
					Bad: &sloprocessor.MetricSelector{Metric: "http_requests_total", Attributes: map[string]string{"service": "checkout"},
						Condition: `IsMatch(attributes["code"], "^(?:5..)$")`},
				}},
				"search-latency-fast": {Latency: &sloprocessor.LatencyConfig{
					MetricSelector: sloprocessor.MetricSelector{Metric: "search_duration_milliseconds", Attributes: map[string]string{"route": "/q"}},
					Threshold:      100 * time.Millisecond, Unit: "ms",
				}},
				"search-latency-not-slow": {Latency: &sloprocessor.LatencyConfig{
					MetricSelector: sloprocessor.MetricSelector{Metric: "search_duration_milliseconds", Attributes: map[string]string{"route": "/q"}},
					Threshold:      500 * time.Millisecond, Unit: "ms",
				}},
				"checkout-good-minutes": {Latency: &sloprocessor.LatencyConfig{
					MetricSelector: sloprocessor.MetricSelector{Metric: "http_server_request_duration_seconds", Attributes: map[string]string{"service": "checkout"}},
					Threshold:      250 * time.Millisecond, Unit: "s",
				}},
				"search-p99-slices": {Latency: &sloprocessor.LatencyConfig{
					MetricSelector: sloprocessor.MetricSelector{Metric: "search_duration_milliseconds", Attributes: map[string]string{"route": "/q"}},
					Threshold:      500 * time.Millisecond, Unit: "ms",
				}},
			},
			timeslices: map[string]sloprocessor.ObjectiveConfig{
				// ratio: the slice target as given
				"checkout-good-minutes": {Target: 0.999, TimeSliceTarget: 0.95, TimeSliceWindow: sloprocessor.Duration(time.Minute)},
				// threshold: the quantile of the query; a number of minutes
				"search-p99-slices": {Target: 0.99, TimeSliceTarget: 0.99, TimeSliceWindow: sloprocessor.Duration(5 * time.Minute)},
			},
			refused: []string{
				`SLO uptime-timeslices: objectives[0]: op "gte": only lte/lt convert`,
				"SLO ratio-timeslices: budgetingMethod RatioTimeslices: the mean of the slices' ratios is not implemented by the processor — use Timeslices",
				"SLO timeslices-without-window: objectives[0]: timeSliceWindow: required with budgetingMethod Timeslices, e.g. 1m",
				`SLO timeslices-mean-query: objectives[0]: thresholdMetric "sum(rate(search_duration_milliseconds_bucket{route=\"/q\", le=\"+Inf\"}[5m]))": with Timeslices the query must be histogram_quantile(q, ...)`,
				"SLO cpu-gauge: objectives[0]: thresholdMetric: ",
				"a gauge's samples are not events",
				`SLO datadog-source: objectives[0]: ratioMetric.total.metricSource.type "Datadog": only Prometheus queries convert`,
			},
			notes: 4,
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", tt.file))
			require.NoError(t, err)
			require.Equal(t, tt.format, Detect(b))
			slos, notes, err := Convert(tt.format, b)
			require.Error(t, err)
			for _, r := range tt.refused {
				assert.ErrorContains(t, err, r)
			}
			assert.Len(t, notes, tt.notes, "%q", notes)
			got := map[string]sloprocessor.IndicatorConfig{}
			for _, s := range slos {
				got[s.Name] = s.Indicator
				if o, ok := tt.timeslices[s.Name]; ok {
					assert.Equal(t, sloprocessor.Timeslices, s.BudgetingMethod, s.Name)
					assert.Equal(t, o, s.Objective, s.Name)
				} else if tt.format == OpenSLO {
					assert.Equal(t, sloprocessor.Occurrences, s.BudgetingMethod, s.Name)
				}
			}
			assert.Equal(t, tt.converted, got)

			// What converts is a valid configuration, and the written
			// form reads back the same.
			out, err := Marshal(slos, tt.file, notes)
			require.NoError(t, err)
			path := filepath.Join(t.TempDir(), "slo.yaml")
			require.NoError(t, os.WriteFile(path, out, 0o600))
			cfg, err := sloprocessor.LoadConfigFile(path, "slo")
			require.NoError(t, err)
			assert.Equal(t, slos, cfg.SLOs)
		})
	}
}

func TestDetect(t *testing.T) {
	assert.Equal(t, Format(""), Detect([]byte("slos:\n  - name: a\n")))
	assert.Equal(t, Sloth, Detect([]byte(`version: "prometheus/v1"`)))
	assert.Equal(t, OpenSLO, Detect([]byte("---\napiVersion: openslo/v1\nkind: SLO\n")))
}
