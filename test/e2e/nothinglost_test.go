// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/otelcol-sre/otelcol-sre/internal/collectortest"
)

const (
	shards       = 5
	tickInterval = 100 * time.Millisecond // 10 ticks/s × 5 series = 50 samples/s per sender
	outage       = 60 * time.Second
)

// delivery is the testbed's accounting for one sender: items sent = items received.
type delivery struct {
	sent, acked, refused, received, duplicated, lost int
	sumOK                                            bool
}

// account compares what sender s got acknowledged with what Prometheus stores for its run (distinct
// samples and the sum of their values) and what the counter saw Prometheus acknowledge more than once.
func account(t *testing.T, prom *prometheusServer, rw *rwCounter, s *seqSender, wait time.Duration) delivery {
	t.Helper()
	n, sum := s.ackedTicks()
	sent, refused := s.counts()
	want := float64(n * shards)
	q := `sum(count_over_time(e2e_seq{run="` + s.run + `"}[1h]))`
	got := prom.waitScalar(t, q, want, wait)
	gotSum := prom.scalar(t, `sum(sum_over_time(e2e_seq{run="`+s.run+`"}[1h]))`)
	_, dup := rw.tally(s.run)
	d := delivery{sent: sent * shards, acked: n * shards, refused: refused * shards, received: int(got),
		duplicated: dup, lost: n*shards - int(got), sumOK: gotSum == sum*shards}
	t.Logf("%s: sent %d, acknowledged %d, refused %d, received %d, lost %d, duplicated %d (values sum ok: %v)",
		s.run, d.sent, d.acked, d.refused, d.received, d.lost, d.duplicated, d.sumOK)
	return d
}

// TestRemoteWriteOutage60sWALLosesNothingDefaultConfigLoses: the remote-write target (Prometheus) is stopped for 60 s and started again
// while two collectors keep receiving OTLP: the WAL configuration (what deploy ships) must deliver every
// acknowledged sample, exactly counted; the exporter's default configuration (in-memory queue, 5 s export
// timeout, no WAL) is run alongside to document what it loses.
func TestRemoteWriteOutage60sWALLosesNothingDefaultConfigLoses(t *testing.T) {
	t.Parallel() // mostly waiting: runs alongside the other long cases
	prom := startPrometheus(t, 0)
	rw := newRWCounter(t, "e2e_seq", prom)
	walProc, walOTLP := collector(t, "remotewrite-wal.yaml", map[string]string{"RW_ENDPOINT": rw.url(), "WAL_DIR": t.TempDir(), "RW_PARALLELISM": "1"})
	defaultProc, defaultOTLP := collector(t, "remotewrite-nowal.yaml", map[string]string{"RW_ENDPOINT": rw.url()})
	stopHB := heartbeat(t, walOTLP, "outage-wal")
	defer stopHB()

	senders := []*seqSender{newSeqSender(t, walOTLP, "outage-wal", shards), newSeqSender(t, defaultOTLP, "outage-default", shards)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	total := 5*time.Second + outage + 5*time.Second
	for _, s := range senders {
		wg.Add(1)
		go func(s *seqSender) {
			defer wg.Done()
			for _, err := range s.sendFor(ctx, total, tickInterval) {
				t.Logf("%s: %v", s.run, err)
			}
		}(s)
	}
	time.Sleep(5 * time.Second)
	rw.down()
	prom.stop()
	t.Logf("remote-write target down for %s", outage)
	time.Sleep(outage)
	prom.start()
	rw.up(t)
	t.Log("remote-write target back")
	wg.Wait()

	wal := account(t, prom, rw, senders[0], 60*time.Second)
	if wal.lost != 0 || !wal.sumOK || wal.refused != 0 {
		t.Errorf("WAL configuration lost %d of %d acknowledged samples (refused %d, values sum ok %v)\n%s",
			wal.lost, wal.acked, wal.refused, wal.sumOK, walProc.Output())
	}
	def := account(t, prom, rw, senders[1], 15*time.Second)
	// The default configuration drops a request once its export has been retried for the 5 s timeout
	// (prometheusremotewrite turns the deadline into a permanent error), so a 60 s outage loses samples while
	// OTLP was acknowledged. Documented in the report and README limits; this fails when upstream changes.
	if def.lost == 0 {
		t.Errorf("default configuration lost nothing in a %s outage: upstream behaviour changed, update the documented limit", outage)
	}
	t.Logf("status codes seen by the remote-write counter: %v", rw.statusCounts())
	if t.Failed() {
		t.Logf("default collector:\n%s", defaultProc.Output())
	}
}

// TestCollectorSIGKILLReplaysWAL: the collector is killed with SIGKILL mid-stream and restarted on the same
// WAL directory; every sample acknowledged before the kill (and after) must reach Prometheus. Replayed
// requests that had already been delivered are counted as duplicates. Prometheus runs with an out-of-order
// window: a replayed, already-stored older sample is otherwise an "out of order sample" 400 that makes the
// exporter's WAL resend the same entries forever.
func TestCollectorSIGKILLReplaysWAL(t *testing.T) {
	t.Parallel() // mostly waiting: runs alongside the other long cases
	prom := startPrometheus(t, time.Hour)
	rw := newRWCounter(t, "e2e_seq", prom)
	env := map[string]string{"RW_ENDPOINT": rw.url(), "WAL_DIR": t.TempDir(), "RW_PARALLELISM": "1",
		"HEALTH_PORT": collectortest.Port(collectortest.FreePort(t)), "OTLP_PORT": collectortest.Port(collectortest.FreePort(t))}
	first, otlp := collector(t, "remotewrite-wal.yaml", env)
	stopHB := heartbeat(t, otlp, "kill")
	defer stopHB()

	s := newSeqSender(t, otlp, "kill", shards)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan []error)
	go func() { done <- s.sendFor(ctx, 20*time.Second, tickInterval) }()

	time.Sleep(8 * time.Second)
	before, _ := s.ackedTicks()
	first.Kill()
	t.Logf("SIGKILL after %d acknowledged ticks; restarting on the same WAL", before)
	second, _ := collector(t, "remotewrite-wal.yaml", env)
	for _, err := range <-done {
		t.Logf("sender: %v", err)
	}

	d := account(t, prom, rw, s, 60*time.Second)
	if d.lost != 0 || !d.sumOK || d.refused != 0 {
		t.Errorf("lost %d of %d acknowledged samples across a SIGKILL (refused %d, values sum ok %v)\nbefore kill:\n%s\nafter restart:\n%s",
			d.lost, d.acked, d.refused, d.sumOK, first.Output(), second.Output())
	}
	t.Logf("status codes seen by the remote-write counter: %v", rw.statusCounts())
}

