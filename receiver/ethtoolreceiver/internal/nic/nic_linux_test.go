// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

//go:build linux

package nic_test

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/otelcol-sre/otelcol-sre/receiver/ethtoolreceiver/internal/nettest"
	"github.com/otelcol-sre/otelcol-sre/receiver/ethtoolreceiver/internal/nic"
)

func openNS(t *testing.T, ns nettest.Namespace) *nic.Handle {
	t.Helper()
	h, err := nic.Open(ns.Path)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, h.Close()) })
	return h
}

func openStats(t *testing.T, h *nic.Handle, name string) *nic.Stats {
	t.Helper()
	s, err := h.OpenStats(name)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	return s
}

func TestLinksListsOnlyTheNamespace(t *testing.T) {
	nettest.Require(t)
	nsA, nsB := nettest.NewNamespace(t), nettest.NewNamespace(t)
	a, _ := nettest.VethPair(t, nsA, nsB, 1)

	links, err := openNS(t, nsA).Links()
	require.NoError(t, err)
	var names []string
	for _, l := range links {
		names = append(names, l.Name())
	}
	assert.ElementsMatch(t, []string{"lo", a.Name}, names)
	for _, l := range links {
		assert.Equal(t, l.Name() == "lo", l.Loopback())
		assert.False(t, l.HasParent, "veth and lo are virtual")
		if l.NameIs(a.Name) {
			assert.True(t, l.Up(), "IF_OPER_UP")
		}
	}
}

func TestReadFollowsCLIAcrossNamespaces(t *testing.T) {
	nettest.Require(t)
	nsA, nsB := nettest.NewNamespace(t), nettest.NewNamespace(t)
	a, b := nettest.VethPair(t, nsA, nsB, 1)
	tr := nettest.StartTraffic(t, a, b)
	for tr.Sent.Load() < 200 {
		unix.Nanosleep(&unix.Timespec{Nsec: 1e6}, nil) //nolint:errcheck
	}
	tr.Stop()
	b.WaitQuiet(t)

	h := openNS(t, nsB)
	s := openStats(t, h, b.Name)
	values, err := h.Read(s)
	require.NoError(t, err)
	cli := b.EthtoolS(t)
	require.Len(t, cli, len(s.Names))
	for i, c := range cli {
		assert.Equal(t, c.Name, s.Names[i])
		assert.Equal(t, c.Value, values[i], c.Name)
	}
	assert.NotZero(t, values[1], "rx_queue_0_xdp_packets counts the test traffic")
}

func TestReadDoesNotAllocate(t *testing.T) {
	nettest.Require(t)
	nsA, nsB := nettest.NewNamespace(t), nettest.NewNamespace(t)
	_, b := nettest.VethPair(t, nsA, nsB, 64)
	h := openNS(t, nsB)
	s := openStats(t, h, b.Name)
	require.Len(t, s.Names, 577)
	allocs := testing.AllocsPerRun(200, func() {
		if _, err := h.Read(s); err != nil {
			t.Fatal(err)
		}
	})
	assert.Zero(t, allocs)
	links := testing.AllocsPerRun(50, func() {
		if _, err := h.Links(); err != nil {
			t.Fatal(err)
		}
	})
	assert.Zero(t, links, "listing links reuses its buffers")
}

func TestReadReportsCountChange(t *testing.T) {
	nettest.Require(t)
	nsA, nsB := nettest.NewNamespace(t), nettest.NewNamespace(t)
	a, b := nettest.VethPair(t, nsA, nsB, 4)
	h := openNS(t, nsB)

	for _, step := range []struct{ channels, want string }{
		{"1", "shrink"}, {"4", "grow"},
	} {
		s := openStats(t, h, b.Name)
		before := len(s.Names)
		a.NS.Exec(t, "ethtool", "-L", a.Name, "rx", step.channels, "tx", step.channels)
		b.NS.Exec(t, "ethtool", "-L", b.Name, "rx", step.channels, "tx", step.channels)
		_, err := h.Read(s)
		require.ErrorIs(t, err, nic.ErrCountChanged, step.want)

		s2 := openStats(t, h, b.Name)
		assert.NotEqual(t, before, len(s2.Names), step.want)
		assert.Len(t, s2.Names, len(b.EthtoolS(t)), step.want)
		_, err = h.Read(s2)
		assert.NoError(t, err, step.want)
	}
}

