package e2e

import (
	"context"
	"sync"
	"testing"
	"time"
)

// TestRemoteWrite429WithRetryAfterLosesNothing: the remote-write target answers 429 with Retry-After (the
// AMP stand-in, as AMP does above a workspace's ingestion quota) for 15 s mid-stream. With the
// exporter.prometheusremotewritexporter.RetryOn429 gate deploy passes (collectortest.DeployFeatureGates) the
// WAL configuration retries the throttled requests and, once the throttle ends, delivers every acknowledged
// sample. Without the gate the v0.155 exporter treats the 429 as permanent (issue 14 measured the stall).
func TestRemoteWrite429WithRetryAfterLosesNothing(t *testing.T) {
	t.Parallel() // mostly waiting: runs alongside the other long cases
	prom := startPrometheus(t, 0)
	rw := newRWCounter(t, "e2e_seq", prom)
	proc, otlp := collector(t, "remotewrite-wal.yaml", map[string]string{"RW_ENDPOINT": rw.url(), "WAL_DIR": t.TempDir(), "RW_PARALLELISM": "1"})
	stopHB := heartbeat(t, otlp, "throttled")
	defer stopHB()
	s := newSeqSender(t, otlp, "throttled", shards)
	done := make(chan []error)
	go func() { done <- s.sendFor(context.Background(), 25*time.Second, tickInterval) }()
	time.Sleep(5 * time.Second)
	rw.throttle(15*time.Second, 2*time.Second)
	t.Log("remote-write target answers 429, Retry-After: 2, for 15 s")
	for _, err := range <-done {
		t.Logf("sender: %v", err)
	}
	d := account(t, prom, rw, s, 60*time.Second)
	statuses := rw.statusCounts()
	t.Logf("status codes seen by the remote-write stand-in: %v", statuses)
	if statuses[429] == 0 {
		t.Fatalf("no request was throttled: the test did not test anything")
	}
	if d.lost != 0 || !d.sumOK || d.refused != 0 {
		t.Errorf("lost %d of %d acknowledged samples through 15 s of 429 (refused %d, values sum ok %v)\n%s",
			d.lost, d.acked, d.refused, d.sumOK, proc.Output())
	}
}

// TestRemoteWriteTwoCollectorsSameSeriesStallContribWAL documents issue 14's stall: two collectors write
// the same target_info series (same service.instance.id, as two replicas do during a rescale overlap).
// When one of them sends a target_info sample older than the other's, Prometheus refuses that whole request
// with 400 (out of order); the contrib exporter's WAL then resends the same chunk forever, each time refused
// again, and nothing that collector receives afterwards is delivered. This fails once upstream changes that
// (then update deploy/README.md "Remote-write stall").
func TestRemoteWriteTwoCollectorsSameSeriesStallContribWAL(t *testing.T) {
	t.Parallel() // mostly waiting: runs alongside the other long cases
	prom := startPrometheus(t, 0)
	rw := newRWCounter(t, "e2e_seq", prom)
	var senders []*seqSender
	for _, run := range []string{"overlap-a", "overlap-b"} {
		_, otlp := collector(t, "remotewrite-wal.yaml", map[string]string{"RW_ENDPOINT": rw.url(), "WAL_DIR": t.TempDir(), "RW_PARALLELISM": "1"})
		defer heartbeat(t, otlp, run)() // the WAL ships its tail only on a next write
		s := newSeqSender(t, otlp, run, shards)
		s.instance = "rescaled-pod" // both collectors write target_info{instance="rescaled-pod", job="e2e"}
		senders = append(senders, s)
	}
	var wg sync.WaitGroup
	for _, s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, err := range s.sendFor(context.Background(), 20*time.Second, tickInterval) {
				t.Logf("%s: %v", s.run, err)
			}
		}()
	}
	wg.Wait()
	lost := 0
	for _, s := range senders {
		lost += account(t, prom, rw, s, 10*time.Second).lost
	}
	statuses := rw.statusCounts()
	t.Logf("status codes seen by the remote-write counter: %v", statuses)
	// A stall is the same chunk refused again and again, not one dropped request.
	if lost == 0 || statuses[400] < 2 {
		t.Errorf("two collectors writing one target_info series: lost %d, 400s %d; want a stall (lost > 0, the chunk refused repeatedly): upstream behaviour changed, update deploy/README.md", lost, statuses[400])
	}
}
