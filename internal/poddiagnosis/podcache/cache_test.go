// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package podcache

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/otelcol-sre/otelcol-sre/internal/poddiagnosis/diagnosis"
	"github.com/otelcol-sre/otelcol-sre/internal/poddiagnosis/podtest"
)

var (
	testNow        = podtest.Now
	testdataPod    = podtest.Pod
	testdataEvents = podtest.Events
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }

func startCache(t *testing.T, client *fake.Clientset, cfg Config) *Cache {
	t.Helper()
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return testNow }
	}
	cfg.Diagnosis = diagnosis.DefaultOptions()
	c := New(client, cfg, zap.NewNop())
	c.Start(context.Background())
	t.Cleanup(c.Stop)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, c.WaitForSync(ctx))
	return c
}

func objects(pods ...*corev1.Pod) []runtime.Object {
	out := make([]runtime.Object, len(pods))
	for i, p := range pods {
		out[i] = p
	}
	return out
}

func TestCacheFakeClientsetLookups(t *testing.T) {
	crash := testdataPod(t, "crashloop_oomkilled")
	healthy := testdataPod(t, "healthy_running")
	c := startCache(t, fake.NewClientset(objects(crash, healthy)...), Config{})

	d, ok := c.ByUID(string(crash.UID))
	require.True(t, ok)
	assert.Equal(t, "OOMKilled", d.Reason)
	assert.True(t, d.Stuck)

	d, ok = c.ByName(healthy.Namespace, healthy.Name)
	require.True(t, ok)
	assert.Equal(t, "Running", d.Status)
	assert.False(t, d.Stuck)

	d, ok = c.ByIP(crash.Status.PodIP)
	require.True(t, ok)
	assert.Equal(t, "OOMKilled", d.Reason)

	_, ok = c.ByUID("no-such-uid")
	assert.False(t, ok)
	assert.Equal(t, 2, c.Stats().Pods)
	assert.Equal(t, map[string]int{"OOMKilled": 1}, c.Stats().StuckByReason)
}

func TestCacheFakeClientsetUpdatesAndDeletes(t *testing.T) {
	p := testdataPod(t, "creating_within_grace")
	client := fake.NewClientset(p)
	c := startCache(t, client, Config{})
	d, _ := c.ByUID(string(p.UID))
	assert.Equal(t, "ContainerCreating", d.Reason)

	// The kubelet reports the image pull failing.
	p = p.DeepCopy()
	p.Status.ContainerStatuses[0].State.Waiting = &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff", Message: `Back-off pulling image "x"`}
	_, err := client.CoreV1().Pods(p.Namespace).UpdateStatus(context.Background(), p, metav1.UpdateOptions{})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		d, _ := c.ByUID(string(p.UID))
		return d.Reason == "ImagePullBackOff"
	}, 5*time.Second, 10*time.Millisecond)

	require.NoError(t, client.CoreV1().Pods(p.Namespace).Delete(context.Background(), p.Name, metav1.DeleteOptions{}))
	require.Eventually(t, func() bool {
		_, ok := c.ByUID(string(p.UID))
		return !ok
	}, 5*time.Second, 10*time.Millisecond)
	_, ok := c.ByName(p.Namespace, p.Name)
	assert.False(t, ok)
}

func TestCacheFakeClientsetIPOnlyForLivePodNetworkPods(t *testing.T) {
	completed := testdataPod(t, "completed_job") // keeps 10.0.13.77 in status
	reuser := testdataPod(t, "healthy_running")
	reuser.Status.PodIP = completed.Status.PodIP
	hostNet := testdataPod(t, "restarted_long_ago_healthy")
	hostNet.Spec.HostNetwork = true
	hostNet.Status.PodIP = "10.0.12.34"
	c := startCache(t, fake.NewClientset(objects(completed, reuser, hostNet)...), Config{})

	d, ok := c.ByIP(completed.Status.PodIP)
	require.True(t, ok)
	assert.Equal(t, "Running", d.Status, "the IP belongs to the live pod, not the completed one")
	_, ok = c.ByIP("10.0.12.34")
	assert.False(t, ok, "hostNetwork pods share the node's IP and are never matched by IP")
	_, ok = c.ByUID(string(completed.UID))
	assert.True(t, ok, "completed pods are still found by UID")
}

