// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

// Package rwtest builds the metrics the remote-write tests send: one metric of each shape the
// OTLP → Prometheus translation handles, with known values, so that the series each shape becomes can be
// asserted (by the exporter's unit tests and by the end-to-end tests against Prometheus).
package rwtest

import (
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// Values of the float shapes: what a test expects back from the series they become.
const (
	QueueDepth      = 7.5 // gauge <prefix>queue.depth{queue="orders"}
	Requests        = 42  // cumulative counter <prefix>requests{http.response.status_code=200}, unit {request}
	LatencyCount    = 6   // histogram <prefix>latency (s): buckets le 0.1 → 2, le 1 → 5, +Inf → 6
	LatencySum      = 4.2
	FloatShapeCount = 7 // series the float shapes become: gauge, counter, 3 buckets, count, sum
)

// AppendFloatShapes appends to ms a gauge, a monotonic cumulative sum and an explicit-bucket histogram
// (see the constants), named prefix+"queue.depth", prefix+"requests" and prefix+"latency", at ts (start
// one minute before).
func AppendFloatShapes(ms pmetric.MetricSlice, prefix string, ts time.Time) {
	now := pcommon.NewTimestampFromTime(ts)
	start := pcommon.NewTimestampFromTime(ts.Add(-time.Minute))

	g := ms.AppendEmpty()
	g.SetName(prefix + "queue.depth")
	gdp := g.SetEmptyGauge().DataPoints().AppendEmpty()
	gdp.Attributes().PutStr("queue", "orders")
	gdp.SetTimestamp(now)
	gdp.SetDoubleValue(QueueDepth)

	c := ms.AppendEmpty()
	c.SetName(prefix + "requests")
	c.SetUnit("{request}")
	sum := c.SetEmptySum()
	sum.SetIsMonotonic(true)
	sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	cdp := sum.DataPoints().AppendEmpty()
	cdp.Attributes().PutInt("http.response.status_code", 200)
	cdp.SetStartTimestamp(start)
	cdp.SetTimestamp(now)
	cdp.SetIntValue(Requests)

	h := ms.AppendEmpty()
	h.SetName(prefix + "latency")
	h.SetUnit("s")
	hist := h.SetEmptyHistogram()
	hist.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	hdp := hist.DataPoints().AppendEmpty()
	hdp.SetStartTimestamp(start)
	hdp.SetTimestamp(now)
	hdp.ExplicitBounds().FromRaw([]float64{0.1, 1})
	hdp.BucketCounts().FromRaw([]uint64{2, 3, 1})
	hdp.SetCount(LatencyCount)
	hdp.SetSum(LatencySum)
}

// AppendAllShapes appends the float shapes and also an exponential histogram prefix+"payload.size"
// (a native histogram in Prometheus) and a summary prefix+"rpc.duration" with one quantile (0.99).
func AppendAllShapes(ms pmetric.MetricSlice, prefix string, ts time.Time) {
	AppendFloatShapes(ms, prefix, ts)
	now := pcommon.NewTimestampFromTime(ts)
	start := pcommon.NewTimestampFromTime(ts.Add(-time.Minute))

	e := ms.AppendEmpty()
	e.SetName(prefix + "payload.size")
	eh := e.SetEmptyExponentialHistogram()
	eh.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	edp := eh.DataPoints().AppendEmpty()
	edp.SetStartTimestamp(start)
	edp.SetTimestamp(now)
	edp.SetScale(1)
	edp.SetCount(5)
	edp.SetSum(30)
	edp.SetZeroCount(1)
	edp.Positive().SetOffset(2)
	edp.Positive().BucketCounts().FromRaw([]uint64{1, 3})

	s := ms.AppendEmpty()
	s.SetName(prefix + "rpc.duration")
	sdp := s.SetEmptySummary().DataPoints().AppendEmpty()
	sdp.SetStartTimestamp(start)
	sdp.SetTimestamp(now)
	sdp.SetCount(10)
	sdp.SetSum(3)
	q := sdp.QuantileValues().AppendEmpty()
	q.SetQuantile(0.99)
	q.SetValue(0.9)
}
