// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package agentremotewriteexporter

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/open-telemetry/opentelemetry-collector-contrib/exporter/prometheusremotewriteexporter"
	"github.com/prometheus/prometheus/prompb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/otelcol-sre/otelcol-sre/exporter/agentremotewriteexporter/internal/metadata"
	"github.com/otelcol-sre/otelcol-sre/exporter/agentremotewriteexporter/internal/metadatatest"
	"github.com/otelcol-sre/otelcol-sre/internal/rwtest"
)

// rwSink is a remote-write endpoint on loopback that decodes what it accepts. reject decides, per request,
// whether to answer with an error status instead (and which Retry-After to send with a 429).
type rwSink struct {
	mu       sync.Mutex
	series   map[string][]string // labels -> "timestamp value" / "timestamp histogram(count,sum)"
	statuses map[int]int
	reject   func(wr *prompb.WriteRequest) (status int, retryAfter string)
}

func newRWSink(t *testing.T) (*rwSink, string) {
	s := &rwSink{series: map[string][]string{}, statuses: map[int]int{}}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv.URL + "/api/v1/write"
}

func (s *rwSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	wr, err := decodeWriteRequest(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reject != nil {
		if status, retryAfter := s.reject(wr); status != 0 {
			s.statuses[status]++
			if retryAfter != "" {
				w.Header().Set("Retry-After", retryAfter)
			}
			http.Error(w, "refused by the test sink", status)
			return
		}
	}
	s.statuses[http.StatusNoContent]++
	for _, ts := range wr.Timeseries {
		var ls []string
		for _, l := range ts.Labels {
			ls = append(ls, l.Name+"="+l.Value)
		}
		sort.Strings(ls)
		key := strings.Join(ls, ",")
		for _, smp := range ts.Samples {
			s.series[key] = append(s.series[key], fmt.Sprintf("%d %g", smp.Timestamp, smp.Value))
		}
		for _, h := range ts.Histograms {
			fh := h.ToFloatHistogram()
			s.series[key] = append(s.series[key], fmt.Sprintf("%d histogram(%g,%g)", h.Timestamp, fh.Count, fh.Sum))
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *rwSink) snapshot() map[string][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]string{}
	for k, v := range s.series {
		out[k] = append([]string(nil), v...)
	}
	return out
}

func (s *rwSink) points() int {
	n := 0
	for _, v := range s.snapshot() {
		n += len(v)
	}
	return n
}

// every metric shape the translation handles (rwtest), from two resources.
func shapes(ts time.Time) pmetric.Metrics {
	md := pmetric.NewMetrics()
	for _, pod := range []string{"a", "b"} {
		rm := md.ResourceMetrics().AppendEmpty()
		rm.Resource().Attributes().PutStr("service.name", "checkout")
		rm.Resource().Attributes().PutStr("service.instance.id", "pod-"+pod)
		rm.Resource().Attributes().PutStr("k8s.namespace.name", "shop")
		sm := rm.ScopeMetrics().AppendEmpty()
		sm.Scope().SetName("e2e")
		rwtest.AppendAllShapes(sm.Metrics(), "", ts)
	}
	return md
}

func testConfig(t *testing.T, endpoint string) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.Endpoint = endpoint
	cfg.WAL.Directory = t.TempDir()
	cfg.TranslationStrategy = "UnderscoreEscapingWithoutSuffixes"
	cfg.ResourceToTelemetry.Enabled = true
	cfg.ExternalLabels = map[string]string{"cluster": "test"}
	cfg.QueueConfig.BatchSendDeadline = 50 * time.Millisecond
	cfg.QueueConfig.MinBackoff = 10 * time.Millisecond
	cfg.QueueConfig.MaxBackoff = 200 * time.Millisecond
	return cfg
}

func startMetricsExporter(t *testing.T, set exporter.Settings, cfg *Config) exporter.Metrics {
	t.Helper()
	exp, err := NewFactory().CreateMetrics(context.Background(), set, cfg)
	require.NoError(t, err)
	require.NoError(t, exp.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, exp.Shutdown(context.Background())) })
	return exp
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The same pdata through the contrib prometheus_remote_write exporter (configured alike) and through this
// one must reach the endpoint as the same series with the same points: names, labels (job, instance,
// resource attributes, scope, external labels), target_info, histogram buckets, summary quantiles, native
// histograms.
func TestSeriesIdenticalToContribExporter(t *testing.T) {
	contribSink, contribURL := newRWSink(t)
	oursSink, oursURL := newRWSink(t)

	cf := prometheusremotewriteexporter.NewFactory()
	ccfg := cf.CreateDefaultConfig().(*prometheusremotewriteexporter.Config)
	ccfg.ClientConfig.Endpoint = contribURL
	ccfg.TranslationStrategy = "UnderscoreEscapingWithoutSuffixes"
	ccfg.ResourceToTelemetrySettings.Enabled = true
	ccfg.ExternalLabels = map[string]string{"cluster": "test"}
	ccfg.WAL = configoptional.None[prometheusremotewriteexporter.WALConfig]()
	contrib, err := cf.CreateMetrics(context.Background(), exportertest.NewNopSettings(cf.Type()), ccfg)
	require.NoError(t, err)
	require.NoError(t, contrib.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, contrib.Shutdown(context.Background())) })

	ours := startMetricsExporter(t, exportertest.NewNopSettings(metadata.Type), testConfig(t, oursURL))

	md := shapes(time.Now())
	mine := pmetric.NewMetrics()
	md.CopyTo(mine) // each exporter converts resource attributes in place
	require.NoError(t, contrib.ConsumeMetrics(context.Background(), md))
	require.NoError(t, ours.ConsumeMetrics(context.Background(), mine))

	want := 0
	waitFor(t, "the contrib exporter's points", func() bool { want = contribSink.points(); return want > 0 })
	deadline := time.Now().Add(20 * time.Second)
	for oursSink.points() < want && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	got, wantSeries := oursSink.snapshot(), contribSink.snapshot()
	assert.Equal(t, wantSeries, got)
	// The shapes above produce: 2 × (gauge, counter, 3 buckets + count + sum, native histogram,
	// 1 quantile + count + sum, target_info) = 24 series.
	assert.Len(t, got, 24)
	for k := range got {
		if strings.Contains(k, "__name__=target_info") {
			assert.Contains(t, k, "k8s_namespace_name=shop")
		}
	}
}

