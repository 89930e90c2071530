// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

// Package integrationtest runs the k8spoddiagnostics processor against a real
// control plane (etcd + kube-apiserver + kube-scheduler from
// internal/testcluster): the Unschedulable message comes from the real
// scheduler, kubelet-reported states are written through the status
// subresource, the client is bound to exactly kubeclient.Rules (which deploy's
// tests check every mode's role grants), and the API
// server is stopped and restarted under a running processor.
package integrationtest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/otelcol-sre/otelcol-sre/internal/poddiagnosis/diagnosis"
	"github.com/otelcol-sre/otelcol-sre/internal/poddiagnosis/kubeclient"
	"github.com/otelcol-sre/otelcol-sre/internal/poddiagnosis/podcache"
	"github.com/otelcol-sre/otelcol-sre/internal/testcluster"
	"github.com/otelcol-sre/otelcol-sre/processor/k8spoddiagnosticsprocessor"
)

func TestMain(m *testing.M) { testcluster.Main(m) }

// waitFor bounds waits on the scheduler, informers and watch recovery; generous
// for a loaded shared machine.
const waitFor = 2 * time.Minute

type pipeline struct {
	proc processor.Metrics
	sink *consumertest.MetricsSink
	tel  *componenttest.Telemetry
}

// startProcessor runs a metrics processor on client for namespace ns, the
// way a collector would, with slow-state thresholds at zero so that states
// count as stuck as soon as they are seen.
func startProcessor(t *testing.T, client kubernetes.Interface, ns string) *pipeline {
	t.Helper()
	f := k8spoddiagnosticsprocessor.NewFactoryWithClientProvider(func(*k8spoddiagnosticsprocessor.Config) (kubernetes.Interface, error) {
		return client, nil
	})
	cfg := f.CreateDefaultConfig().(*k8spoddiagnosticsprocessor.Config)
	cfg.Filter.Namespaces = []string{ns}
	cfg.Thresholds = podcache.ThresholdsConfig{RestartWindow: time.Hour}
	cfg.Attributes.Metrics = []string{"status", "stuck", "reason", "container", "message"}
	cfg.RediagnoseInterval = time.Second
	cfg.WaitForSync = true
	cfg.WaitForSyncTimeout = waitFor
	require.NoError(t, cfg.Validate())

	p := &pipeline{sink: new(consumertest.MetricsSink), tel: componenttest.NewTelemetry()}
	set := processortest.NewNopSettings(f.Type())
	set.TelemetrySettings = p.tel.NewTelemetrySettings()
	var err error
	p.proc, err = f.CreateMetrics(t.Context(), set, cfg, p.sink)
	require.NoError(t, err)
	require.NoError(t, p.proc.Start(t.Context(), componenttest.NewNopHost()))
	t.Cleanup(func() {
		assert.NoError(t, p.proc.Shutdown(context.Background()))
		assert.NoError(t, p.tel.Shutdown(context.Background()))
	})
	return p
}

// annotate sends one resource with attrs through the processor and returns
// the resource attributes that came out.
func (p *pipeline) annotate(t require.TestingT, attrs map[string]any) map[string]any {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	require.NoError(t, rm.Resource().Attributes().FromRaw(attrs))
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName("k8s.pod.phase")
	m.SetEmptyGauge().DataPoints().AppendEmpty().SetIntValue(1)
	p.sink.Reset()
	require.NoError(t, p.proc.ConsumeMetrics(context.Background(), md))
	all := p.sink.AllMetrics()
	require.Len(t, all, 1, "the pipeline delivers every batch")
	return all[0].ResourceMetrics().At(0).Resource().Attributes().AsRaw()
}

func createPod(t *testing.T, c *testcluster.Cluster, ns, name, cpu string) *corev1.Pod {
	t.Helper()
	p, err := c.Client().CoreV1().Pods(ns).Create(t.Context(), testcluster.PodRequestingCPU(name, cpu), metav1.CreateOptions{})
	require.NoError(t, err)
	return p
}

