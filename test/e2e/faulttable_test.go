// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/otelcol-sre/otelcol-sre/internal/collectortest"
	"github.com/otelcol-sre/otelcol-sre/internal/cwlogspeer"
	"github.com/otelcol-sre/otelcol-sre/internal/testenv"
)

// The fault table of "nothing lost from node to gateway and CloudWatch" (deploy/README.md "Nothing lost"):
// the built binary with deploy's own queue, storage, file_log and exporter sections (deployFragment), real
// processes killed and restarted, and counting peers. Each row logs
// `fault table | <fault> | <signal> | sent | acknowledged | refused | received | lost | duplicated`.
//
// faultsLongEnv=1 runs the durations (gateway down 5 min at ~10k points/s, CloudWatch Logs throttling
// 2 min, CloudWatch down 5 min; ~15 min in all, run it under `flock /tmp/otelcol-heavy.lock`); without it
// every fault lasts 20-30 s at ~1k points/s, so the rows fit `make test`.
const faultsLongEnv = "OTELCOL_SRE_FAULTS_LONG"

type faultScale struct {
	outage, throttle, cwDown time.Duration
	shards                   int           // points per metrics tick
	tick                     time.Duration // pause between ticks (and between log lines)
	drain                    time.Duration // how long delivery may take after the fault
}

func faultScaleFromEnv() faultScale {
	if os.Getenv(faultsLongEnv) != "" {
		return faultScale{outage: 5 * time.Minute, throttle: 2 * time.Minute, cwDown: 5 * time.Minute,
			shards: 120, tick: 10 * time.Millisecond, drain: 10 * time.Minute}
	}
	return faultScale{outage: 30 * time.Second, throttle: 20 * time.Second, cwDown: 20 * time.Second,
		shards: 50, tick: 50 * time.Millisecond, drain: 2 * time.Minute}
}

// row is one line of the fault table.
type row struct {
	fault, signal                                    string
	sent, acked, refused, received, lost, duplicated int
}

func (r row) log(t *testing.T) {
	t.Helper()
	t.Logf("fault table | %s | %s | sent %d | acknowledged %d | refused %d | received %d | lost %d | duplicated %d",
		r.fault, r.signal, r.sent, r.acked, r.refused, r.received, r.lost, r.duplicated)
}

// agentUnderTest is the built binary with deploy's agent sections; start again = a new process on the same
// ports and the same data directory (a container restart or a DaemonSet rollout on the same node).
type agentUnderTest struct {
	env        map[string]string
	deployPart string
	configs    []string // loaded after deployPart, before testdata/agent-durable.yaml
	proc       *collectortest.Process
}

func startAgent(t *testing.T, gateway, dataDir, logDir string) *agentUnderTest {
	t.Helper()
	a := newAgent(t, gateway, dataDir, logDir)
	a.start(t)
	return a
}

// newAgent is startAgent without the start, for a test to add configs and env first.
func newAgent(t *testing.T, gateway, dataDir, logDir string) *agentUnderTest {
	t.Helper()
	return &agentUnderTest{
		deployPart: deployFragment(t, "agent.yaml", "extensions::file_storage/checkpoints", "extensions::file_storage/queue",
			"receivers::file_log", "processors::memory_limiter", "exporters::otlp_grpc/gateway"),
		env: map[string]string{"HEALTH_PORT": freePort(t), "OTLP_PORT": freePort(t), "TELEMETRY_PORT": freePort(t),
			"GATEWAY_ENDPOINT": gateway, "OTELCOL_SRE_DATA_DIR": dataDir, "LOG_DIR": logDir, "K8S_POD_NAMESPACE": "otelcol-sre"},
	}
}

func freePort(t *testing.T) string { return collectortest.Port(collectortest.FreePort(t)) }

func (a *agentUnderTest) start(t *testing.T) {
	t.Helper()
	configs := slices.Concat([]string{a.deployPart}, a.configs, []string{filepath.Join("testdata", "agent-durable.yaml")})
	a.proc = collectortest.StartConfigs(t, configs, a.env,
		"http://127.0.0.1:"+a.env["HEALTH_PORT"]+"/", collectortest.FileLogFeatureGatesFlag)
	// file_log's first poll (200 ms in) starts at the end of the files it finds (start_at: end) when it has
	// no checkpoints yet; lines written before it are skipped by design.
	time.Sleep(time.Second)
}

