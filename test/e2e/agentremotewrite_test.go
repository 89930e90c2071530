// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/otelcol-sre/otelcol-sre/internal/collectortest"
)

// TestAgentRemoteWriteStoresTheSameSeriesAsContrib: the same pdata (every shape remote write translates)
// through prometheus_remote_write and through agent_remote_write into one Prometheus, told apart only by
// service.instance.id: after replacing that, the stored series (names, every label, values) are identical.
func TestAgentRemoteWriteStoresTheSameSeriesAsContrib(t *testing.T) {
	t.Parallel()
	prom := startPrometheus(t, 0)
	contrib, contribOTLP := collector(t, "remotewrite-wal.yaml", rwEnv(t, prom.url()+"/api/v1/write"))
	agent, agentOTLP := collector(t, "agentremotewrite.yaml", rwEnv(t, prom.url()+"/api/v1/write"))
	defer heartbeat(t, contribOTLP, "same-series")() // the contrib WAL ships its tail only on a next write
	now := time.Now()
	export(t, contribOTLP, shapes("pod-contrib", now))
	export(t, agentOTLP, shapes("pod-agent", now))

	stored := func(instance string) map[string]string {
		out := map[string]string{}
		for _, s := range prom.query(t, `{instance="`+instance+`"}`) {
			// The instance is what tells the two apart (resource_to_telemetry_conversion copies it as a label too).
			s.Labels["instance"] = "X"
			if _, ok := s.Labels["service_instance_id"]; ok {
				s.Labels["service_instance_id"] = "X"
			}
			keys := slices.Sorted(maps.Keys(s.Labels))
			var b strings.Builder
			for _, k := range keys {
				b.WriteString(k + "=" + s.Labels[k] + ",")
			}
			out[b.String()] = strconv.FormatFloat(s.Value, 'g', -1, 64)
		}
		return out
	}
	const series = 8 // gauge, counter, 3 buckets, count, sum, target_info
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		if len(stored("pod-contrib")) == series && len(stored("pod-agent")) == series {
			break
		}
	}
	want, got := stored("pod-contrib"), stored("pod-agent")
	if len(want) != series || !maps.Equal(want, got) {
		t.Errorf("series differ:\nprometheus_remote_write: %v\nagent_remote_write:      %v\ncontrib:\n%s\nagent:\n%s", want, got, contrib.Output(), agent.Output())
	}
}

// TestAgentRemoteWriteLowVolumeDelay: one sample a second; each must be queryable in Prometheus soon after
// the collector acknowledged it. The delay is logged (issue 14 asks for under 5 s; the contrib WAL's tail
// waits for its 1-minute truncate_frequency in deploy), not asserted: no timing asserts in tests.
func TestAgentRemoteWriteLowVolumeDelay(t *testing.T) {
	t.Parallel()
	prom := startPrometheus(t, 0)
	_, otlp := collector(t, "agentremotewrite.yaml", rwEnv(t, prom.url()+"/api/v1/write"))
	s := newSeqSender(t, otlp, "lowvol", 1)
	var worst time.Duration
	for i := range 10 {
		if err := s.sendNext(context.Background()); err != nil {
			t.Fatal(err)
		}
		acked := time.Now()
		q := `e2e_seq{run="lowvol"}`
		if got := prom.waitScalar(t, q, float64(i), 30*time.Second); got != float64(i) {
			t.Fatalf("tick %d not in Prometheus 30 s after it was acknowledged (last value %v)", i, got)
		}
		worst = max(worst, time.Since(acked))
		time.Sleep(time.Second)
	}
	t.Logf("1 sample/s: worst acknowledged-to-queryable delay %s over 10 samples (Prometheus polled every 250 ms)", worst)
}

// TestAgentRemoteWriteSIGKILLRestart: the collector is killed with SIGKILL twice mid-stream and restarted on
// the same WAL each time: first after the target was down for 3 s (the WAL holds what was acknowledged
// meanwhile), then while it delivers (requests in flight). Prometheus' watcher sends only samples
// timestamped after its own start, so without the exporter's resend what a killed process had not sent, and
// what the sender retried across the restart (timestamped before it), would be lost. Every acknowledged
// sample must arrive; duplicates (requests delivered but not recorded before the kill) are counted.
// Prometheus runs without an out-of-order window: a resent sample older than a stored one is a 400.
func TestAgentRemoteWriteSIGKILLRestart(t *testing.T) {
	t.Parallel()
	prom := startPrometheus(t, 0)
	rw := newRWCounter(t, "e2e_seq", prom)
	env := rwEnv(t, rw.url())
	env["HEALTH_PORT"] = collectortest.Port(collectortest.FreePort(t))
	env["OTLP_PORT"] = collectortest.Port(collectortest.FreePort(t))
	first, otlp := collector(t, "agentremotewrite.yaml", env)
	s := newSeqSender(t, otlp, "agent-kill", shards)
	done := make(chan []error)
	go func() { done <- s.sendFor(context.Background(), 20*time.Second, tickInterval) }()
	time.Sleep(4 * time.Second)
	rw.down() // what is acknowledged from now on stays in the WAL
	time.Sleep(3 * time.Second)
	before, _ := s.ackedTicks()
	first.Kill()
	rw.up(t)
	second, _ := collector(t, "agentremotewrite.yaml", env)
	time.Sleep(5 * time.Second)
	during, _ := s.ackedTicks()
	second.Kill() // delivering: requests in flight
	third, _ := collector(t, "agentremotewrite.yaml", env)
	for _, err := range <-done {
		t.Logf("sender: %v", err)
	}
	d := account(t, prom, rw, s, 30*time.Second)
	t.Logf("SIGKILL after %d acknowledged ticks (target down for the last 3 s), again after %d (delivering): lost %d of %d, %d duplicates; status codes %v",
		before, during, d.lost, d.acked, d.duplicated, rw.statusCounts())
	if d.lost != 0 || !d.sumOK {
		t.Errorf("lost %d of %d acknowledged samples across two SIGKILLs (values sum ok %v)\nfirst:\n%s\nsecond:\n%s\nthird:\n%s",
			d.lost, d.acked, d.sumOK, first.Output(), second.Output(), third.Output())
	}
}
