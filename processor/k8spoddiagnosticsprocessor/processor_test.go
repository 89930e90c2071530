// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package k8spoddiagnosticsprocessor

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/otelcol-sre/otelcol-sre/internal/poddiagnosis/diagnosis"
	"github.com/otelcol-sre/otelcol-sre/internal/poddiagnosis/podtest"
	"github.com/otelcol-sre/otelcol-sre/processor/k8spoddiagnosticsprocessor/internal/metadatatest"
)

var testdataPod = podtest.Pod

// fakeClientsetProvider serves one fake clientset and counts the calls.
func fakeClientsetProvider(cs kubernetes.Interface, calls *atomic.Int32) ClientProvider {
	return func(*Config) (kubernetes.Interface, error) {
		calls.Add(1)
		return cs, nil
	}
}

type processors struct {
	metrics processor.Metrics
	logs    processor.Logs
	traces  processor.Traces
	mSink   *consumertest.MetricsSink
	lSink   *consumertest.LogsSink
	tSink   *consumertest.TracesSink
	tel     *componenttest.Telemetry
}

// startAll creates the three signals' processors from one configuration (as
// a collector does when one processor is used in three pipelines) and starts
// them.
func startAll(t *testing.T, provider ClientProvider, mutate func(*Config)) *processors {
	t.Helper()
	f := NewFactoryWithClientProvider(provider)
	cfg := f.CreateDefaultConfig().(*Config)
	cfg.WaitForSync = true
	mutate(cfg)
	require.NoError(t, cfg.Validate())
	p := &processors{mSink: new(consumertest.MetricsSink), lSink: new(consumertest.LogsSink), tSink: new(consumertest.TracesSink),
		tel: componenttest.NewTelemetry()}
	set := metadatatest.NewSettings(p.tel)
	var err error
	p.metrics, err = f.CreateMetrics(context.Background(), set, cfg, p.mSink)
	require.NoError(t, err)
	p.logs, err = f.CreateLogs(context.Background(), set, cfg, p.lSink)
	require.NoError(t, err)
	p.traces, err = f.CreateTraces(context.Background(), set, cfg, p.tSink)
	require.NoError(t, err)
	host := componenttest.NewNopHost()
	require.NoError(t, p.metrics.Start(context.Background(), host))
	require.NoError(t, p.logs.Start(context.Background(), host))
	require.NoError(t, p.traces.Start(context.Background(), host))
	t.Cleanup(func() {
		require.NoError(t, p.metrics.Shutdown(context.Background()))
		require.NoError(t, p.logs.Shutdown(context.Background()))
		require.NoError(t, p.traces.Shutdown(context.Background()))
		require.NoError(t, p.tel.Shutdown(context.Background()))
	})
	return p
}

func metricsWith(resources ...map[string]any) pmetric.Metrics {
	md := pmetric.NewMetrics()
	for _, r := range resources {
		rm := md.ResourceMetrics().AppendEmpty()
		_ = rm.Resource().Attributes().FromRaw(r)
		m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
		m.SetName("container.cpu.time")
		m.SetEmptySum().DataPoints().AppendEmpty().SetDoubleValue(1)
	}
	return md
}

func TestProcessorFakeClientsetAnnotatesEverySignal(t *testing.T) {
	crash := testdataPod(t, "crashloop_oomkilled")
	var calls atomic.Int32
	p := startAll(t, fakeClientsetProvider(fake.NewClientset(crash), &calls), func(*Config) {})
	assert.Equal(t, int32(1), calls.Load(), "the three pipelines share one client and one cache")

	require.NoError(t, p.metrics.ConsumeMetrics(context.Background(), metricsWith(map[string]any{"k8s.pod.uid": string(crash.UID)})))
	got := p.mSink.AllMetrics()[0].ResourceMetrics().At(0).Resource().Attributes().AsRaw()
	assert.Equal(t, map[string]any{"k8s.pod.uid": string(crash.UID)}, got,
		"metrics carry no diagnosis by default: their series stay one series across state changes")
	_, err := p.tel.GetMetric("otelcol.k8s_pod_diagnostics.resources")
	require.Error(t, err, "no lookup, so nothing counted, for a signal with no attributes selected")

	ld := plog.NewLogs()
	ld.ResourceLogs().AppendEmpty().Resource().Attributes().PutStr("k8s.pod.uid", string(crash.UID))
	require.NoError(t, p.logs.ConsumeLogs(context.Background(), ld))
	la := p.lSink.AllLogs()[0].ResourceLogs().At(0).Resource().Attributes()
	msg, _ := la.Get(diagnosis.AttributeMessage)
	assert.Equal(t, "OOMKilled (exit code 137)", msg.Str())
	since, _ := la.Get(diagnosis.AttributeSince)
	assert.Equal(t, "2026-11-22T11:59:00Z", since.Str())
	hint, _ := la.Get(diagnosis.AttributeHint)
	assert.Contains(t, hint.Str(), "resources.limits.memory")

	td := ptrace.NewTraces()
	td.ResourceSpans().AppendEmpty().Resource().Attributes().PutStr("k8s.pod.uid", string(crash.UID))
	require.NoError(t, p.traces.ConsumeTraces(context.Background(), td))
	ta := p.tSink.AllTraces()[0].ResourceSpans().At(0).Resource().Attributes()
	reason, _ := ta.Get(diagnosis.AttributeReason)
	assert.Equal(t, "OOMKilled", reason.Str())
}