// A non-retryable answer (400) drops that request and counts its samples; later requests keep flowing
// (the contrib exporter's WAL stalls here). A 429 with Retry-After is retried until it is accepted.
func TestRefusedRequestsDoNotStall(t *testing.T) {
	sink, url := newRWSink(t)
	var mu sync.Mutex
	refused400, throttled := false, 0
	sink.reject = func(wr *prompb.WriteRequest) (int, string) {
		mu.Lock()
		defer mu.Unlock()
		for _, ts := range wr.Timeseries {
			for _, l := range ts.Labels {
				switch {
				case l.Name == "round" && l.Value == "1" && !refused400:
					refused400 = true
					return http.StatusBadRequest, ""
				case l.Name == "round" && l.Value == "2" && throttled < 3:
					throttled++
					return http.StatusTooManyRequests, "1"
				}
			}
		}
		return 0, ""
	}
	tt := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tt.Shutdown(context.Background())) })
	exp := startMetricsExporter(t, metadatatest.NewSettings(tt), testConfig(t, url))

	send := func(round int) { sendRound(t, exp, round, time.Now()) }
	has := func(round int) bool { return sink.has(round) }
	send(1)
	waitFor(t, "the 400", func() bool { sink.mu.Lock(); defer sink.mu.Unlock(); return sink.statuses[400] > 0 })
	send(2)
	waitFor(t, "round 2 accepted after three 429s", func() bool { return has(2) })
	send(3)
	waitFor(t, "round 3 after the refused round 1", func() bool { return has(3) })
	assert.False(t, has(1), "the refused request must not be resent")
	sink.mu.Lock()
	assert.Equal(t, 3, sink.statuses[429])
	assert.Equal(t, 1, sink.statuses[400])
	sink.mu.Unlock()
	// Telemetry: 3 samples appended, the 400'd one failed, the throttled one retried 3 times.
	metadatatest.AssertEqualExporterAgentRemoteWriteSamplesAppended(t, tt, []metricdata.DataPoint[int64]{{Value: 3}}, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
	metadatatest.AssertEqualExporterAgentRemoteWriteSamplesFailed(t, tt, []metricdata.DataPoint[int64]{{Value: 1}}, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
	metadatatest.AssertEqualExporterAgentRemoteWriteSamplesRetried(t, tt, []metricdata.DataPoint[int64]{{Value: 3}}, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
}

func sendRound(t *testing.T, exp exporter.Metrics, round int, at time.Time) {
	t.Helper()
	md := pmetric.NewMetrics()
	g := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	g.SetName("round.value")
	dp := g.SetEmptyGauge().DataPoints().AppendEmpty()
	dp.Attributes().PutStr("round", fmt.Sprint(round))
	dp.SetTimestamp(pcommon.NewTimestampFromTime(at))
	dp.SetDoubleValue(float64(round))
	require.NoError(t, exp.ConsumeMetrics(context.Background(), md))
}

func (s *rwSink) has(round int) bool {
	for k := range s.snapshot() {
		if strings.Contains(k, fmt.Sprintf("round=%d", round)) {
			return true
		}
	}
	return false
}

// TestRestartResendsUnsentSamples: what a process appended but could not send (the target answered 503 until
// it stopped) goes after a restart on the same WAL, although Prometheus' watcher starts at the new process's
// start; what was sent is not sent again; a sample timestamped before the queue manager's start (late data,
// e.g. an agent's queue draining after a gateway restart) is sent too.
func TestRestartResendsUnsentSamples(t *testing.T) {
	sink, url := newRWSink(t)
	down := true
	sink.reject = func(*prompb.WriteRequest) (int, string) {
		if down {
			return http.StatusServiceUnavailable, ""
		}
		return 0, ""
	}
	cfg := testConfig(t, url)
	first, err := NewFactory().CreateMetrics(context.Background(), exportertest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	require.NoError(t, first.Start(context.Background(), componenttest.NewNopHost()))
	sendRound(t, first, 1, time.Now()) // committed to the WAL; the target answers 503 to whatever is sent
	time.Sleep(time.Second)
	require.NoError(t, first.Shutdown(context.Background())) // gives up after the flush deadline; round 1 stays in the WAL

	sink.mu.Lock()
	down = false
	sink.mu.Unlock()
	second := startMetricsExporter(t, exportertest.NewNopSettings(metadata.Type), cfg)
	waitFor(t, "round 1 after the restart", func() bool { return sink.has(1) })
	sendRound(t, second, 2, time.Now())
	waitFor(t, "round 2", func() bool { return sink.has(2) })
	sendRound(t, second, 3, time.Now().Add(-time.Minute)) // late: before the watcher's start
	waitFor(t, "round 3, timestamped a minute ago", func() bool { return sink.has(3) })
	require.NoError(t, second.Shutdown(context.Background()))

	// A third start on the same WAL: everything was answered, nothing is sent again.
	third := startMetricsExporter(t, exportertest.NewNopSettings(metadata.Type), cfg)
	sendRound(t, third, 4, time.Now())
	waitFor(t, "round 4", func() bool { return sink.has(4) })
	for k, pts := range sink.snapshot() {
		if len(pts) != 1 {
			t.Errorf("%s received %v, want one sample", k, pts)
		}
	}
}

// decodeWriteRequest reads one remote-write request body: snappy-compressed protobuf WriteRequest.
func decodeWriteRequest(r *http.Request) (*prompb.WriteRequest, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	raw, err := snappy.Decode(nil, body)
	if err != nil {
		return nil, err
	}
	var wr prompb.WriteRequest
	if err := wr.Unmarshal(raw); err != nil {
		return nil, err
	}
	return &wr, nil
}
