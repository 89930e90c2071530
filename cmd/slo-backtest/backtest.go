// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/otel/metric/noop"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
	"go.uber.org/zap"

	"github.com/otelcol-sre/otelcol-sre/processor/sloprocessor"
)

// batch is one line of the input: one export as the file exporter wrote it.
type batch struct {
	md       pmetric.Metrics
	min, max time.Time // range of its point timestamps
}

func readInput(path string) ([]batch, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading the input: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 256<<20)
	u := &pmetric.JSONUnmarshaler{}
	var out []batch
	for line := 1; sc.Scan(); line++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		md, err := u.UnmarshalMetrics(sc.Bytes())
		if err != nil {
			return nil, fmt.Errorf("%s:%d: not OTLP JSON metrics: %w", path, line, err)
		}
		if b, ok := timeRange(md); ok {
			out = append(out, b)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s holds no metric data points", path)
	}
	// The file exporter writes batches as they arrive: replay them in the
	// order of their data.
	sort.SliceStable(out, func(i, j int) bool { return out[i].max.Before(out[j].max) })
	return out, nil
}

// timeRange finds the range of timestamps of a batch's points.
func timeRange(md pmetric.Metrics) (batch, bool) {
	var lo, hi pcommon.Timestamp
	see := func(ts pcommon.Timestamp) {
		if ts == 0 {
			return
		}
		if lo == 0 || ts < lo {
			lo = ts
		}
		hi = max(hi, ts)
	}
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		sms := rms.At(i).ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				m := ms.At(k)
				switch m.Type() {
				case pmetric.MetricTypeSum:
					for _, dp := range m.Sum().DataPoints().All() {
						see(dp.Timestamp())
					}
				case pmetric.MetricTypeGauge:
					for _, dp := range m.Gauge().DataPoints().All() {
						see(dp.Timestamp())
					}
				case pmetric.MetricTypeHistogram:
					for _, dp := range m.Histogram().DataPoints().All() {
						see(dp.Timestamp())
					}
				case pmetric.MetricTypeExponentialHistogram:
					for _, dp := range m.ExponentialHistogram().DataPoints().All() {
						see(dp.Timestamp())
					}
				case pmetric.MetricTypeSummary:
					for _, dp := range m.Summary().DataPoints().All() {
						see(dp.Timestamp())
					}
				}
			}
		}
	}
	return batch{md: md, min: lo.AsTime(), max: hi.AsTime()}, hi != 0
}

// evaluation is the processor's output at one time.
type evaluation struct {
	at time.Time
	md pmetric.Metrics
}

// evaluationTimes returns every evaluation_interval boundary from the first
// data point to the first boundary at or after the last one.
func evaluationTimes(first, last time.Time, interval time.Duration) []time.Time {
	var out []time.Time
	for t := first.Truncate(interval).Add(interval); ; t = t.Add(interval) {
		out = append(out, t)
		if !t.Before(last) {
			return out
		}
	}
}

// backtest replays the batches through the processor's evaluator, evaluating
// at each time once every batch with data up to that time is in.
func backtest(cfg *sloprocessor.Config, batches []batch, at []time.Time) ([]evaluation, string, error) {
	first := slices.MinFunc(batches, func(a, b batch) int { return a.min.Compare(b.min) }).min
	last := batches[len(batches)-1].max
	if len(at) == 0 {
		at = evaluationTimes(first, last, cfg.EvaluationInterval)
	}
	at = slices.Clone(at)
	slices.SortFunc(at, time.Time.Compare)
	set := component.TelemetrySettings{
		Logger:         zap.NewNop(),
		MeterProvider:  noop.NewMeterProvider(),
		TracerProvider: tracenoop.NewTracerProvider(),
		Resource:       pcommon.NewResource(),
	}
	// The engine has seen the data since its first point: series that
	// started earlier begin with a baseline, as in a freshly started
	// collector.
	e, err := sloprocessor.NewEvaluator(cfg, set, first)
	if err != nil {
		return nil, "", err
	}
	var out []evaluation
	next := 0
	ctx := context.Background()
	for _, b := range batches {
		for next < len(at) && at[next].Before(b.max) {
			out = append(out, evaluation{at[next], e.Evaluate(at[next])})
			next++
		}
		if next == len(at) {
			break
		}
		e.Consume(ctx, b.max, b.md)
	}
	for ; next < len(at); next++ {
		out = append(out, evaluation{at[next], e.Evaluate(at[next])})
	}
	if len(out) == 0 {
		return nil, "", errors.New("no evaluation time")
	}
	dropped := e.DroppedSummary()
	if dropped == "" {
		dropped = "none"
	}
	summary := fmt.Sprintf("data %s .. %s, %d batches, %d evaluations; indicator points counted: %d, dropped: %s",
		first.UTC().Format(time.RFC3339), last.UTC().Format(time.RFC3339), len(batches), len(out), e.Counted, dropped)
	return out, summary, nil
}