func TestProcessorFakeClientsetAssociationOrder(t *testing.T) {
	crash := testdataPod(t, "crashloop_oomkilled")
	healthy := testdataPod(t, "healthy_running")
	completed := testdataPod(t, "completed_job")
	reuser := testdataPod(t, "not_ready_within_grace")
	reuser.Status.PodIP = completed.Status.PodIP // the completed pod's IP was reused
	var calls atomic.Int32
	p := startAll(t, fakeClientsetProvider(fake.NewClientset(crash, healthy, completed, reuser), &calls), func(cfg *Config) {
		cfg.Association.FromConnection = true
		cfg.Attributes.Metrics = []string{"status", "stuck", "reason", "container"}
	})

	tests := []struct {
		name   string
		attrs  map[string]any
		peer   net.Addr
		reason any // nil: no diagnosis attached
		status any
	}{
		{name: "uid wins over name and ip", attrs: map[string]any{"k8s.pod.uid": string(crash.UID), "k8s.pod.name": healthy.Name,
			"k8s.namespace.name": healthy.Namespace, "k8s.pod.ip": healthy.Status.PodIP}, reason: "OOMKilled", status: "CrashLoopBackOff"},
		{name: "name and namespace", attrs: map[string]any{"k8s.pod.name": crash.Name, "k8s.namespace.name": crash.Namespace}, reason: "OOMKilled", status: "CrashLoopBackOff"},
		{name: "unknown uid falls back to name", attrs: map[string]any{"k8s.pod.uid": "gone", "k8s.pod.name": crash.Name, "k8s.namespace.name": crash.Namespace}, reason: "OOMKilled", status: "CrashLoopBackOff"},
		{name: "pod ip", attrs: map[string]any{"k8s.pod.ip": crash.Status.PodIP}, reason: "OOMKilled", status: "CrashLoopBackOff"},
		{name: "reused ip belongs to the live pod", attrs: map[string]any{"k8s.pod.ip": completed.Status.PodIP}, reason: "NotReady", status: "Running"},
		{name: "connection peer ip", attrs: map[string]any{"service.name": "checkout"}, peer: &net.TCPAddr{IP: net.ParseIP(crash.Status.PodIP), Port: 4317}, reason: "OOMKilled", status: "CrashLoopBackOff"},
		{name: "healthy pod gets status, stuck false and no reason", attrs: map[string]any{"k8s.pod.uid": string(healthy.UID), diagnosis.AttributeReason: "stale-from-agent"}, status: "Running"},
		{name: "unmatched passes through", attrs: map[string]any{"k8s.pod.uid": "unknown"}},
		{name: "unidentified passes through", attrs: map[string]any{"service.name": "batch"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p.mSink.Reset()
			ctx := context.Background()
			if tt.peer != nil {
				ctx = client.NewContext(ctx, client.Info{Addr: tt.peer})
			}
			require.NoError(t, p.metrics.ConsumeMetrics(ctx, metricsWith(tt.attrs)))
			got := p.mSink.AllMetrics()[0].ResourceMetrics().At(0).Resource().Attributes().AsRaw()
			assert.Equal(t, tt.reason, got[diagnosis.AttributeReason])
			assert.Equal(t, tt.status, got[diagnosis.AttributeStatus])
		})
	}
	metadatatest.AssertEqualK8sPodDiagnosticsResources(t, p.tel, []metricdata.DataPoint[int64]{
		{Value: 7, Attributes: attribute.NewSet(attribute.String("otelcol.signal", "metrics"), attribute.String("outcome", "annotated"))},
		{Value: 1, Attributes: attribute.NewSet(attribute.String("otelcol.signal", "metrics"), attribute.String("outcome", "unmatched"))},
		{Value: 1, Attributes: attribute.NewSet(attribute.String("otelcol.signal", "metrics"), attribute.String("outcome", "unidentified"))},
	}, metricdatatest.IgnoreTimestamp())
}

