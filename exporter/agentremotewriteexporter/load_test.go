// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package agentremotewriteexporter

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/exporter/prometheusremotewriteexporter"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/otelcol-sre/otelcol-sre/exporter/agentremotewriteexporter/internal/metadata"
)

// countingSink answers every remote-write request after rtt (a stand-in for a distant AMP: the round
// trip is what limits one request in flight) and counts the float samples it decoded.
type countingSink struct {
	rtt     time.Duration
	samples atomic.Int64
}

func (s *countingSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	wr, err := decodeWriteRequest(r)
	time.Sleep(s.rtt)
	if err == nil {
		var n int64
		for _, ts := range wr.Timeseries {
			n += int64(len(ts.Samples))
		}
		s.samples.Add(n)
	}
	w.WriteHeader(http.StatusNoContent)
}

// gatewayRequest is one batch a gateway receives: pods pods × 50 counter series, 15 labels each (resource
// attributes become labels), all at ts.
func gatewayRequest(pods, first int, ts time.Time) pmetric.Metrics {
	md := pmetric.NewMetrics()
	t := pcommon.NewTimestampFromTime(ts)
	start := pcommon.NewTimestampFromTime(ts.Add(-time.Hour))
	for p := range pods {
		rm := md.ResourceMetrics().AppendEmpty()
		a := rm.Resource().Attributes()
		a.PutStr("service.name", "load")
		a.PutStr("k8s.namespace.name", "shop")
		a.PutStr("k8s.pod.name", "load-"+strconv.Itoa(first+p))
		a.PutStr("k8s.node.name", "node-"+strconv.Itoa((first+p)%20))
		a.PutStr("k8s.deployment.name", "load")
		a.PutStr("cloud.region", "us-east-1")
		a.PutStr("cloud.availability_zone", "us-east-1a")
		a.PutStr("host.name", "ip-10-0-0-1")
		sum := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
		sum.SetName("load.requests")
		s := sum.SetEmptySum()
		s.SetIsMonotonic(true)
		s.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		for i := range 50 {
			dp := s.DataPoints().AppendEmpty()
			dp.Attributes().PutStr("series", strconv.Itoa(i))
			dp.Attributes().PutStr("http.route", "/api/v1/items")
			dp.Attributes().PutStr("http.request.method", "GET")
			dp.Attributes().PutInt("http.response.status_code", 200)
			dp.SetStartTimestamp(start)
			dp.SetTimestamp(t)
			dp.SetIntValue(int64(ts.UnixMilli()))
		}
	}
	return md
}

// driveFor pushes gateway batches (100 pods × 50 series per request, 1,000 pods in turn) into exp as fast
// as it accepts them for d, then waits up to drain for the sink; it returns samples offered and delivered.
func driveFor(t *testing.T, exp exporter.Metrics, sink *countingSink, d, drain time.Duration) (offered, inWindow, delivered int64, peakHeapMiB float64) {
	const podsPerRequest, pods = 100, 1000
	end := time.Now().Add(d)
	var ms runtime.MemStats
	for i := 0; time.Now().Before(end); i++ {
		md := gatewayRequest(podsPerRequest, (i*podsPerRequest)%pods, time.Now())
		require.NoError(t, exp.ConsumeMetrics(context.Background(), md))
		offered += podsPerRequest * 50
		if i%20 == 0 {
			runtime.ReadMemStats(&ms)
			peakHeapMiB = max(peakHeapMiB, float64(ms.HeapInuse)/(1<<20))
		}
	}
	inWindow = sink.samples.Load()
	for deadline := time.Now().Add(drain); time.Now().Before(deadline) && sink.samples.Load() < offered; {
		time.Sleep(100 * time.Millisecond)
	}
	return offered, inWindow, sink.samples.Load(), peakHeapMiB
}

// TestLoadThroughputAt50msRTT measures delivered samples/s of agent_remote_write and, as the anchor in the
// same run, of prometheus_remote_write configured as deploy ships it (WAL, one request in flight, 900 KB
// batches), each into a counting sink 50 ms away, with gateway-shaped batches offered as fast as each
// exporter accepts them for 30 s. In-process (not the built binary): the engine's rate, not the
// pipeline's. Only with OTELCOL_SRE_LOAD=1; run it under flock /tmp/otelcol-heavy.lock.
func TestLoadThroughputAt50msRTT(t *testing.T) {
	if os.Getenv("OTELCOL_SRE_LOAD") != "1" {
		t.Skip("load measurement: set OTELCOL_SRE_LOAD=1 (about 2 minutes, wants a quiet machine)")
	}
	const rtt, d, drain = 50 * time.Millisecond, 30 * time.Second, 30 * time.Second
	results := map[string]string{}
	for _, name := range []string{"agent_remote_write", "prometheus_remote_write"} {
		sink := &countingSink{rtt: rtt}
		srv := httptest.NewServer(sink)
		var exp exporter.Metrics
		var err error
		switch name {
		case "agent_remote_write":
			cfg := testConfig(t, srv.URL+"/api/v1/write")
			cfg.QueueConfig.BatchSendDeadline = time.Second
			cfg.QueueConfig.MinShards = minShards()
			exp, err = NewFactory().CreateMetrics(context.Background(), exportertest.NewNopSettings(metadata.Type), cfg)
		default:
			cf := prometheusremotewriteexporter.NewFactory()
			c := cf.CreateDefaultConfig().(*prometheusremotewriteexporter.Config)
			c.ClientConfig.Endpoint = srv.URL + "/api/v1/write"
			c.TranslationStrategy = "UnderscoreEscapingWithoutSuffixes"
			c.ResourceToTelemetrySettings.Enabled = true
			c.MaxBatchSizeBytes = 900000
			one := 1
			c.MaxBatchRequestParallelism = &one
			c.RemoteWriteQueue.Enabled = false
			c.WAL = configoptional.Some(prometheusremotewriteexporter.WALConfig{Directory: t.TempDir(), BufferSize: 50, TruncateFrequency: time.Minute})
			exp, err = cf.CreateMetrics(context.Background(), exportertest.NewNopSettings(cf.Type()), c)
		}
		require.NoError(t, err)
		require.NoError(t, exp.Start(context.Background(), componenttest.NewNopHost()))
		start := time.Now()
		offered, inWindow, delivered, heap := driveFor(t, exp, sink, d, drain)
		elapsed := time.Since(start)
		require.NoError(t, exp.Shutdown(context.Background()))
		srv.Close()
		results[name] = strconv.FormatInt(offered, 10) + " offered in " + d.String() + " (" +
			strconv.Itoa(int(float64(offered)/d.Seconds())) + "/s accepted), delivered in the window " +
			strconv.Itoa(int(float64(inWindow)/d.Seconds())) + "/s; " + strconv.FormatInt(delivered, 10) +
			" delivered within " + elapsed.Round(time.Second).String() + " (" +
			strconv.Itoa(int(float64(delivered)/elapsed.Seconds())) + "/s), peak heap in use " +
			strconv.Itoa(int(heap)) + " MiB"
		t.Logf("%s (min_shards for agent_remote_write: %d): %s", name, minShards(), results[name])
	}
}

// minShards is OTELCOL_SRE_LOAD_MIN_SHARDS (default 1, the exporter's default): the queue manager starts
// there and reshards every 10 s from the backlog.
func minShards() int {
	if n, err := strconv.Atoi(os.Getenv("OTELCOL_SRE_LOAD_MIN_SHARDS")); err == nil && n > 0 {
		return n
	}
	return 1
}