func (a *agentUnderTest) otlp() string { return "127.0.0.1:" + a.env["OTLP_PORT"] }

// relayEnv reserves the gateway's ports, so it can be started (again) on them later.
func relayEnv(t *testing.T, sink *otlpSink) map[string]string {
	return map[string]string{"HEALTH_PORT": freePort(t), "OTLP_PORT": freePort(t), "SINK_ENDPOINT": sink.endpoint()}
}

func startRelay(t *testing.T, env map[string]string) *collectortest.Process {
	t.Helper()
	return collectortest.Start(t, filepath.Join("testdata", "gateway-relay.yaml"), env, "http://127.0.0.1:"+env["HEALTH_PORT"]+"/")
}

// agentRows waits until the sink holds every acknowledged point and every written log line (or drain
// passes), then returns the metrics and logs rows.
func agentRows(t *testing.T, fault string, sink *otlpSink, m *seqSender, lines *podLog, drain time.Duration) (metrics, logs row) {
	t.Helper()
	acked := m.ackedList()
	written := 0
	if lines != nil {
		written = lines.written()
	}
	deadline := time.Now().Add(drain)
	for {
		pd, _ := sink.pointTally(m.run, acked, m.shards)
		ld := 0
		if lines != nil {
			ld, _ = sink.logs.lines.tally(lines.run, written)
		}
		if (pd == len(acked)*m.shards && ld == written) || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	sent, refused := m.counts()
	pd, pdup := sink.pointTally(m.run, acked, m.shards)
	metrics = row{fault: fault, signal: "metric points (OTLP)", sent: sent * m.shards, acked: len(acked) * m.shards,
		refused: refused * m.shards, received: pd, lost: len(acked)*m.shards - pd, duplicated: pdup}
	metrics.log(t)
	if lines == nil {
		return metrics, row{}
	}
	ld, ldup, missing := sink.logs.lines.tallyMissing(lines.run, written)
	if len(missing) > 0 {
		t.Logf("%s: lines never received: %v", lines.run, missing)
	}
	logs = row{fault: fault, signal: "log lines (file_log)", sent: written, acked: written, received: ld,
		lost: written - ld, duplicated: ldup}
	logs.log(t)
	return metrics, logs
}

// sendAndWrite runs the metrics sender and the pod-log writer for d in the background; wait() returns when
// both are done.
func sendAndWrite(t *testing.T, m *seqSender, lines *podLog, d time.Duration, sc faultScale) (wait func()) {
	waitSender := sendAllFor(t, []*seqSender{m}, d, sc.tick)
	done := make(chan struct{})
	go func() { lines.writeFor(context.Background(), t, d, sc.tick); close(done) }()
	return func() { waitSender(); <-done }
}

// TestFaultTableGatewayDown: the gateway is stopped for the outage while the agent keeps receiving metrics
// over OTLP and reading a pod log; started again, it must get every acknowledged point and every line.
func TestFaultTableGatewayDown(t *testing.T) {
	t.Parallel() // mostly waiting: runs alongside the other long cases
	sc := faultScaleFromEnv()
	sink := newOTLPSink(t)
	gwEnv := relayEnv(t, sink)
	relay := startRelay(t, gwEnv)
	logDir := t.TempDir()
	lines := newPodLog(t, logDir, "gwdown-logs")
	agent := startAgent(t, "127.0.0.1:"+gwEnv["OTLP_PORT"], t.TempDir(), logDir)
	m := newSeqSender(t, agent.otlp(), "gwdown", sc.shards)

	start := time.Now()
	wait := sendAndWrite(t, m, lines, 5*time.Second+sc.outage+5*time.Second, sc)
	time.Sleep(5 * time.Second)
	if err := relay.Stop(30 * time.Second); err != nil {
		t.Fatalf("stopping the gateway: %v", err)
	}
	ackedBefore, _ := m.ackedTicks()
	t.Logf("gateway down for %s", sc.outage)
	time.Sleep(sc.outage)
	queued := counterSum(get(t, "http://127.0.0.1:"+agent.env["TELEMETRY_PORT"]+"/metrics"), "otelcol_exporter_queue_size")
	acked, _ := m.ackedTicks()
	during := (acked - ackedBefore) * m.shards
	t.Logf("after the outage the queue holds %.1f MiB (bytes sizer, metrics and log lines) for the %d points acknowledged during it: %.0f bytes per point; files on the volume: %.1f MiB",
		queued/(1<<20), during, queued/float64(during), float64(dirBytes(agent.env["OTELCOL_SRE_DATA_DIR"]))/(1<<20))
	startRelay(t, gwEnv)
	t.Log("gateway back")
	wait()
	sent, _ := m.counts()
	t.Logf("metrics rate: %.0f points/s over %s", float64(sent*m.shards)/time.Since(start).Seconds(), time.Since(start).Round(time.Second))
	metrics, logs := agentRows(t, "gateway down "+sc.outage.String(), sink, m, lines, sc.drain)
	if metrics.lost != 0 || logs.lost != 0 || metrics.refused != 0 {
		t.Errorf("lost %d points (refused %d) and %d lines across a gateway outage\nagent:\n%s", metrics.lost, metrics.refused, logs.lost, agent.proc.Output())
	}
}

// TestFaultTableAgentKillAndRollout: mid-stream the agent is killed with SIGKILL and started again, later
// stopped the way a DaemonSet rollout stops it (SIGTERM-like, graceful) and replaced by a new process; both
// new processes use the same data directory. Every acknowledged point and every written line must arrive.
func TestFaultTableAgentKillAndRollout(t *testing.T) {
	t.Parallel() // mostly waiting: runs alongside the other long cases
	sc := faultScaleFromEnv()
	sink := newOTLPSink(t)
	gwEnv := relayEnv(t, sink)
	startRelay(t, gwEnv)
	logDir := t.TempDir()
	lines := newPodLog(t, logDir, "kill-logs")
	agent := startAgent(t, "127.0.0.1:"+gwEnv["OTLP_PORT"], t.TempDir(), logDir)
	m := newSeqSender(t, agent.otlp(), "kill", sc.shards)

	wait := sendAndWrite(t, m, lines, 20*time.Second, sc)
	time.Sleep(6 * time.Second)
	agent.proc.Kill()
	t.Log("agent SIGKILLed; starting a new process on the same data directory")
	agent.start(t)
	time.Sleep(6 * time.Second)
	if err := agent.proc.Stop(30 * time.Second); err != nil {
		t.Errorf("graceful stop: %v", err)
	}
	t.Log("agent stopped for a rollout; starting the new one")
	agent.start(t)
	wait()
	metrics, logs := agentRows(t, "agent SIGKILL + restart, then rollout", sink, m, lines, sc.drain)
	if metrics.lost != 0 || logs.lost != 0 || metrics.refused != 0 {
		t.Errorf("lost %d points (refused %d) and %d lines across a SIGKILL and a rollout\nagent:\n%s", metrics.lost, metrics.refused, logs.lost, agent.proc.Output())
	}
}

// TestFaultTableQueueVolumeFull: the agent's data directory is a 2 MiB tmpfs and the gateway is down, so the
// queue fills the volume. The agent must keep running (healthy), say why it refuses, count what it refuses,
// and deliver everything it acknowledged once the gateway is back.
func TestFaultTableQueueVolumeFull(t *testing.T) {
	t.Parallel()
	testenv.NeedRoot(t, "mount a small tmpfs as the agent's queue volume")
	dataDir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", dataDir).CombinedOutput(); err != nil {
		testenv.Unavailable(t, "mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { // registered before the agent: runs after it stopped
		if out, err := exec.Command("umount", dataDir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dataDir, err, out)
		}
	})
	sink := newOTLPSink(t)
	gwEnv := relayEnv(t, sink) // the gateway's port stays closed until the volume is full
	agent := startAgent(t, "127.0.0.1:"+gwEnv["OTLP_PORT"], dataDir, t.TempDir())
	m := newSeqSender(t, agent.otlp(), "full", 50)

	// Each tick gets 2 s (the sender retries a retryable refusal), then counts as refused.
	for end := time.Now().Add(60 * time.Second); time.Now().Before(end); {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = m.sendNext(ctx)
		cancel()
		if _, refused := m.counts(); refused >= 5 {
			break
		}
	}
	_, refused := m.counts()
	if refused == 0 {
		t.Fatalf("a 2 MiB volume never filled up\n%s", agent.proc.Output())
	}
	if status := httpStatus("http://127.0.0.1:" + agent.env["HEALTH_PORT"] + "/"); status != http.StatusOK {
		t.Errorf("agent health is %d with a full volume, want 200 (it must keep running)", status)
	}
	out := agent.proc.Output()
	if !strings.Contains(out, "no space left on device") {
		t.Errorf("the agent's log never says the volume is full (no space left on device):\n%s", out)
	}
	telemetry := get(t, "http://127.0.0.1:"+agent.env["TELEMETRY_PORT"]+"/metrics")
	refusedPoints := counterSum(telemetry, "otelcol_receiver_refused_metric_points")
	enqueueFailed := counterSum(telemetry, "otelcol_exporter_enqueue_failed_metric_points")
	t.Logf("volume full: sender gave up on %d ticks (%d points); agent counted receiver refused %v points, exporter enqueue failed %v points",
		refused, refused*m.shards, refusedPoints, enqueueFailed)
	if refusedPoints < float64(refused*m.shards) {
		t.Errorf("the agent counted %v refused points, the sender saw %d refused", refusedPoints, refused*m.shards)
	}

	startRelay(t, gwEnv)
	t.Log("gateway up: the queue drains")
	metrics, _ := agentRows(t, "queue volume full (2 MiB tmpfs)", sink, m, nil, 2*time.Minute)
	if metrics.lost != 0 {
		t.Errorf("lost %d acknowledged points after the volume filled\n%s", metrics.lost, agent.proc.Output())
	}
	// Drained, the volume takes data again.
	before, _ := m.counts()
	for range 10 {
		if err := m.sendNext(context.Background()); err != nil {
			t.Errorf("after the drain: %v", err)
		}
	}
	if after, r := m.counts(); after-before != 10 || r != refused {
		t.Errorf("after the drain %d of 10 ticks were sent, refused went %d → %d", after-before, refused, r)
	}
}