// The receiver's own series pass through a processor that puts the diagnosis on metrics without a
// second copy of it as resource attributes; another metric of the same pod in the same batch gets it.
func TestProcessorLeavesTheReceiversDiagnosisSeriesAlone(t *testing.T) {
	crash := testdataPod(t, "crashloop_oomkilled")
	var calls atomic.Int32
	p := startAll(t, fakeClientsetProvider(fake.NewClientset(crash), &calls), func(cfg *Config) {
		cfg.Attributes.Metrics = []string{"status", "stuck", "reason", "container", "message"}
	})
	pod := map[string]any{"k8s.pod.uid": string(crash.UID), "k8s.pod.name": crash.Name, "k8s.namespace.name": crash.Namespace}
	md := metricsWith(pod, pod)
	own := md.ResourceMetrics().At(1).ScopeMetrics().At(0).Metrics()
	own.At(0).SetName(diagnosis.MetricDiagnosis)
	d := own.AppendEmpty()
	d.SetName(diagnosis.MetricDiagnosisDuration)
	d.SetEmptyGauge().DataPoints().AppendEmpty().SetDoubleValue(60)
	require.NoError(t, p.metrics.ConsumeMetrics(context.Background(), md))

	rms := p.mSink.AllMetrics()[0].ResourceMetrics()
	assert.Equal(t, "OOMKilled", rms.At(0).Resource().Attributes().AsRaw()[diagnosis.AttributeReason], "container.cpu.time is annotated")
	assert.Equal(t, pod, rms.At(1).Resource().Attributes().AsRaw(), "k8s.pod.diagnosis keeps its resource as the receiver built it")
}

func TestProcessorFakeClientsetSelfTelemetryGauges(t *testing.T) {
	var calls atomic.Int32
	p := startAll(t, fakeClientsetProvider(fake.NewClientset(testdataPod(t, "crashloop_oomkilled"),
		testdataPod(t, "image_pull_backoff_not_found"), testdataPod(t, "healthy_running")), &calls), func(*Config) {})
	metadatatest.AssertEqualK8sPodDiagnosticsPodsCached(t, p.tel, []metricdata.DataPoint[int64]{{Value: 3}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualK8sPodDiagnosticsPodsStuck(t, p.tel, []metricdata.DataPoint[int64]{
		{Value: 1, Attributes: attribute.NewSet(attribute.String("reason", "OOMKilled"))},
		{Value: 1, Attributes: attribute.NewSet(attribute.String("reason", "ImagePullBackOff"))},
	}, metricdatatest.IgnoreTimestamp())
}

func TestProcessorFakeClientsetNodeFilterFromEnv(t *testing.T) {
	cs := fake.NewClientset()
	var selector atomic.Value
	cs.PrependReactor("list", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		selector.Store(a.(k8stesting.ListActionImpl).GetListRestrictions().Fields.String())
		return false, nil, nil
	})
	t.Setenv("TEST_NODE_NAME", "ip-10-0-12-34.ec2.internal")
	var calls atomic.Int32
	startAll(t, fakeClientsetProvider(cs, &calls), func(cfg *Config) { cfg.Filter.NodeFromEnvVar = "TEST_NODE_NAME" })
	assert.Equal(t, "spec.nodeName=ip-10-0-12-34.ec2.internal", selector.Load())
}

func TestProcessorFakeClientsetStartErrors(t *testing.T) {
	t.Run("empty node env var", func(t *testing.T) {
		t.Setenv("TEST_NODE_NAME", "")
		f := NewFactoryWithClientProvider(fakeClientsetProvider(fake.NewClientset(), new(atomic.Int32)))
		cfg := f.CreateDefaultConfig().(*Config)
		cfg.Filter.NodeFromEnvVar = "TEST_NODE_NAME"
		p, err := f.CreateMetrics(context.Background(), metadatatest.NewSettings(componenttest.NewTelemetry()), cfg, consumertest.NewNop())
		require.NoError(t, err)
		assert.ErrorContains(t, p.Start(context.Background(), componenttest.NewNopHost()), "environment variable TEST_NODE_NAME is empty")
		require.NoError(t, p.Shutdown(context.Background()))
	})
	t.Run("client error", func(t *testing.T) {
		f := NewFactoryWithClientProvider(func(*Config) (kubernetes.Interface, error) { return nil, errors.New("no kubeconfig") })
		cfg := f.CreateDefaultConfig()
		p, err := f.CreateLogs(context.Background(), metadatatest.NewSettings(componenttest.NewTelemetry()), cfg, consumertest.NewNop())
		require.NoError(t, err)
		assert.ErrorContains(t, p.Start(context.Background(), componenttest.NewNopHost()), "connecting to the Kubernetes API: no kubeconfig")
		require.NoError(t, p.Shutdown(context.Background()))
	})
	t.Run("wait_for_sync times out while the API server fails", func(t *testing.T) {
		cs := fake.NewClientset()
		cs.PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
			return true, nil, errors.New("connection refused")
		})
		tel := componenttest.NewTelemetry()
		f := NewFactoryWithClientProvider(fakeClientsetProvider(cs, new(atomic.Int32)))
		cfg := f.CreateDefaultConfig().(*Config)
		cfg.WaitForSync, cfg.WaitForSyncTimeout = true, 300*time.Millisecond
		p, err := f.CreateTraces(context.Background(), metadatatest.NewSettings(tel), cfg, consumertest.NewNop())
		require.NoError(t, err)
		assert.ErrorContains(t, p.Start(context.Background(), componenttest.NewNopHost()), "wait_for_sync: the pod cache did not sync within 300ms")
		// The informers keep retrying until Shutdown, and every failed list is counted. The reflector's
		// first list can come after the 300ms (it did in about 1 run in 15 under -race), so wait for it.
		assert.Eventually(t, func() bool {
			got, err := tel.GetMetric("otelcol.k8s_pod_diagnostics.watch.errors")
			return err == nil && got.Data.(metricdata.Sum[int64]).DataPoints[0].Value > 0
		}, 30*time.Second, 20*time.Millisecond, "no failed list counted")
		require.NoError(t, p.Shutdown(context.Background()))
	})
}

