// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package podcache

import (
	"errors"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func TestRegistrySharesOneCachePerSelection(t *testing.T) {
	cs := fake.NewClientset(objects(testdataPod(t, "crashloop_oomkilled"))...)
	var podLists, clients atomic.Int32
	cs.PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		podLists.Add(1)
		return false, nil, nil
	})
	newClient := func() (kubernetes.Interface, error) { clients.Add(1); return cs, nil }
	reg := NewRegistry()
	cfg := DefaultComponentConfig()

	a, releaseA, err := reg.Acquire(&cfg, "", newClient, zap.NewNop(), nil)
	require.NoError(t, err)
	waitCfg := cfg
	waitCfg.WaitForSync = true // only concerns the component that waits
	b, releaseB, err := reg.Acquire(&waitCfg, "", newClient, zap.NewNop(), nil)
	require.NoError(t, err)
	assert.Same(t, a, b, "equal selections share one cache")

	other := cfg
	other.Filter.Namespaces = []string{"shop"}
	c, releaseC, err := reg.Acquire(&other, "", newClient, zap.NewNop(), nil)
	require.NoError(t, err)
	assert.NotSame(t, a, c, "another selection gets its own cache")
	d, releaseD, err := reg.Acquire(&cfg, "node-1", newClient, zap.NewNop(), nil)
	require.NoError(t, err)
	assert.NotSame(t, a, d, "another node gets its own cache")

	require.NoError(t, cfg.AwaitSync(t.Context(), a))
	require.NoError(t, waitCfg.AwaitSync(t.Context(), a))
	require.NoError(t, waitCfg.AwaitSync(t.Context(), c))
	require.NoError(t, waitCfg.AwaitSync(t.Context(), d))
	assert.Equal(t, int32(3), clients.Load(), "one client per cache")
	assert.Equal(t, int32(3), podLists.Load(), "one pod list per cache, not per component")

	releaseA()
	releaseA() // idempotent
	_, ok := a.ByUID(string(testdataPod(t, "crashloop_oomkilled").UID))
	assert.True(t, ok, "still held by the second component")
	releaseB()
	releaseC()
	releaseD()
	e, releaseE, err := reg.Acquire(&cfg, "", newClient, zap.NewNop(), nil)
	require.NoError(t, err)
	defer releaseE()
	assert.NotSame(t, a, e, "the last release dropped the cache; the next acquire builds a new one")
}

func TestRegistryFansOutWatchErrorsAndReportsClientErrors(t *testing.T) {
	reg := NewRegistry()
	cfg := DefaultComponentConfig()
	_, _, err := reg.Acquire(&cfg, "", func() (kubernetes.Interface, error) { return nil, errors.New("no kubeconfig") }, zap.NewNop(), nil)
	require.ErrorContains(t, err, "no kubeconfig")

	cs := fake.NewClientset()
	cs.PrependReactor("list", "*", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("API server down")
	})
	var first, second atomic.Int32
	_, releaseA, err := reg.Acquire(&cfg, "", func() (kubernetes.Interface, error) { return cs, nil }, zap.NewNop(),
		func(string, error) { first.Add(1) })
	require.NoError(t, err)
	defer releaseA()
	_, releaseB, err := reg.Acquire(&cfg, "", func() (kubernetes.Interface, error) { return cs, nil }, zap.NewNop(),
		func(string, error) { second.Add(1) })
	require.NoError(t, err)
	defer releaseB()
	require.Eventually(t, func() bool { return first.Load() > 0 && second.Load() > 0 }, 10e9, 10e6,
		"every component holding the cache hears of its list/watch failures")
}
