// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package k8spoddiagnosticsreceiver

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/otelcol-sre/otelcol-sre/internal/poddiagnosis/podcache"
	"github.com/otelcol-sre/otelcol-sre/processor/k8spoddiagnosticsprocessor"
	"github.com/otelcol-sre/otelcol-sre/receiver/k8spoddiagnosticsreceiver/internal/metadata"
)

// TestProcessorAndReceiverShareOneCache runs the processor and the receiver
// with equal settings in one registry, as NewFactory does in one collector:
// the API server sees one list and one watch of pods and of events.
func TestProcessorAndReceiverShareOneCache(t *testing.T) {
	cs := fake.NewClientset()
	for _, p := range testPods(t) {
		_, err := cs.CoreV1().Pods(p.Namespace).Create(context.Background(), p, metav1CreateOptions)
		require.NoError(t, err)
	}
	var mu sync.Mutex
	requests := map[string]int{} // "verb resource"
	cs.PrependReactor("*", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		mu.Lock()
		requests[a.GetVerb()+" "+a.GetResource().Resource]++
		mu.Unlock()
		return false, nil, nil
	})
	cs.PrependWatchReactor("*", func(a k8stesting.Action) (bool, watch.Interface, error) {
		mu.Lock()
		requests["watch "+a.GetResource().Resource]++
		mu.Unlock()
		return false, nil, nil
	})
	reg := podcache.NewRegistry()
	var clients atomic.Int32

	pf := k8spoddiagnosticsprocessor.NewFactoryWithRegistry(func(*k8spoddiagnosticsprocessor.Config) (kubernetes.Interface, error) {
		clients.Add(1)
		return cs, nil
	}, reg)
	pcfg := pf.CreateDefaultConfig().(*k8spoddiagnosticsprocessor.Config)
	pcfg.WaitForSync = true
	proc, err := pf.CreateLogs(context.Background(), processortest.NewNopSettings(pf.Type()), pcfg, consumertest.NewNop())
	require.NoError(t, err)

	rf := newTestFactory(cs, &clients, reg)
	rcfg := rf.CreateDefaultConfig().(*Config)
	rcfg.WaitForSync = true
	rcfg.CollectionInterval = 10 * time.Millisecond
	sink := new(consumertest.MetricsSink)
	recv, err := rf.CreateMetrics(context.Background(), receivertest.NewNopSettings(metadata.Type), rcfg, sink)
	require.NoError(t, err)

	host := componenttest.NewNopHost()
	require.NoError(t, proc.Start(context.Background(), host))
	require.NoError(t, recv.Start(context.Background(), host))
	t.Cleanup(func() {
		require.NoError(t, recv.Shutdown(context.Background()))
		require.NoError(t, proc.Shutdown(context.Background()))
	})
	require.Eventually(t, func() bool { return sink.DataPointCount() > 0 }, 10*time.Second, 10*time.Millisecond)

	assert.Equal(t, int32(1), clients.Load(), "one client for both components")
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, map[string]int{"list pods": 1, "watch pods": 1, "list events": 1, "watch events": 1}, requests,
		"one set of watches for the processor and the receiver")
}
