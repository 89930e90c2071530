// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package k8spoddiagnosticsreceiver

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receivertest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/otelcol-sre/otelcol-sre/internal/poddiagnosis/diagnosis"
	"github.com/otelcol-sre/otelcol-sre/internal/poddiagnosis/podcache"
	"github.com/otelcol-sre/otelcol-sre/internal/poddiagnosis/podtest"
	"github.com/otelcol-sre/otelcol-sre/receiver/k8spoddiagnosticsreceiver/internal/metadata"
)

// point is one pod's k8s.pod.diagnosis point with its resource, flattened.
type point struct {
	attrs    map[string]any
	duration float64
	hasDur   bool
}

// points flattens md by pod name; it fails on a pod reported twice.
func points(t *testing.T, md pmetric.Metrics) map[string]point {
	t.Helper()
	out := map[string]point{}
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		rm := rms.At(i)
		attrs := rm.Resource().Attributes().AsRaw()
		name := attrs["k8s.pod.name"].(string)
		_, dup := out[name]
		require.False(t, dup, "pod %s reported twice", name)
		pt := point{attrs: attrs}
		ms := rm.ScopeMetrics().At(0).Metrics()
		for j := 0; j < ms.Len(); j++ {
			m := ms.At(j)
			dp := m.Gauge().DataPoints().At(0)
			switch m.Name() {
			case diagnosis.MetricDiagnosis:
				assert.Equal(t, int64(1), dp.IntValue())
				for k, v := range dp.Attributes().AsRaw() {
					pt.attrs[k] = v
				}
			case diagnosis.MetricDiagnosisDuration:
				pt.duration, pt.hasDur = dp.DoubleValue(), true
				assert.Equal(t, pt.attrs[diagnosis.PointReason], dp.Attributes().AsRaw()[diagnosis.PointReason])
			default:
				t.Fatalf("unexpected metric %s", m.Name())
			}
		}
		out[name] = pt
	}
	return out
}

// testPods: a crash loop on a node, a healthy pod, an unschedulable pod and a
// Deployment's pod that is NotReady within its grace period.
func testPods(t *testing.T) []*corev1.Pod {
	crash := podtest.Pod(t, "crashloop_oomkilled")
	healthy := podtest.Pod(t, "healthy_running")
	pending := podtest.Pod(t, "unschedulable_insufficient_cpu")
	notReady := podtest.Pod(t, "not_ready_within_grace")
	notReady.OwnerReferences[0].Name = "pricing-7d9f8b6c5d" // as the Deployment controller names it
	return []*corev1.Pod{crash, healthy, pending, notReady}
}

func newTestFactory(cs kubernetes.Interface, calls *atomic.Int32, reg *podcache.Registry) receiver.Factory {
	reg.Now = func() time.Time { return podtest.Now }
	f := &factory{registry: reg, now: func() time.Time { return podtest.Now }, provider: func(*Config) (kubernetes.Interface, error) {
		calls.Add(1)
		return cs, nil
	}}
	return receiver.NewFactory(metadata.Type, createDefaultConfig, receiver.WithMetrics(f.createMetrics, metadata.MetricsStability))
}

// scrapeOnce builds a scraper from cfg on a fake clientset holding pods,
// starts it (waiting for the cache) and scrapes once.
func scrapeOnce(t *testing.T, cfg *Config, host component.Host, pods ...*corev1.Pod) (*diagnosisScraper, pmetric.Metrics) {
	t.Helper()
	cs := fake.NewClientset()
	for _, p := range pods {
		_, err := cs.CoreV1().Pods(p.Namespace).Create(context.Background(), p, metav1CreateOptions)
		require.NoError(t, err)
	}
	reg := podcache.NewRegistry()
	reg.Now = func() time.Time { return podtest.Now }
	cfg.WaitForSync = true
	s := newDiagnosisScraper(cfg, receivertest.NewNopSettings(metadata.Type),
		func(*Config) (kubernetes.Interface, error) { return cs, nil }, reg, func() time.Time { return podtest.Now })
	require.NoError(t, s.start(context.Background(), host))
	t.Cleanup(func() { require.NoError(t, s.shutdown(context.Background())) })
	md, err := s.scrape(context.Background())
	require.NoError(t, err)
	return s, md
}