func waitScheduled(t *testing.T, c *testcluster.Cluster, ns, name string) *corev1.Pod {
	t.Helper()
	var p *corev1.Pod
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		var err error
		p, err = c.Client().CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
		require.NoError(ct, err)
		assert.NotEmpty(ct, p.Spec.NodeName)
	}, waitFor, 100*time.Millisecond)
	return p
}

// setStatus writes what a kubelet would report, through the status subresource.
func setStatus(t *testing.T, c *testcluster.Cluster, ns, name string, mutate func(*corev1.PodStatus)) {
	t.Helper()
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		p, err := c.Client().CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
		require.NoError(ct, err)
		mutate(&p.Status)
		_, err = c.Client().CoreV1().Pods(ns).UpdateStatus(context.Background(), p, metav1.UpdateOptions{})
		require.NoError(ct, err)
	}, waitFor, 200*time.Millisecond)
}

func crashLoopOOM(ip string) func(*corev1.PodStatus) {
	return func(s *corev1.PodStatus) {
		now := metav1.Now()
		s.Phase = corev1.PodRunning
		s.PodIP, s.PodIPs = ip, []corev1.PodIP{{IP: ip}}
		s.StartTime = &now
		s.Conditions = append(s.Conditions,
			corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionFalse, Reason: "ContainersNotReady",
				Message: "containers with unready status: [app]", LastTransitionTime: now},
			corev1.PodCondition{Type: corev1.ContainersReady, Status: corev1.ConditionFalse, Reason: "ContainersNotReady",
				Message: "containers with unready status: [app]", LastTransitionTime: now})
		s.ContainerStatuses = []corev1.ContainerStatus{{
			Name: "app", Image: "registry.k8s.io/pause:3.10", RestartCount: 3,
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff",
				Message: "back-off 40s restarting failed container=app"}},
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				Reason: "OOMKilled", ExitCode: 137, StartedAt: now, FinishedAt: now}},
		}}
	}
}

func runningReady(s *corev1.PodStatus) {
	now := metav1.Now()
	for i := range s.Conditions {
		if s.Conditions[i].Type == corev1.PodReady || s.Conditions[i].Type == corev1.ContainersReady {
			s.Conditions[i] = corev1.PodCondition{Type: s.Conditions[i].Type, Status: corev1.ConditionTrue, LastTransitionTime: now}
		}
	}
	s.ContainerStatuses[0].State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}
	s.ContainerStatuses[0].LastTerminationState = corev1.ContainerState{}
	s.ContainerStatuses[0].Ready = true
	started := true
	s.ContainerStatuses[0].Started = &started
}