func TestErrnoClasses(t *testing.T) {
	nettest.Require(t)
	nsA, nsB := nettest.NewNamespace(t), nettest.NewNamespace(t)
	_, b := nettest.VethPair(t, nsA, nsB, 1)
	h := openNS(t, nsB)

	_, err := h.OpenStats("lo")
	assert.ErrorIs(t, err, unix.EOPNOTSUPP, "lo has no statistics")

	s := openStats(t, h, b.Name)
	b.Delete(t)
	_, err = h.Read(s)
	assert.True(t, errors.Is(err, unix.ENODEV), "vanished interface: %v", err)
	_, err = h.OpenStats(b.Name)
	assert.ErrorIs(t, err, unix.ENODEV)
}

func TestOpenNeedsAnExistingNamespace(t *testing.T) {
	_, err := nic.Open("/nonexistent/netns")
	assert.ErrorIs(t, err, unix.ENOENT)
	assert.ErrorContains(t, err, "/nonexistent/netns")
}

func TestIdentifyNamespace(t *testing.T) {
	self, err := nic.IdentifyNamespace(nic.SelfNamespacePath)
	require.NoError(t, err)
	again, err := nic.IdentifyNamespace("/proc/thread-self/ns/net")
	require.NoError(t, err)
	assert.Equal(t, self, again)
	assert.Regexp(t, `^net:\[\d+\]$`, self.String())
}

// TestDriverInfoEqualsCLI compares ETHTOOL_GDRVINFO and ETHTOOL_GSET with
// `ethtool -i` and `ethtool`, each read on a fresh goroutine whose small stack
// grows during the call: results written through a stale stack address would
// come back empty.
func TestDriverInfoEqualsCLI(t *testing.T) {
	nettest.Require(t)
	nsA, nsB := nettest.NewNamespace(t), nettest.NewNamespace(t)
	_, b := nettest.VethPair(t, nsA, nsB, 1)
	h := openNS(t, nsB)

	cli := map[string]string{}
	for _, line := range strings.Split(b.NS.Exec(t, "ethtool", "-i", b.Name), "\n") {
		if k, v, ok := strings.Cut(line, ": "); ok {
			cli[k] = v
		}
	}
	want := nic.DriverInfo{Driver: cli["driver"], Version: cli["version"], Firmware: cli["firmware-version"], Bus: cli["bus-info"]}
	require.Equal(t, "veth", want.Driver)
	require.Contains(t, b.NS.Exec(t, "ethtool", b.Name), "Speed: 10000Mb/s")

	var wg sync.WaitGroup
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			info, err := deepDriverInfo(h, b.Name, 50)
			assert.NoError(t, err)
			assert.Equal(t, want, info)
			mbps, ok, err := h.SpeedMbps(b.Name)
			assert.NoError(t, err)
			assert.True(t, ok)
			assert.Equal(t, uint32(10000), mbps)
		}()
	}
	wg.Wait()

	_, err := h.DriverInfo("nonexistent0")
	assert.ErrorIs(t, err, unix.ENODEV)
}

// deepDriverInfo calls DriverInfo below depth frames of 1 KiB each, so that
// the goroutine's stack is copied on the way.
func deepDriverInfo(h *nic.Handle, name string, depth int) (nic.DriverInfo, error) {
	var pad [1024]byte
	if depth > 0 {
		info, err := deepDriverInfo(h, name, depth-1)
		pad[depth%len(pad)] = byte(len(info.Driver))
		return info, err
	}
	_ = pad
	return h.DriverInfo(name)
}