func TestCacheFakeClientsetEventsExplainPods(t *testing.T) {
	p := testdataPod(t, "creating_multi_attach")
	client := fake.NewClientset(p)
	c := startCache(t, client, Config{Events: true})
	d, _ := c.ByUID(string(p.UID))
	assert.Equal(t, "ContainerCreating", d.Reason)

	for _, ev := range testdataEvents(t, "creating_multi_attach") {
		_, err := client.CoreV1().Events(ev.Namespace).Create(context.Background(), &ev, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool {
		d, _ := c.ByUID(string(p.UID))
		return d.Reason == "FailedAttachVolume"
	}, 5*time.Second, 10*time.Millisecond)
	d, _ = c.ByUID(string(p.UID))
	assert.Contains(t, d.Message, "Multi-Attach error")
}

func TestCacheFakeClientsetDropsIrrelevantEvents(t *testing.T) {
	c := New(fake.NewClientset(), Config{Events: true}, zap.NewNop())
	normal := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "e", Namespace: "ns"}, Type: corev1.EventTypeNormal,
		Reason: "Pulled", Message: "Successfully pulled image", InvolvedObject: corev1.ObjectReference{Kind: "Pod", UID: "u"}}
	obj, err := c.transformEvent(normal)
	require.NoError(t, err)
	assert.False(t, obj.(*cachedEvent).relevant)
	assert.Empty(t, obj.(*cachedEvent).event.Message, "nothing but the key is kept")

	warning := normal.DeepCopy()
	warning.Type, warning.Reason = corev1.EventTypeWarning, "FailedMount"
	obj, err = c.transformEvent(warning)
	require.NoError(t, err)
	assert.True(t, obj.(*cachedEvent).relevant)

	again, err := c.transformEvent(obj)
	require.NoError(t, err)
	assert.Same(t, obj, again, "the transform is idempotent")
}

func TestCacheFakeClientsetSelectors(t *testing.T) {
	client := fake.NewClientset()
	var mu sync.Mutex
	var seen []k8stesting.ListActionImpl
	client.PrependReactor("list", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, a.(k8stesting.ListActionImpl))
		return false, nil, nil
	})
	startCache(t, client, Config{Namespaces: []string{"shop", "payments"}, NodeName: "ip-10-0-12-34.ec2.internal",
		LabelSelector: "app.kubernetes.io/part-of=shop", Events: true})
	mu.Lock()
	defer mu.Unlock()
	var pods, events []string
	for _, a := range seen {
		r := a.GetListRestrictions()
		switch a.GetResource().Resource {
		case "pods":
			pods = append(pods, a.GetNamespace())
			assert.Equal(t, "spec.nodeName=ip-10-0-12-34.ec2.internal", r.Fields.String())
			assert.Equal(t, "app.kubernetes.io/part-of=shop", r.Labels.String())
		case "events":
			events = append(events, a.GetNamespace())
			assert.Equal(t, "involvedObject.kind=Pod,type=Warning", r.Fields.String())
		}
	}
	assert.ElementsMatch(t, []string{"shop", "payments"}, pods)
	assert.ElementsMatch(t, []string{"shop", "payments"}, events)
}

func TestCacheFakeClientsetRediagnoseTick(t *testing.T) {
	p := testdataPod(t, "creating_within_grace") // scheduled 11:59, start-up timeout 5m
	clk := &clock{t: testNow}
	c := startCache(t, fake.NewClientset(p), Config{Now: clk.Now, RediagnoseInterval: 10 * time.Millisecond})
	d, _ := c.ByUID(string(p.UID))
	assert.False(t, d.Stuck)

	clk.Set(testNow.Add(10 * time.Minute))
	require.Eventually(t, func() bool {
		d, _ := c.ByUID(string(p.UID))
		return d.Stuck
	}, 5*time.Second, 10*time.Millisecond, "time alone makes the pod stuck")
	require.Eventually(t, func() bool {
		return c.Stats().StuckByReason["ContainerCreating"] == 1
	}, 5*time.Second, 10*time.Millisecond)
}

func TestCacheFakeClientsetWatchErrorsAreReportedNotBlocking(t *testing.T) {
	client := fake.NewClientset()
	var calls atomic.Int32
	client.PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("apiserver unavailable")
	})
	c := New(client, Config{OnWatchError: func(resource string, err error) {
		assert.Equal(t, "pods", resource)
		calls.Add(1)
	}}, zap.NewNop())
	c.Start(context.Background())
	defer c.Stop()
	require.Eventually(t, func() bool { return calls.Load() > 0 }, 5*time.Second, 10*time.Millisecond)
	assert.False(t, c.HasSynced())
	_, ok := c.ByUID("x") // lookups answer at once while the API server is down
	assert.False(t, ok)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	assert.Error(t, c.WaitForSync(ctx))
}

func TestCacheFakeClientsetSameNameNewUID(t *testing.T) {
	old := testdataPod(t, "creating_multi_attach") // postgres-0
	client := fake.NewClientset(old)
	c := startCache(t, client, Config{})
	require.NoError(t, client.CoreV1().Pods(old.Namespace).Delete(context.Background(), old.Name, metav1.DeleteOptions{}))
	fresh := testdataPod(t, "healthy_running")
	fresh.Name, fresh.Namespace, fresh.UID = old.Name, old.Namespace, "11111111-2222-3333-4444-555555555555"
	_, err := client.CoreV1().Pods(fresh.Namespace).Create(context.Background(), fresh, metav1.CreateOptions{})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		d, ok := c.ByName(fresh.Namespace, fresh.Name)
		return ok && d.Status == "Running"
	}, 5*time.Second, 10*time.Millisecond)
	_, ok := c.ByUID(string(old.UID))
	assert.False(t, ok)
}
