// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package sloprocessor

import (
	"context"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/connector/spanmetricsconnector"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/connector/connectortest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/otelcol-sre/otelcol-sre/processor/sloprocessor/internal/metadata"
)

// spanSLOs are the span-based SLOs of the README: latency and availability of
// the checkout service's server spans, read from the spanmetrics
// connector's default metrics.
func spanSLOs() []SLOConfig {
	return []SLOConfig{
		{
			Name: "checkout-latency", Service: "checkout",
			Objective: ObjectiveConfig{Target: 0.9}, TimeWindow: TimeWindowConfig{Duration: "30d"},
			Indicator: IndicatorConfig{Latency: &LatencyConfig{
				MetricSelector: MetricSelector{
					Metric:             "traces.span.metrics.duration",
					ResourceAttributes: map[string]string{"service.name": "checkout"},
					Condition:          `attributes["span.kind"] == "SPAN_KIND_SERVER"`,
				},
				Threshold: 10 * time.Millisecond,
			}},
		},
		{
			Name: "checkout-availability", Service: "checkout",
			Objective: ObjectiveConfig{Target: 0.9}, TimeWindow: TimeWindowConfig{Duration: "30d"},
			Indicator: IndicatorConfig{Ratio: &RatioConfig{
				Total: &MetricSelector{Metric: "traces.span.metrics.calls", ResourceAttributes: map[string]string{"service.name": "checkout"},
					Condition: `attributes["span.kind"] == "SPAN_KIND_SERVER"`},
				Bad: &MetricSelector{Metric: "traces.span.metrics.calls", ResourceAttributes: map[string]string{"service.name": "checkout"},
					Condition: `attributes["span.kind"] == "SPAN_KIND_SERVER" and attributes["status.code"] == "STATUS_CODE_ERROR"`},
			}},
		},
	}
}

// TestSpanMetricsComposition runs traces through the real spanmetrics
// connector into the slo processor, as `traces -> spanmetrics -> metrics
// pipeline with slo` does in a collector.
func TestSpanMetricsComposition(t *testing.T) {
	ctx := context.Background()
	sink := new(consumertest.MetricsSink)
	cfg := createDefaultConfig().(*Config)
	cfg.EvaluationInterval = 20 * time.Millisecond
	cfg.SLOs = spanSLOs()
	require.NoError(t, cfg.Validate())
	slo, err := NewFactory().CreateMetrics(ctx, processortest.NewNopSettings(metadata.Type), cfg, sink)
	require.NoError(t, err)

	smf := spanmetricsconnector.NewFactory()
	smCfg := smf.CreateDefaultConfig().(*spanmetricsconnector.Config)
	smCfg.MetricsFlushInterval = 20 * time.Millisecond
	require.NoError(t, smCfg.Validate())
	sm, err := smf.CreateTracesToMetrics(ctx, connectortest.NewNopSettings(smf.Type()), smCfg, slo)
	require.NoError(t, err)

	require.NoError(t, slo.Start(ctx, componenttest.NewNopHost()))
	require.NoError(t, sm.Start(ctx, componenttest.NewNopHost()))
	defer func() {
		require.NoError(t, sm.Shutdown(ctx))
		require.NoError(t, slo.Shutdown(ctx))
	}()

	// 90 fast successes, 6 slow successes, 4 fast errors, and client
	// spans that neither SLO reads.
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "checkout")
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	now := time.Now()
	add := func(n int, kind ptrace.SpanKind, d time.Duration, status ptrace.StatusCode) {
		for range n {
			s := spans.AppendEmpty()
			s.SetName("GET /checkout")
			s.SetKind(kind)
			s.SetStartTimestamp(pcommon.NewTimestampFromTime(now.Add(-d)))
			s.SetEndTimestamp(pcommon.NewTimestampFromTime(now))
			s.Status().SetCode(status)
		}
	}
	add(90, ptrace.SpanKindServer, 5*time.Millisecond, ptrace.StatusCodeOk)
	add(6, ptrace.SpanKindServer, 30*time.Millisecond, ptrace.StatusCodeOk)
	add(4, ptrace.SpanKindServer, 3*time.Millisecond, ptrace.StatusCodeError)
	add(50, ptrace.SpanKindClient, 500*time.Millisecond, ptrace.StatusCodeUnset)
	require.NoError(t, sm.ConsumeTraces(ctx, td))

	got := map[string]float64{}
	require.Eventually(t, func() bool {
		for _, md := range sink.AllMetrics() {
			rms := md.ResourceMetrics()
			for i := 0; i < rms.Len(); i++ {
				ms := rms.At(i).ScopeMetrics().At(0).Metrics()
				for j := 0; j < ms.Len(); j++ {
					if ms.At(j).Name() != MetricSLI {
						continue
					}
					dps := ms.At(j).Gauge().DataPoints()
					for k := 0; k < dps.Len(); k++ {
						name, _ := dps.At(k).Attributes().Get(AttrName)
						w, _ := dps.At(k).Attributes().Get(AttrWindow)
						if w.Str() == "5m" {
							got[name.Str()] = dps.At(k).DoubleValue()
						}
					}
				}
			}
		}
		return len(got) == 2
	}, 20*time.Second, 20*time.Millisecond)
	assert.InDelta(t, 0.94, got["checkout-latency"], 1e-12, "94 of 100 server spans within 10ms")
	assert.InDelta(t, 0.96, got["checkout-availability"], 1e-12, "4 errors among 100 server calls")
}
