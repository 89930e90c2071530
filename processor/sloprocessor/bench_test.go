// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package sloprocessor

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/processor/cumulativetodeltaprocessor"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/otelcol-sre/otelcol-sre/processor/sloprocessor/internal/metadata"
	"github.com/otelcol-sre/otelcol-sre/processor/sloprocessor/internal/sli"
)

const benchSeries = 1000

// benchBatch is one export of benchSeries cumulative series: request
// counters, or latency histograms.
func benchBatch(histogram bool) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "shop")
	rm.Resource().Attributes().PutStr("k8s.pod.name", "shop-7d9f")
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	start := pcommon.NewTimestampFromTime(t0.Add(-time.Hour))
	ts := pcommon.NewTimestampFromTime(t0)
	if histogram {
		m.SetName("http.server.request.duration")
		m.SetUnit("ms")
		h := m.SetEmptyHistogram()
		h.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		for i := range benchSeries {
			dp := h.DataPoints().AppendEmpty()
			dp.Attributes().PutStr("http.route", fmt.Sprintf("/r%d", i/4))
			dp.Attributes().PutInt("http.response.status_code", int64(200+i%4))
			dp.SetStartTimestamp(start)
			dp.SetTimestamp(ts)
			dp.ExplicitBounds().FromRaw(testBounds)
			dp.BucketCounts().FromRaw([]uint64{1, 2, 3, 4, 5, 6, 7, 8, 9})
			dp.SetCount(45)
		}
		return md
	}
	m.SetName("http.server.requests")
	s := m.SetEmptySum()
	s.SetIsMonotonic(true)
	s.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	for i := range benchSeries {
		dp := s.DataPoints().AppendEmpty()
		dp.Attributes().PutStr("http.route", fmt.Sprintf("/r%d", i/2))
		dp.Attributes().PutStr("code", []string{"200", "500"}[i%2])
		dp.SetStartTimestamp(start)
		dp.SetTimestamp(ts)
		dp.SetIntValue(1000)
	}
	return md
}

// advance moves every point of a batch 10 s on with more events, as the
// next export of the same series.
func advance(md pmetric.Metrics) {
	m := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0)
	if m.Type() == pmetric.MetricTypeHistogram {
		dps := m.Histogram().DataPoints()
		for i := 0; i < dps.Len(); i++ {
			dp := dps.At(i)
			dp.SetTimestamp(dp.Timestamp() + pcommon.Timestamp(10*time.Second))
			dp.BucketCounts().SetAt(1, dp.BucketCounts().At(1)+3)
			dp.BucketCounts().SetAt(6, dp.BucketCounts().At(6)+1)
			dp.SetCount(dp.Count() + 4)
		}
		return
	}
	dps := m.Sum().DataPoints()
	for i := 0; i < dps.Len(); i++ {
		dp := dps.At(i)
		dp.SetTimestamp(dp.Timestamp() + pcommon.Timestamp(10*time.Second))
		dp.SetIntValue(dp.IntValue() + 5)
	}
}

func perPoint(b *testing.B) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchSeries), "ns/point")
}

// BenchmarkConsume measures the evaluator per data point in steady state
// (every series known), against the contrib cumulativetodelta processor
// doing its per-series delta on the same batch.
func BenchmarkConsume(b *testing.B) {
	for _, kind := range []struct {
		name      string
		histogram bool
		cfg       *Config
	}{
		{"counter", false, ratioConfig(nil)},
		{"histogram", true, groundTruthConfig(10, false)},
	} {
		b.Run(kind.name+"/slo", func(b *testing.B) {
			kind.cfg.SLOs = kind.cfg.SLOs[:1]
			e := mustEvaluator(b, kind.cfg)
			md := benchBatch(kind.histogram)
			ctx := context.Background()
			now := t0
			consume(e, now, md)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				b.StopTimer()
				advance(md)
				now = now.Add(10 * time.Second)
				b.StartTimer()
				e.Consume(ctx, now, md)
			}
			perPoint(b)
		})
		b.Run(kind.name+"/cumulativetodelta", func(b *testing.B) {
			f := cumulativetodeltaprocessor.NewFactory()
			p, err := f.CreateMetrics(context.Background(), processortest.NewNopSettings(f.Type()), f.CreateDefaultConfig(), consumertest.NewNop())
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = p.Shutdown(context.Background()) })
			md := benchBatch(kind.histogram)
			work := pmetric.NewMetrics()
			ctx := context.Background()
			md.CopyTo(work)
			if err := p.ConsumeMetrics(ctx, work); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				b.StopTimer()
				advance(md)
				md.CopyTo(work) // it converts in place
				b.StartTimer()
				if err := p.ConsumeMetrics(ctx, work); err != nil {
					b.Fatal(err)
				}
			}
			perPoint(b)
		})
	}
}

