// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package sloprocessor

import (
	"math"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pmetric"
)

// fuzzSeeds are OTLP payloads of the shapes the evaluator reads.
func fuzzSeeds(f *testing.F) [][]byte {
	var out [][]byte
	m := &pmetric.ProtoMarshaler{}
	for _, p := range []*simProcess{
		{service: "s", temporality: pmetric.AggregationTemporalityCumulative,
			series: []*simSeries{{attrs: map[string]string{"http.response.status_code": "503"}, start: t0, all: []float64{1, 12, 30}}}},
		{service: "s", temporality: pmetric.AggregationTemporalityDelta, exponential: true, scale: 3,
			series: []*simSeries{{attrs: map[string]string{}, start: t0, all: []float64{0.5, 8, 9}}}},
	} {
		b, err := m.MarshalMetrics(p.export(t0.Add(time.Minute)))
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	b, err := m.MarshalMetrics(requests(pmetric.AggregationTemporalityCumulative,
		counterPoint{"/a", "200", "shop", -time.Hour, time.Minute, 7}))
	if err != nil {
		f.Fatal(err)
	}
	return append(out, b)
}

// FuzzConsume feeds arbitrary OTLP metrics to the point decoder: it must
// neither panic nor emit a value that is not finite.
func FuzzConsume(f *testing.F) {
	for _, b := range fuzzSeeds(f) {
		f.Add(b)
	}
	u := &pmetric.ProtoUnmarshaler{}
	f.Fuzz(func(t *testing.T, b []byte) {
		md, err := u.UnmarshalMetrics(b)
		if err != nil {
			return
		}
		for _, cfg := range []*Config{groundTruthConfig(10, false), groundTruthConfig(15, true), ratioConfig(nil)} {
			e := mustEvaluator(t, cfg)
			consume(e, t0.Add(time.Minute), md)
			consume(e, t0.Add(2*time.Minute), md)
			for _, p := range flatten(e.Evaluate(t0.Add(3 * time.Minute))) {
				if math.IsNaN(p.value) || math.IsInf(p.value, 0) {
					t.Fatalf("%s{%s} = %v", p.metric, p.attrs, p.value)
				}
			}
		}
	})
}

// FuzzRestoreState feeds arbitrary bytes as stored state: restoring must
// fail cleanly or leave a working evaluator.
func FuzzRestoreState(f *testing.F) {
	cfg := ratioConfig(nil)
	e := mustEvaluator(f, cfg)
	f.Add(e.AppendState(nil))
	consume(e, t0, requests(pmetric.AggregationTemporalityDelta, counterPoint{"/a", "200", "shop", -time.Second, 0, 5}))
	f.Add(e.AppendState(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		e := mustEvaluator(t, cfg)
		if _, _, err := e.RestoreState(b); err != nil {
			return
		}
		consume(e, t0, requests(pmetric.AggregationTemporalityDelta, counterPoint{"/a", "200", "shop", -time.Second, 0, 5}))
		e.Evaluate(t0.Add(time.Minute))
		e.AppendState(nil)
	})
}