func httpStatus(url string) int {
	resp, err := http.Get(url)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// counterSum adds every sample of a metric in a Prometheus text exposition.
func counterSum(exposition, name string) float64 {
	var sum float64
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `(?:_total)?(?:\{[^}]*\})? ([0-9.e+]+)$`)
	for _, m := range re.FindAllStringSubmatch(exposition, -1) {
		v, _ := strconv.ParseFloat(m[1], 64)
		sum += v
	}
	return sum
}

// TestFaultTableCloudWatchThrottledThenDown: gateway-slo's CloudWatch paths (deploy's awsemf behind the
// persistent EMF queue, awscloudwatchlogs with its persistent queue) while the CloudWatch Logs peer answers
// ThrottlingException, then while it is down (connection refused). Every acknowledged EMF event and log
// line must arrive; the collector's peak RSS is logged.
func TestFaultTableCloudWatchThrottledThenDown(t *testing.T) {
	t.Parallel() // mostly waiting: runs alongside the other long cases
	sc := faultScaleFromEnv()
	peer := cloudWatchPeerServer(t)
	srv := newLoopbackHTTP(t, peer)
	env := map[string]string{"HEALTH_PORT": freePort(t), "OTLP_PORT": freePort(t), "CWL_ENDPOINT": srv.url(),
		"OTELCOL_SRE_DATA_DIR": t.TempDir(), "OTELCOL_SRE_EMF_QUEUE_PORT": freePort(t),
		"CLUSTER_NAME": "e2e", "K8S_POD_NAME": "otelcol-sre-gateway-slo-0"}
	cw := deployFragment(t, "cloudwatch.yaml", "extensions::file_storage/cloudwatch_queue", "receivers::otlp/emf_queue",
		"exporters::awsemf", "exporters::awscloudwatchlogs/pods", "exporters::otlp_grpc/emf_queue", "service::pipelines::metrics/emf")
	slo := deployFragment(t, "gateway-slo.yaml", "processors::memory_limiter")
	proc := collectortest.StartConfigs(t, []string{cw, slo, filepath.Join("testdata", "cloudwatch-durable.yaml")}, env,
		"http://127.0.0.1:"+env["HEALTH_PORT"]+"/")
	otlp := "127.0.0.1:" + env["OTLP_PORT"]
	// A metric deploy declares for CloudWatch (cloudwatch.yaml metric_declarations: slo.sli by slo.service,
	// slo.name), so every event is EMF with a metric directive.
	m := newSeqSender(t, otlp, "cw-emf", 1)
	m.metric, m.resource = "slo.sli", map[string]string{"slo.service": "e2e", "slo.name": "fault-table"}
	l := newLogSender(t, otlp, "cw-logs")

	peakRSS := make(chan int64)
	stopRSS := make(chan struct{})
	go func() { peakRSS <- samplePeakRSS(proc.Pid(), stopRSS) }()

	wait := sendAllFor(t, []*seqSender{m, l}, 5*time.Second+sc.throttle+5*time.Second+sc.cwDown+5*time.Second, 100*time.Millisecond)
	time.Sleep(5 * time.Second)
	peer.SetFault(cwlogspeer.Throttling)
	t.Logf("CloudWatch Logs throttling for %s", sc.throttle)
	time.Sleep(sc.throttle)
	peer.SetFault(cwlogspeer.Fault{})
	time.Sleep(5 * time.Second)
	srv.down()
	t.Logf("CloudWatch Logs down for %s", sc.cwDown)
	time.Sleep(sc.cwDown)
	srv.up(t)
	wait()

	emfAcked, logAcked := m.ackedList(), l.ackedList()
	var emf, logs row
	for deadline := time.Now().Add(sc.drain); ; time.Sleep(time.Second) {
		emf, logs = cloudWatchRows(t, peer, m, l, emfAcked, logAcked)
		if (emf.lost == 0 && logs.lost == 0) || time.Now().After(deadline) {
			break
		}
	}
	close(stopRSS)
	_, faulted := peer.Requests()
	fault := "CloudWatch Logs throttled " + sc.throttle.String() + ", then down " + sc.cwDown.String()
	emf.fault, logs.fault = fault, fault
	emf.log(t)
	logs.log(t)
	t.Logf("faulted PutLogEvents: %d; collector peak RSS %d MiB (memory_limiter: gateway-slo.yaml's)", faulted, <-peakRSS>>20)
	// awsemf turns throttling into a permanent error once the AWS SDK's retry quota (500 tokens, 5 per
	// throttled retry) is spent, and the queue in front drops a permanent error: those drops are logged
	// with their item count and are the documented limit (deploy/README.md "Nothing lost"); any other
	// loss is a failure.
	quotaDrops := quotaExhaustedDrops(proc.Output())
	if quotaDrops > 0 {
		t.Logf("EMF: %d points dropped as permanent after the SDK's retry quota was spent (documented limit)", quotaDrops)
	}
	if emf.lost != quotaDrops || logs.lost != 0 || emf.refused != 0 || logs.refused != 0 {
		t.Errorf("lost %d EMF events (%d explained by the SDK retry quota) and %d log lines (refused %d, %d)\n%s",
			emf.lost, quotaDrops, logs.lost, emf.refused, logs.refused, proc.Output())
	}
	for _, inv := range peer.InvalidEMF() {
		if inv.Event.Group == cwEMFGroup {
			t.Errorf("invalid EMF: %v", inv.Err)
		}
	}
}

