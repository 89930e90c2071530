// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package agentremotewriteexporter

import (
	"testing"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-sre/otelcol-sre/exporter/agentremotewriteexporter/internal/sentlog"
)

// The relay's wire walk finds, per series of a request as the queue manager encodes it, the key the WAL's
// labels give and the newest sample or histogram timestamp.
func TestNewestPerSeriesMatchesTheWAL(t *testing.T) {
	a := labels.FromStrings("__name__", "up", "instance", "pod-a", "job", "shop/checkout")
	b := labels.FromStrings("__name__", "latency", "instance", "pod-b")
	c := labels.FromStrings("__name__", "no_points")
	h := &histogram.Histogram{Count: 3, Sum: 1.5, Schema: 0, ZeroCount: 1, PositiveSpans: []histogram.Span{{Offset: 0, Length: 1}}, PositiveBuckets: []int64{2}}
	req := prompb.WriteRequest{Timeseries: []prompb.TimeSeries{
		{Labels: prompb.FromLabels(a, nil), Samples: []prompb.Sample{{Timestamp: 100, Value: 1}, {Timestamp: 300, Value: 0}, {Timestamp: 200, Value: 2}}},
		{Labels: prompb.FromLabels(b, nil), Histograms: []prompb.Histogram{prompb.FromIntHistogram(50, h), prompb.FromIntHistogram(70, h)},
			Exemplars: []prompb.Exemplar{{Timestamp: 900, Value: 1}}},
		{Labels: prompb.FromLabels(c, nil)},
	}, Metadata: []prompb.MetricMetadata{{MetricFamilyName: "up", Help: "h"}}}
	raw, err := req.Marshal()
	require.NoError(t, err)
	k := newSeriesKey()
	got, err := newestPerSeries(k, raw, nil)
	require.NoError(t, err)
	assert.Equal(t, []sentlog.Entry{{Key: keyOfLabels(k, a), T: 300}, {Key: keyOfLabels(k, b), T: 70}}, got)
	assert.NotEqual(t, keyOfLabels(k, a), keyOfLabels(k, b))

	_, err = newestPerSeries(k, raw[:len(raw)-3], nil)
	assert.Error(t, err, "a truncated request")
}