// TestRemoteWriteWALParallelExportLosesToOutOfOrder documents a loss: with the WAL on and
// max_batch_request_parallelism left at the exporter's default (5), the WAL reader ships the requests that
// piled up during a short outage on 5 connections at once, samples of one series reach Prometheus out of
// order, Prometheus refuses those requests with 400 (permanent), and the WAL resends the same entries forever:
// everything after the outage is lost and the collector spins. deploy must set
// max_batch_request_parallelism: 1 next to wal:.
func TestRemoteWriteWALParallelExportLosesToOutOfOrder(t *testing.T) {
	t.Parallel() // mostly waiting: runs alongside the other long cases
	prom := startPrometheus(t, 0)
	rw := newRWCounter(t, "e2e_seq", prom)
	_, otlp := collector(t, "remotewrite-wal.yaml", map[string]string{"RW_ENDPOINT": rw.url(), "WAL_DIR": t.TempDir(), "RW_PARALLELISM": "5"})
	stopHB := heartbeat(t, otlp, "wal-parallel")
	defer stopHB()
	s := newSeqSender(t, otlp, "wal-parallel", shards)
	done := make(chan []error)
	go func() { done <- s.sendFor(context.Background(), 20*time.Second, tickInterval) }()
	time.Sleep(3 * time.Second)
	rw.down()
	prom.stop()
	time.Sleep(8 * time.Second)
	prom.start()
	rw.up(t)
	<-done
	d := account(t, prom, rw, s, 10*time.Second)
	statuses := rw.statusCounts()
	t.Logf("status codes seen by the remote-write counter: %v", statuses)
	if d.lost == 0 || statuses[400] == 0 {
		t.Errorf("WAL with 5 parallel exports lost nothing (400s: %d): upstream behaviour changed, update deploy and the documented limit", statuses[400])
	}
}