// TestRealControlPlaneDiagnosesWithShippedClusterRole: the processor, bound
// to the ClusterRole we ship and nothing else, sees the real scheduler's
// Unschedulable message, kubelet-reported crash loops (matched by pod IP) and
// Warning events.
func TestRealControlPlaneDiagnosesWithShippedClusterRole(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	c.CreateNode(t, "", corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")})
	client, _ := c.ClientWithClusterRole(t, ns, kubeclient.Rules())

	_, err := client.CoreV1().Secrets(ns).List(t.Context(), metav1.ListOptions{})
	require.Truef(t, apierrors.IsForbidden(err), "the shipped role must not read secrets, got %v", err)

	p := startProcessor(t, client, ns)

	tooBig := createPod(t, c, ns, "too-big", "2")
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		got := p.annotate(ct, map[string]any{"k8s.pod.uid": string(tooBig.UID)})
		assert.Equal(ct, "Unschedulable", got[diagnosis.AttributeReason])
		assert.Equal(ct, true, got[diagnosis.AttributeStuck])
		assert.Contains(ct, got[diagnosis.AttributeMessage], "0/1 nodes are available")
		assert.Contains(ct, got[diagnosis.AttributeMessage], "Insufficient cpu")
	}, waitFor, 100*time.Millisecond, "the Unschedulable message comes from the real scheduler")

	createPod(t, c, ns, "crashy", "100m")
	waitScheduled(t, c, ns, "crashy")
	setStatus(t, c, ns, "crashy", crashLoopOOM("10.244.0.7"))
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		got := p.annotate(ct, map[string]any{"k8s.pod.ip": "10.244.0.7"})
		assert.Equal(ct, "OOMKilled", got[diagnosis.AttributeReason])
		assert.Equal(ct, "app", got[diagnosis.AttributeContainer])
		assert.Equal(ct, "CrashLoopBackOff", got[diagnosis.AttributeStatus])
	}, waitFor, 100*time.Millisecond, "a kubelet-reported crash loop, matched by pod IP")

	mounting := createPod(t, c, ns, "mounting", "100m")
	waitScheduled(t, c, ns, "mounting")
	setStatus(t, c, ns, "mounting", func(s *corev1.PodStatus) {
		s.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", Image: "registry.k8s.io/pause:3.10",
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}}}
	})
	now := metav1.Now()
	_, err = c.Client().CoreV1().Events(ns).Create(t.Context(), &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "mounting-"},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: mounting.Name, UID: mounting.UID,
			APIVersion: "v1"},
		Type: corev1.EventTypeWarning, Reason: "FailedMount", Count: 3, FirstTimestamp: now, LastTimestamp: now,
		Message: `MountVolume.SetUp failed for volume "config" : configmap "orders-config" not found`,
		Source:  corev1.EventSource{Component: "kubelet"},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		got := p.annotate(ct, map[string]any{"k8s.pod.name": "mounting", "k8s.namespace.name": ns})
		assert.Equal(ct, "FailedMount", got[diagnosis.AttributeReason])
		assert.Contains(ct, got[diagnosis.AttributeMessage], `configmap "orders-config" not found`)
	}, waitFor, 100*time.Millisecond, "a Warning event explains ContainerCreating")
}

// outage is how long the API server stays down.
const outage = 60 * time.Second

// TestRealControlPlaneAPIServerOutage: with the API server stopped for a
// minute the pipeline keeps flowing with the last known diagnosis, failed
// watches are counted, and after the restart the watch resumes and later
// changes are seen.
func TestRealControlPlaneAPIServerOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("stops the API server for a minute")
	}
	c := testcluster.Start(t)
	ns := c.Namespace(t)
	c.CreateNode(t, "", corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")})
	client, _ := c.ClientWithClusterRole(t, ns, kubeclient.Rules())
	p := startProcessor(t, client, ns)

	crashy := createPod(t, c, ns, "crashy", "100m")
	waitScheduled(t, c, ns, "crashy")
	setStatus(t, c, ns, "crashy", crashLoopOOM("10.244.0.9"))
	byUID := map[string]any{"k8s.pod.uid": string(crashy.UID)}
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		assert.Equal(ct, "OOMKilled", p.annotate(ct, byUID)[diagnosis.AttributeReason])
	}, waitFor, 100*time.Millisecond)

	c.StopAPIServer()
	for end := time.Now().Add(outage); time.Now().Before(end); time.Sleep(5 * time.Second) {
		got := p.annotate(t, byUID)
		assert.Equal(t, "OOMKilled", got[diagnosis.AttributeReason], "the last known diagnosis is served while the API server is down")
	}
	require.NoError(t, c.StartAPIServer())

	setStatus(t, c, ns, "crashy", runningReady)
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		got := p.annotate(ct, byUID)
		assert.Equal(ct, "Running", got[diagnosis.AttributeStatus])
		assert.Equal(ct, false, got[diagnosis.AttributeStuck])
		assert.NotContains(ct, got, diagnosis.AttributeReason)
	}, waitFor, 200*time.Millisecond, "the watch resumed and the later change is seen")

	errs, err := p.tel.GetMetric("otelcol.k8s_pod_diagnostics.watch.errors")
	require.NoError(t, err, "failed watches during the outage are counted")
	var total int64
	for _, dp := range errs.Data.(metricdata.Sum[int64]).DataPoints {
		total += dp.Value
	}
	assert.Positive(t, total)
}