// BenchmarkPipeline measures what the processor adds to a pipeline that
// decodes OTLP (receiver), runs processors and encodes OTLP (exporter), with
// and without it.
func BenchmarkPipeline(b *testing.B) {
	md := benchBatch(true)
	payload, err := (&pmetric.ProtoMarshaler{}).MarshalMetrics(md)
	if err != nil {
		b.Fatal(err)
	}
	exporter, err := consumer.NewMetrics(func(_ context.Context, md pmetric.Metrics) error {
		_, err := (&pmetric.ProtoMarshaler{}).MarshalMetrics(md)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	// A latency SLO and an availability SLO on the same histogram, its
	// errors selected by an attribute matcher or by an OTTL condition.
	newSLO := func(bad MetricSelector) consumer.Metrics {
		cfg := groundTruthConfig(10, false)
		cfg.EvaluationInterval = time.Hour
		cfg.SLOs[1].Indicator.Ratio.Bad = &bad
		p, err := NewFactory().CreateMetrics(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, exporter)
		if err != nil {
			b.Fatal(err)
		}
		if err := p.Start(context.Background(), componenttest.NewNopHost()); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = p.Shutdown(context.Background()) })
		return p
	}
	for _, tc := range []struct {
		name string
		next consumer.Metrics
	}{
		{"without_slo", exporter},
		{"with_slo_attributes", newSLO(MetricSelector{Metric: "http.server.request.duration",
			Attributes: map[string]string{"http.response.status_code": "203"}})},
		{"with_slo_ottl", newSLO(MetricSelector{Metric: "http.server.request.duration",
			Condition: `attributes["http.response.status_code"] >= 203`})},
	} {
		b.Run(tc.name, func(b *testing.B) {
			ctx := context.Background()
			u := &pmetric.ProtoUnmarshaler{}
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				advance(md)
				payload, _ = (&pmetric.ProtoMarshaler{}).MarshalMetrics(md)
				b.StartTimer()
				in, err := u.UnmarshalMetrics(payload)
				if err != nil {
					b.Fatal(err)
				}
				if err := tc.next.ConsumeMetrics(ctx, in); err != nil {
					b.Fatal(err)
				}
			}
			perPoint(b)
		})
	}
}

// BenchmarkEvaluate is one evaluation of an SLO with 100 groups that hold
// an event in every slot, reported per group: an Occurrences SLO (the
// anchor: a running sum per window) and a Timeslices SLO with 1m slices over
// 30 days (every slice's verdict taken again at each evaluation).
func BenchmarkEvaluate(b *testing.B) {
	for name, cfg := range map[string]*Config{
		"occurrences":   ratioConfig(func(s *SLOConfig) { s.GroupBy = []string{"http.route"} }),
		"timeslices_1m": timeslicesConfig(),
	} {
		b.Run(name, func(b *testing.B) {
			if len(cfg.SLOs[0].GroupBy) == 0 {
				cfg.SLOs[0].GroupBy = []string{"http.route"}
			}
			e := mustEvaluator(b, cfg)
			delta := pmetric.AggregationTemporalityDelta
			now := t0
			for d := time.Duration(0); d < 30*24*time.Hour; d += 15 * time.Minute {
				now = t0.Add(d)
				pts := make([]counterPoint, 100)
				for i := range pts {
					pts[i] = counterPoint{fmt.Sprintf("/r%d", i), "200", "shop", d - time.Second, d, 10}
				}
				consume(e, now, requests(delta, pts...))
			}
			require.Equal(b, 100, e.Stats().Groups)
			for b.Loop() {
				now = now.Add(time.Minute)
				e.Evaluate(now)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/100, "ns/group")
		})
	}
}

// BenchmarkMemory reports the heap one SLO group (workbook windows, 30d
// budget) and one tracked series take.
func BenchmarkMemory(b *testing.B) {
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	b.Run("group", func(b *testing.B) {
		e := mustEvaluator(b, ratioConfig(nil))
		spec := &e.slos[0].spec
		for b.Loop() {
			before := heap()
			groups := make([]*sli.Group, 100)
			for i := range groups {
				groups[i] = sli.NewGroup(spec, t0.UnixNano())
				groups[i].Add(t0.UnixNano(), t0.UnixNano(), 1, 1)
			}
			b.ReportMetric(float64(heap()-before)/100, "bytes/group")
			runtime.KeepAlive(groups)
		}
	})
	b.Run("group_timeslices_1m", func(b *testing.B) {
		e := mustEvaluator(b, timeslicesConfig())
		spec := &e.slos[0].spec
		for b.Loop() {
			before := heap()
			groups := make([]*sli.Group, 10)
			for i := range groups {
				groups[i] = sli.NewGroup(spec, t0.UnixNano())
				groups[i].Add(t0.UnixNano(), t0.UnixNano(), 1, 1)
			}
			b.ReportMetric(float64(heap()-before)/10, "bytes/group")
			runtime.KeepAlive(groups)
		}
	})
	b.Run("series", func(b *testing.B) {
		for b.Loop() {
			e := mustEvaluator(b, ratioConfig(nil))
			md := benchBatch(false)
			before := heap()
			consume(e, t0, md)
			after := heap()
			b.ReportMetric((float64(after)-float64(before))/float64(e.Stats().Series), "bytes/series")
			runtime.KeepAlive(e)
			runtime.KeepAlive(md)
		}
	})
}
