// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package podcache

import (
	"runtime"
	"strconv"
	"testing"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/otelcol-sre/otelcol-sre/internal/poddiagnosis/podtest"
)

// fillCache pushes n pods through the informer's transform and store and the
// cache's handler, exactly the path a pod takes from a watch event.
func fillCache(tb testing.TB, c *Cache, tmpl *corev1.Pod, n int) {
	store := c.podInformers[0].GetIndexer()
	for i := range n {
		obj, err := c.transformPod(podtest.Clone(tmpl, i))
		if err != nil {
			tb.Fatal(err)
		}
		if err := store.Add(obj); err != nil {
			tb.Fatal(err)
		}
		c.upsertPod(obj)
	}
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// measureHeapPerPod returns the heap the cache holds per pod (informer store,
// lean pod, indexes, diagnosis) after n typical pods went through it.
func measureHeapPerPod(tb testing.TB, template string, n int) float64 {
	tmpl := testdataPod(tb, template)
	before := heapInUse()
	c := New(fake.NewClientset(), Config{Now: func() time.Time { return testNow }}, zap.NewNop())
	fillCache(tb, c, tmpl, n)
	after := heapInUse()
	runtime.KeepAlive(c)
	return float64(after-before) / float64(n)
}

// measureHeapPerFullPod is the anchor: the heap of the same pods kept as
// decoded *corev1.Pod, as an informer without a transform keeps them.
func measureHeapPerFullPod(tb testing.TB, template string, n int) float64 {
	tmpl := testdataPod(tb, template)
	before := heapInUse()
	pods := make([]*corev1.Pod, n)
	for i := range pods {
		pods[i] = podtest.Clone(tmpl, i)
	}
	after := heapInUse()
	runtime.KeepAlive(pods)
	return float64(after-before) / float64(n)
}

// TestHeapPerCachedPod reports the heap held per cached pod at 10k pods for
// a typical healthy pod and a stuck one, and fails if a typical pod costs
// more than twice the 1 KiB budget. BenchmarkHeapPerCachedPod reports 10k
// and 100k.
func TestHeapPerCachedPod(t *testing.T) {
	for _, template := range []string{"healthy_running", "crashloop_error_termination_message"} {
		perPod := measureHeapPerPod(t, template, 10_000)
		full := measureHeapPerFullPod(t, template, 10_000)
		t.Logf("%s: 10000 pods: %.0f bytes per cached pod (full corev1.Pod: %.0f bytes)", template, perPod, full)
		if template == "healthy_running" && perPod > 2048 {
			t.Errorf("a typical pod costs %.0f bytes in the cache; the budget is 1 KiB (2 KiB hard limit)", perPod)
		}
	}
}

// BenchmarkHeapPerCachedPod reports the heap per cached pod (B/pod) at 10k
// and 100k typical pods; the time per op is the cost of filling the cache.
func BenchmarkHeapPerCachedPod(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			var perPod float64
			for b.Loop() {
				perPod = measureHeapPerPod(b, "healthy_running", n)
			}
			b.ReportMetric(perPod, "B/pod")
		})
	}
}
