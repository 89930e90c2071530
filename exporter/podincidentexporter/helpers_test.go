// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package podincidentexporter

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/otelcol-sre/otelcol-sre/exporter/podincidentexporter/internal/metadatatest"
	"github.com/otelcol-sre/otelcol-sre/internal/poddiagnosis/diagnosis"
)

// pod is one k8s.pod.diagnosis point as the receiver emits it.
type pod struct {
	uid, name, namespace, node, deployment string
	reason, container, message, hint       string
	stuck                                  bool
}

func stuckPod(ns, deployment, name, reason string) pod {
	return pod{uid: "uid-" + name, name: name, namespace: ns, node: "node-1", deployment: deployment, reason: reason,
		container: "app", message: reason + `: Back-off pulling image "registry.example/web:v2-typo"`,
		hint: "fix the image reference", stuck: true}
}

// diagnosisMetrics builds the receiver's k8s.pod.diagnosis gauge, with the
// attribute names of the diagnosis contract.
func diagnosisMetrics(pods ...pod) pmetric.Metrics {
	md := pmetric.NewMetrics()
	m := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName(diagnosisMetric)
	g := m.SetEmptyGauge()
	for _, p := range pods {
		dp := g.DataPoints().AppendEmpty()
		dp.SetIntValue(1)
		dp.SetTimestamp(pcommonNow())
		a := dp.Attributes()
		a.PutStr(attrPodUID, p.uid)
		a.PutStr(attrPodName, p.name)
		a.PutStr(attrNamespace, p.namespace)
		a.PutStr(attrNode, p.node)
		if p.deployment != "" {
			a.PutStr(ownerAttribute("Deployment"), p.deployment)
		}
		a.PutStr(diagnosis.AttributeStatus, p.reason)
		a.PutBool(diagnosis.AttributeStuck, p.stuck)
		a.PutStr(diagnosis.AttributeReason, p.reason)
		a.PutStr(diagnosis.AttributeContainer, p.container)
		a.PutStr(diagnosis.AttributeMessage, p.message)
		a.PutStr(diagnosis.AttributeHint, p.hint)
	}
	return md
}

// fastConfig is a config whose rules play out in seconds: no start-up
// digest, no group wait, a one-second hold-down, a fast tick.
func fastConfig(sinks ...SinkConfig) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.Startup = "notify"
	cfg.GroupWait = 0
	cfg.Resolve.HoldDown = time.Second
	cfg.TickInterval = 100 * time.Millisecond
	cfg.BackOffConfig.InitialInterval = 50 * time.Millisecond
	cfg.BackOffConfig.MaxInterval = 200 * time.Millisecond
	cfg.BackOffConfig.MaxElapsedTime = 3 * time.Second
	cfg.Timeout = time.Second
	cfg.Sinks = sinks
	return cfg
}

func webhookSink(name, endpoint string) SinkConfig {
	w := &WebhookConfig{}
	w.Endpoint = endpoint
	return SinkConfig{Name: name, Webhook: w}
}

type harness struct {
	e    *podIncidentExporter
	tel  *componenttest.Telemetry
	logs *observer.ObservedLogs
}

// start runs an exporter on cfg with host until the test ends.
func start(t *testing.T, cfg *Config, host component.Host) *harness {
	t.Helper()
	h := startUntil(t, cfg, host)
	t.Cleanup(func() { require.NoError(t, h.e.shutdown(context.Background())) })
	return h
}

// startUntil runs an exporter on cfg with host; the caller shuts it down.
func startUntil(t *testing.T, cfg *Config, host component.Host) *harness {
	t.Helper()
	require.NoError(t, cfg.Validate())
	tel := componenttest.NewTelemetry()
	set := metadatatest.NewSettings(tel)
	core, logs := observer.New(zapcore.InfoLevel)
	set.Logger = zap.New(core)
	e, err := newExporter(set, cfg, time.Now)
	require.NoError(t, err)
	require.NoError(t, e.start(context.Background(), host))
	h := &harness{e: e, tel: tel, logs: logs}
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	return h
}

func (h *harness) consume(t *testing.T, pods ...pod) {
	t.Helper()
	require.NoError(t, h.e.consume(context.Background(), diagnosisMetrics(pods...)))
}

// counter returns the sums of a counter of the exporter's telemetry keyed
// by its attributes ("class=network,kind=opened,sink=x").
func (h *harness) counter(t *testing.T, name string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	m, err := h.tel.GetMetric(name)
	if err != nil {
		return out
	}
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		out[attrString(dp.Attributes)] = dp.Value
	}
	return out
}

func attrString(set attribute.Set) string {
	var kv []string
	for _, a := range set.ToSlice() {
		kv = append(kv, string(a.Key)+"="+a.Value.String())
	}
	sort.Strings(kv)
	return strings.Join(kv, ",")
}

// recorder is a loopback HTTP peer that records JSON bodies.
type recorder struct {
	mu     sync.Mutex
	bodies [][]byte
	srv    *httptest.Server
}

func newRecorder(t *testing.T, answer func(w http.ResponseWriter, body []byte) bool) *recorder {
	r := &recorder{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		if answer != nil && !answer(w, body) {
			return
		}
		r.mu.Lock()
		r.bodies = append(r.bodies, body)
		r.mu.Unlock()
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.bodies)
}

// documents returns the webhook documents received so far.
func (r *recorder) documents(t *testing.T) []Document {
	r.mu.Lock()
	defer r.mu.Unlock()
	var docs []Document
	for _, b := range r.bodies {
		var d Document
		require.NoError(t, json.Unmarshal(b, &d))
		docs = append(docs, d)
	}
	return docs
}

func kindsOf(docs []Document) []string {
	var k []string
	for _, d := range docs {
		k = append(k, d.Kind)
	}
	return k
}

func pcommonNow() pcommon.Timestamp { return pcommon.NewTimestampFromTime(time.Now()) }

// httptestServer serves h on 127.0.0.1 and returns its host:port.
func httptestServer(t *testing.T, h http.Handler) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}
