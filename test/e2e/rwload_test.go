// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
)

// TestGatewayLoadStampsEveryPoint: the load generator's encoded request, stamped, decodes to the template
// with every point's timestamp and value replaced, and nothing else changed.
func TestGatewayLoadStampsEveryPoint(t *testing.T) {
	e := gwEncode(t, 30)
	at := time.Unix(1_800_000_000, 123_456_789)
	e.stamp(at, 42)
	req := pmetricotlp.NewExportRequest()
	if err := req.UnmarshalProto(e.body); err != nil {
		t.Fatal(err)
	}
	got, want := req.Metrics(), gwRequest(30)
	if got.DataPointCount() != gwPointsPerReq || got.ResourceMetrics().Len() != want.ResourceMetrics().Len() {
		t.Fatalf("%d points in %d resources, want %d in %d", got.DataPointCount(), got.ResourceMetrics().Len(), gwPointsPerReq, want.ResourceMetrics().Len())
	}
	for r := range got.ResourceMetrics().Len() {
		g, w := got.ResourceMetrics().At(r), want.ResourceMetrics().At(r)
		if gm, wm := g.Resource().Attributes().AsRaw(), w.Resource().Attributes().AsRaw(); len(gm) != len(wm) || gm["k8s.pod.name"] != wm["k8s.pod.name"] {
			t.Errorf("resource %d: %v, want %v", r, gm, wm)
		}
		gdps := g.ScopeMetrics().At(0).Metrics().At(0).Sum().DataPoints()
		wdps := w.ScopeMetrics().At(0).Metrics().At(0).Sum().DataPoints()
		for d := range gdps.Len() {
			gp, wp := gdps.At(d), wdps.At(d)
			if !gp.Timestamp().AsTime().Equal(at) || gp.IntValue() != 42 || gp.StartTimestamp().AsTime().Sub(wp.StartTimestamp().AsTime()).Abs() > time.Minute ||
				gp.Attributes().Len() != wp.Attributes().Len() || gp.Attributes().AsRaw()["http.route"] != wp.Attributes().AsRaw()["http.route"] {
				t.Fatalf("resource %d point %d: ts %v value %d start %v attrs %v; want ts %v value 42 start %v attrs %v", r, d,
					gp.Timestamp().AsTime(), gp.IntValue(), gp.StartTimestamp(), gp.Attributes().AsRaw(), at, wp.StartTimestamp(), wp.Attributes().AsRaw())
			}
		}
	}
}

// TestSampleTimestampsWalksTheWireFormat: the counting sink's wire walk finds exactly the samples of the
// counted metric that a full decode finds, in a request that also holds other metrics.
func TestSampleTimestampsWalksTheWireFormat(t *testing.T) {
	wr := prompb.WriteRequest{Timeseries: []prompb.TimeSeries{
		{Labels: []prompb.Label{{Name: "__name__", Value: "gw_requests"}, {Name: "pod", Value: "a"}},
			Samples: []prompb.Sample{{Value: 1, Timestamp: 1000}, {Value: 2, Timestamp: 2000}}},
		{Labels: []prompb.Label{{Name: "pod", Value: "b"}, {Name: "__name__", Value: "gw_requests_total"}},
			Samples: []prompb.Sample{{Value: 3, Timestamp: 3000}}},
		{Labels: []prompb.Label{{Name: "__name__", Value: "target_info"}, {Name: "gw_requests", Value: "__name__"}},
			Samples: []prompb.Sample{{Value: 1, Timestamp: 4000}}},
		{Labels: []prompb.Label{{Name: "pod", Value: "c"}, {Name: "__name__", Value: "gw_requests"}},
			Samples: []prompb.Sample{{Value: 0, Timestamp: 0}, {Value: 5, Timestamp: -5}}},
	}}
	raw, err := wr.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := sampleTimestamps(raw, "gw_requests", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []int64{1000, 2000, 0, -5}
	if len(got) != len(want) {
		t.Fatalf("timestamps %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("timestamps %v, want %v", got, want)
		}
	}
	if _, err := sampleTimestamps(raw[:len(raw)-3], "gw_requests", nil); err == nil {
		t.Error("a truncated request walked without an error")
	}
	// The sink decompresses into pooled buffers: a second, smaller request must not see the first's bytes.
	small := prompb.WriteRequest{Timeseries: wr.Timeseries[:1]}
	sraw, _ := small.Marshal()
	buf := make([]byte, 0, len(raw))
	dec, err := snappy.Decode(buf[:cap(buf)], snappy.Encode(nil, sraw))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := sampleTimestamps(dec, "gw_requests", nil); len(got) != 2 {
		t.Errorf("timestamps %v from the smaller request, want 2", got)
	}
}