// cwEMFGroup is cloudwatch.yaml's awsemf log group with CLUSTER_NAME=e2e.
const cwEMFGroup = "/aws/otelcol-sre/e2e/metrics"

// quotaExhaustedDrops adds the items the EMF queue dropped as permanent after the AWS SDK's retry quota
// ran out under throttling.
func quotaExhaustedDrops(output string) int {
	n := 0
	for _, line := range strings.Split(output, "\n") {
		if strings.Contains(line, `"otelcol.component.id": "otlp_grpc/emf_queue"`) && strings.Contains(line, "Dropping data") &&
			strings.Contains(line, "retry quota exceeded") {
			if m := regexp.MustCompile(`"dropped_items": (\d+)`).FindStringSubmatch(line); m != nil {
				d, _ := strconv.Atoi(m[1])
				n += d
			}
		}
	}
	return n
}

// cloudWatchRows counts what the peer holds of the acknowledged EMF ticks and log lines.
func cloudWatchRows(t *testing.T, peer *cwlogspeer.Server, m, l *seqSender, emfAcked, logAcked []int) (emf, logs row) {
	t.Helper()
	var emfMessages []string
	lines := newLineCounter()
	for _, e := range peer.Events() {
		// Both exporters send the EMF header (contrib's CloudWatch Logs client sets it on every request):
		// tell them apart by log group.
		if e.Group == cwEMFGroup {
			emfMessages = append(emfMessages, e.Message)
		} else {
			lines.count(e.Message)
		}
	}
	emfSent, emfRefused := m.counts()
	emfGot, emfDup := emfTallyMetric(t, emfMessages, m.run, m.metric)
	emf = row{signal: "EMF events (awsemf)", sent: emfSent, acked: len(emfAcked), refused: emfRefused,
		received: emfGot, lost: len(emfAcked) - emfGot, duplicated: emfDup}
	logSent, logRefused := l.counts()
	logGot, logDup := lines.tally(l.run, logSent)
	logs = row{signal: "log records (awscloudwatchlogs)", sent: logSent, acked: len(logAcked), refused: logRefused,
		received: logGot, lost: len(logAcked) - logGot, duplicated: logDup}
	return emf, logs
}