func TestProcessorFakeClientsetNeverBlocksWhileAPIServerDown(t *testing.T) {
	cs := fake.NewClientset()
	cs.PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("connection refused")
	})
	f := NewFactoryWithClientProvider(fakeClientsetProvider(cs, new(atomic.Int32)))
	cfg := f.CreateDefaultConfig() // wait_for_sync off
	sink := new(consumertest.MetricsSink)
	p, err := f.CreateMetrics(context.Background(), metadatatest.NewSettings(componenttest.NewTelemetry()), cfg, sink)
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))
	defer func() { require.NoError(t, p.Shutdown(context.Background())) }()
	require.NoError(t, p.ConsumeMetrics(context.Background(), metricsWith(map[string]any{"k8s.pod.uid": "x"})))
	assert.Equal(t, 1, sink.DataPointCount(), "data flows while the API server is down")
}

func TestProcessorNotStartedPassesThrough(t *testing.T) {
	f := NewFactoryWithClientProvider(fakeClientsetProvider(fake.NewClientset(), new(atomic.Int32)))
	sink := new(consumertest.MetricsSink)
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	cfg := f.CreateDefaultConfig().(*Config)
	cfg.Attributes.Metrics = []string{"reason"}
	p, err := f.CreateMetrics(context.Background(), metadatatest.NewSettings(tel), cfg, sink)
	require.NoError(t, err)
	require.NoError(t, p.ConsumeMetrics(context.Background(), metricsWith(map[string]any{"k8s.pod.uid": "x"})))
	assert.Equal(t, 1, sink.DataPointCount())
	metadatatest.AssertEqualK8sPodDiagnosticsResources(t, tel, []metricdata.DataPoint[int64]{
		{Value: 1, Attributes: attribute.NewSet(attribute.String("otelcol.signal", "metrics"), attribute.String("outcome", "not_started"))},
	}, metricdatatest.IgnoreTimestamp()) // not_started, not unmatched: no cache was asked
	require.NoError(t, p.Shutdown(context.Background()))
}

func TestPeerIP(t *testing.T) {
	tests := []struct {
		addr net.Addr
		want string
	}{
		{nil, ""},
		{&net.TCPAddr{IP: net.ParseIP("10.0.1.2"), Port: 1}, "10.0.1.2"},
		{&net.UDPAddr{IP: net.ParseIP("10.0.1.3"), Port: 1}, "10.0.1.3"},
		{&net.IPAddr{IP: net.ParseIP("fd00::1")}, "fd00::1"},
		{&net.UnixAddr{Name: "/run/otel.sock", Net: "unix"}, "/run/otel.sock"},
	}
	for _, tt := range tests {
		ctx := context.Background()
		if tt.addr != nil {
			ctx = client.NewContext(ctx, client.Info{Addr: tt.addr})
		}
		assert.Equal(t, tt.want, peerIP(ctx))
	}
}
