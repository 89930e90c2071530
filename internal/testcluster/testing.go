// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package testcluster

import (
	"fmt"
	"os"
	"sync"
	"testing"
	"time"
)

// Start starts a control plane for tb alone and stops it when tb's cleanup
// runs, logging the tail of every component log first if tb failed. Use it for
// tests that disturb the cluster (StopAPIServer); other tests share one
// through Shared. When the binaries are missing it skips tb, or fails it under
// CI (internal/testenv), saying how to build them.
func Start(tb testing.TB) *Cluster {
	tb.Helper()
	c, err := New()
	if err != nil {
		failStart(tb, err)
		return nil
	}
	tb.Logf("testcluster: control plane %s (etcd %s) ready at %s in %s", KubeVersion, EtcdVersion, c.Host(), c.startup.Round(time.Millisecond))
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Log(c.logTails(40))
		}
		if err := c.Stop(); err != nil {
			tb.Error(err)
		}
	})
	return c
}

var shared struct {
	sync.Mutex
	started bool
	cluster *Cluster
	err     error
}

// Shared returns the control plane shared by the tests of the package,
// starting it on first use. The package's TestMain must call Main so that it
// is stopped at the end. Skips or fails tb like Start when the binaries are
// missing; a failed start is not retried.
func Shared(tb testing.TB) *Cluster {
	tb.Helper()
	shared.Lock()
	if !shared.started {
		shared.started = true
		shared.cluster, shared.err = New()
		if shared.err == nil {
			tb.Logf("testcluster: shared control plane %s (etcd %s) ready at %s in %s", KubeVersion, EtcdVersion, shared.cluster.Host(), shared.cluster.startup.Round(time.Millisecond))
		}
	}
	c, err := shared.cluster, shared.err
	shared.Unlock()
	if err != nil {
		failStart(tb, err)
		return nil
	}
	return c
}

// Main runs the tests and exits; use it as the package's TestMain body:
//
//	func TestMain(m *testing.M) { testcluster.Main(m) }
//
// It stops the Shared cluster, if one was started, after the tests ran, and
// when they failed prints the tail of its component logs to stderr.
func Main(m *testing.M) {
	code := m.Run()
	shared.Lock()
	c := shared.cluster
	shared.Unlock()
	if c != nil {
		if code != 0 {
			fmt.Fprint(os.Stderr, c.logTails(40))
		}
		if err := c.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}