// samplePeakRSS reads the process's resident set size every 500 ms until stop is closed.
func samplePeakRSS(pid int, stop <-chan struct{}) int64 {
	var peak int64
	for {
		if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status"); err == nil {
			if m := regexp.MustCompile(`VmRSS:\s+(\d+) kB`).FindSubmatch(b); m != nil {
				kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
				peak = max(peak, kb<<10)
			}
		}
		select {
		case <-stop:
			return peak
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// TestFaultTableGatewaySLOReplicaKilled: agent → gateway-lb (deploy's routing and loadbalancing sections,
// static resolver) → two gateway-slo replicas (deploy's memory_limiter and, if its metrics pipeline has one,
// batch) → counting sink. Mid-stream one replica is killed with SIGKILL and restarted 5 s later on the same
// port (a StatefulSet pod coming back). Four services spread the series over both replicas.
func TestFaultTableGatewaySLOReplicaKilled(t *testing.T) {
	t.Parallel() // mostly waiting: runs alongside the other long cases
	sc := faultScaleFromEnv()
	sink := newOTLPSink(t)

	// gateway-slo replicas
	procs := sloProcessors(t)
	sloParts := []string{deployFragment(t, "gateway-slo.yaml", prefixed("processors::", procs)...),
		filepath.Join("testdata", "gateway-slo-durable.yaml"), pipelineProcessors(t, procs)}
	var sloEnv [2]map[string]string
	var slo [2]*collectortest.Process
	for i := range sloEnv {
		sloEnv[i] = map[string]string{"HEALTH_PORT": freePort(t), "OTLP_PORT": freePort(t), "TELEMETRY_PORT": freePort(t),
			"SINK_ENDPOINT": sink.endpoint()}
		slo[i] = collectortest.StartConfigs(t, sloParts, sloEnv[i], "http://127.0.0.1:"+sloEnv[i]["HEALTH_PORT"]+"/")
	}
	// gateway-lb
	lbEnv := map[string]string{"HEALTH_PORT": freePort(t), "OTLP_PORT": freePort(t),
		"SLO_PORT_0": sloEnv[0]["OTLP_PORT"], "SLO_PORT_1": sloEnv[1]["OTLP_PORT"]}
	lbPart := deployFragment(t, "gateway-lb.yaml", "connectors::routing/tier", "processors::memory_limiter",
		"exporters::loadbalancing/by_service", "-exporters::loadbalancing/by_service::resolver",
		"exporters::loadbalancing/by_resource", "-exporters::loadbalancing/by_resource::resolver",
		"service::pipelines::metrics", "service::pipelines::metrics/by_service", "service::pipelines::metrics/infra")
	collectortest.StartConfigs(t, []string{lbPart, filepath.Join("testdata", "gateway-lb-durable.yaml")}, lbEnv,
		"http://127.0.0.1:"+lbEnv["HEALTH_PORT"]+"/")

	agent := startAgent(t, "127.0.0.1:"+lbEnv["OTLP_PORT"], t.TempDir(), t.TempDir())
	var senders []*seqSender
	for i := range 4 {
		s := newSeqSender(t, agent.otlp(), "slokill-"+strconv.Itoa(i), sc.shards/4)
		s.resource = map[string]string{"service.name": "e2e-" + strconv.Itoa(i)}
		senders = append(senders, s)
	}
	wait := sendAllFor(t, senders, 20*time.Second, sc.tick)
	time.Sleep(8 * time.Second)
	// Kill the replica that received more (the services' hash decides how they spread).
	var accepted [2]float64
	for i := range sloEnv {
		accepted[i] = counterSum(get(t, "http://127.0.0.1:"+sloEnv[i]["TELEMETRY_PORT"]+"/metrics"), "otelcol_receiver_accepted_metric_points")
	}
	k := 0
	if accepted[1] > accepted[0] {
		k = 1
	}
	slo[k].Kill()
	t.Logf("gateway-slo replica %d SIGKILLed after accepting %.0f points (the other: %.0f)", k, accepted[k], accepted[1-k])
	time.Sleep(5 * time.Second)
	slo[k] = collectortest.StartConfigs(t, sloParts, sloEnv[k], "http://127.0.0.1:"+sloEnv[k]["HEALTH_PORT"]+"/")
	t.Logf("gateway-slo replica %d back", k)
	wait()

	total := row{fault: "gateway-slo replica SIGKILL (restart after 5 s)", signal: "metric points (OTLP)"}
	deadline := time.Now().Add(sc.drain)
	for _, s := range senders {
		r, _ := agentRows(t, total.fault, sink, s, nil, time.Until(deadline))
		total.sent += r.sent
		total.acked += r.acked
		total.refused += r.refused
		total.received += r.received
		total.lost += r.lost
		total.duplicated += r.duplicated
	}
	total.log(t)
	if total.lost != 0 || total.refused != 0 {
		t.Errorf("lost %d points (refused %d) when a gateway-slo replica was killed\nreplica %d (killed, restarted):\n%s", total.lost, total.refused, k, slo[k].Output())
	}
}

// sloProcessors is gateway-slo.yaml's metrics pipeline's processors that can run without Kubernetes and
// state (memory_limiter, batch), in deploy's order.
func sloProcessors(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(collectortest.RepoRoot(), "deploy", "configs", "gateway-slo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Service struct {
			Pipelines map[string]struct {
				Processors []string `yaml:"processors"`
			} `yaml:"pipelines"`
		} `yaml:"service"`
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range cfg.Service.Pipelines["metrics"].Processors {
		if p == "memory_limiter" || p == "batch" {
			out = append(out, p)
		}
	}
	return out
}

func prefixed(prefix string, names []string) []string {
	var out []string
	for _, n := range names {
		out = append(out, prefix+n)
	}
	return out
}

// pipelineProcessors writes a config setting the metrics pipeline's processors.
func pipelineProcessors(t *testing.T, procs []string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "processors.yaml")
	if err := os.WriteFile(f, []byte("service:\n  pipelines:\n    metrics:\n      processors: ["+strings.Join(procs, ", ")+"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}