func TestScrapeReportsDiagnosedPods(t *testing.T) {
	pods := testPods(t)
	tests := []struct {
		name   string
		mutate func(*Config)
		want   map[string]map[string]any // pod name -> expected attributes (subset)
	}{
		{name: "all pods with a diagnosis, healthy ones not", mutate: func(*Config) {}, want: map[string]map[string]any{
			pods[0].Name: {"k8s.pod.uid": string(pods[0].UID), "k8s.namespace.name": pods[0].Namespace, "k8s.node.name": pods[0].Spec.NodeName,
				"k8s.replicaset.name": "recommender-5c6d7e8f9", // its pod-template-hash does not match: not resolved
				diagnosis.PointStatus: "CrashLoopBackOff", diagnosis.PointStuck: true, diagnosis.PointReason: "OOMKilled",
				diagnosis.PointContainer: "recommender", diagnosis.PointMessage: "OOMKilled (exit code 137)"},
			pods[2].Name: {"k8s.replicaset.name": "analytics-7a8b9c0d1", diagnosis.PointReason: "Unschedulable", diagnosis.PointStuck: true,
				diagnosis.PointContainer: ""},
			pods[3].Name: {"k8s.deployment.name": "pricing", diagnosis.PointReason: "NotReady", diagnosis.PointStuck: false,
				diagnosis.PointStatus: "Running"},
		}},
		{name: "unscheduled: only pods without a node", mutate: func(c *Config) { c.Pods = PodsUnscheduled }, want: map[string]map[string]any{
			pods[2].Name: {diagnosis.PointReason: "Unschedulable"},
		}},
		{name: "without the message", mutate: func(c *Config) { c.IncludeMessage = false }, want: map[string]map[string]any{
			pods[0].Name: {diagnosis.PointMessage: ""},
			pods[2].Name: {diagnosis.PointMessage: ""},
			pods[3].Name: {diagnosis.PointMessage: ""},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := createDefaultConfig().(*Config)
			tt.mutate(cfg)
			_, md := scrapeOnce(t, cfg, componenttest.NewNopHost(), testPods(t)...)
			got := points(t, md)
			require.Len(t, got, len(tt.want))
			for name, attrs := range tt.want {
				require.Contains(t, got, name)
				for k, v := range attrs {
					assert.Equal(t, v, got[name].attrs[k], "%s %s", name, k)
				}
			}
			if p, ok := got[pods[2].Name]; ok {
				assert.NotContains(t, p.attrs, "k8s.node.name", "an unscheduled pod has no node")
			}
		})
	}
}

func TestScrapeDuration(t *testing.T) {
	pods := testPods(t)
	_, md := scrapeOnce(t, createDefaultConfig().(*Config), componenttest.NewNopHost(), pods...)
	crash := points(t, md)[pods[0].Name]
	require.True(t, crash.hasDur)
	// The crash loop's state began at its last termination, 11:59:00; now is 12:00:00.
	assert.InDelta(t, 60.0, crash.duration, 0.001)
}

// fakeElector stands in for the k8s_leader_elector extension (its real
// election runs against the test control plane in the integration test).
type fakeElector struct {
	component.StartFunc
	component.ShutdownFunc
	start func(context.Context)
	stop  func()
}

func (e *fakeElector) SetCallBackFuncs(start func(context.Context), stop func()) {
	e.start, e.stop = start, stop
}

type hostWith map[component.ID]component.Component

func (h hostWith) GetExtensions() map[component.ID]component.Component { return h }

func TestScrapeOnlyWhileLeading(t *testing.T) {
	id := component.MustNewID("k8s_leader_elector")
	el := &fakeElector{}
	cfg := createDefaultConfig().(*Config)
	cfg.LeaderElector = &id
	s, md := scrapeOnce(t, cfg, hostWith{id: el}, testPods(t)...)
	assert.Equal(t, 0, md.ResourceMetrics().Len(), "not leading: nothing reported")

	el.start(context.Background())
	md, err := s.scrape(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 3, md.ResourceMetrics().Len(), "leading: every diagnosed pod")

	el.stop()
	md, err = s.scrape(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 0, md.ResourceMetrics().Len(), "lost the lease: nothing reported")
}

func TestStartErrors(t *testing.T) {
	id := component.MustNewID("k8s_leader_elector")
	cfg := createDefaultConfig().(*Config)
	cfg.LeaderElector = &id
	s := newDiagnosisScraper(cfg, receivertest.NewNopSettings(metadata.Type), nil, podcache.NewRegistry(), time.Now)
	assert.ErrorContains(t, s.start(context.Background(), componenttest.NewNopHost()), "k8s_leader_elector: extension k8s_leader_elector is not configured")
	assert.ErrorContains(t, s.start(context.Background(), hostWith{id: componenttest.NewNopHost().GetExtensions()[id]}), "is not a k8s_leader_elector")

	cfg = createDefaultConfig().(*Config)
	cfg.Filter.NodeFromEnvVar = "K8SPODDIAG_TEST_UNSET_NODE"
	s = newDiagnosisScraper(cfg, receivertest.NewNopSettings(metadata.Type), nil, podcache.NewRegistry(), time.Now)
	assert.ErrorContains(t, s.start(context.Background(), componenttest.NewNopHost()), "environment variable K8SPODDIAG_TEST_UNSET_NODE is empty")
}

func TestReceiverThroughTheController(t *testing.T) {
	cs := fake.NewClientset()
	for _, p := range testPods(t) {
		_, err := cs.CoreV1().Pods(p.Namespace).Create(context.Background(), p, metav1CreateOptions)
		require.NoError(t, err)
	}
	var calls atomic.Int32
	f := newTestFactory(cs, &calls, podcache.NewRegistry())
	cfg := f.CreateDefaultConfig().(*Config)
	cfg.CollectionInterval = 10 * time.Millisecond
	sink := new(consumertest.MetricsSink)
	r, err := f.CreateMetrics(context.Background(), receivertest.NewNopSettings(metadata.Type), cfg, sink)
	require.NoError(t, err)
	require.NoError(t, r.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, r.Shutdown(context.Background())) })
	require.Eventually(t, func() bool {
		for _, md := range sink.AllMetrics() {
			if md.ResourceMetrics().Len() == 3 {
				return true
			}
		}
		return false
	}, 10*time.Second, 10*time.Millisecond)
	assert.Equal(t, int32(1), calls.Load())
}

var metav1CreateOptions = metav1.CreateOptions{}
