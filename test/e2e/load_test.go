// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/otelcol-sre/otelcol-sre/internal/collectortest"
	"github.com/otelcol-sre/otelcol-sre/internal/testcluster"
)

const (
	loadPods             = 10
	loadPointsPerPod     = 50
	loadPointsPerRequest = loadPods * loadPointsPerPod // a gateway receives batches from agents, not single points
	loadStep             = 20 * time.Second
	loadDrain            = 10 * time.Second
	// loadReferenceRate is a rate every row sustains: CPU per point, RSS and the profiles are taken there.
	loadReferenceRate = 50_000
	loadMaxRate       = 1_280_000
	loadBisections    = 3
	loadNode          = "load-node" // the node the load pods are bound to (the agent rows filter by it)
)

// loadPipeline is one row of the load matrix: the processors of the metrics pipeline, named as in
// testdata/gateway-load.yaml, and the row it is compared with in the same round.
type loadPipeline struct {
	id         string // the subtest's name: -run 'TestLoadGatewayRemoteWrite/round1/^(baseline|agent_chain)$'
	processors string
	anchor     string // id of the row this one is compared with; "" for an anchor
}

var loadPipelines = []loadPipeline{
	{"baseline", "[memory_limiter, batch]", ""},
	{"k8spoddiagnostics", "[memory_limiter, k8spoddiagnostics, batch]", "baseline"},
	{"k8spoddiagnostics_old_metrics_default", "[memory_limiter, k8spoddiagnostics/old_metrics_default, batch]", "baseline"},
	{"slo", "[memory_limiter, slo, batch]", "baseline"},
	{"k8spoddiagnostics_slo", "[memory_limiter, k8spoddiagnostics, slo, batch]", "baseline"},
	{"agent_chain_without_k8spoddiagnostics", "[memory_limiter, resource_detection, k8s_attributes, batch]", ""},
	{"agent_chain", "[memory_limiter, resource_detection, k8s_attributes, k8spoddiagnostics/agent, batch]", "agent_chain_without_k8spoddiagnostics"},
}

// rwSink accepts remote write and counts the samples of load_requests; it never fails. It keeps the label
// names of the first load_requests series it sees (what resource_to_telemetry_conversion made of the resource).
type rwSink struct {
	samples atomic.Int64
	mu      sync.Mutex
	labels  []string
}

func (s *rwSink) labelNames() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.labels
}

func (s *rwSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	raw, err := snappy.Decode(nil, body)
	if err == nil {
		var wr prompb.WriteRequest
		if wr.Unmarshal(raw) == nil {
			var n int64
			for _, ts := range wr.Timeseries {
				for _, l := range ts.Labels {
					if l.Name == "__name__" && l.Value == "load_requests" {
						n += int64(len(ts.Samples))
						s.mu.Lock()
						if s.labels == nil {
							for _, l := range ts.Labels {
								s.labels = append(s.labels, l.Name)
							}
						}
						s.mu.Unlock()
					}
				}
			}
			s.samples.Add(n)
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// procStat reads a process' CPU time (user+system) and resident set size from /proc.
func procStat(t *testing.T, pid int) (cpu time.Duration, rssMiB float64) {
	t.Helper()
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the command name, which is in parentheses and may contain spaces.
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	cpu = time.Duration(utime+stime) * 10 * time.Millisecond // USER_HZ is 100 on Linux
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			kb, _ := strconv.ParseFloat(strings.Fields(line)[1], 64)
			rssMiB = kb / 1024
		}
	}
	return cpu, rssMiB
}

type loadResult struct {
	rate               int // target points/s
	sentRate           float64
	sent, received     int64
	refused            int64
	cpuPercent, rssMiB float64       // while sending
	cpuPerPoint        time.Duration // collector CPU from the first send until the sink has every point
	sustained          bool
}

// loadDriver sends the load to one collector and counts it at the sink.
type loadDriver struct {
	client   pmetricotlp.GRPCClient
	pid      int // the collector's
	sink     *rwSink
	ns       string
	epoch    int64 // the value of this step's points
	accepted int64 // points the collector accepted in the steps so far
}

// settle waits until the sink has every point accepted so far, or has received nothing for 2 s (points
// the collector dropped), so that a step that fell behind does not feed the next one its backlog.
func (d *loadDriver) settle(t *testing.T) {
	t.Helper()
	last, quiet := d.sink.samples.Load(), time.Now()
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); {
		n := d.sink.samples.Load()
		if n >= d.accepted {
			return
		}
		if n != last {
			last, quiet = n, time.Now()
		} else if time.Since(quiet) > 2*time.Second {
			t.Logf("settle: %d accepted points never reached the sink", d.accepted-n)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("settle: the sink was still receiving after 2 minutes")
}

// drive sends rate points/s for loadStep in requests of loadPointsPerRequest points and reports what
// the sink received within loadDrain after the end.
func (d *loadDriver) drive(t *testing.T, rate int) loadResult {
	t.Helper()
	d.settle(t)
	client, pid, sink := d.client, d.pid, d.sink
	res := loadResult{rate: rate}
	base := sink.samples.Load()
	reqPerSec := float64(rate) / loadPointsPerRequest
	interval := time.Duration(float64(time.Second) / reqPerSec)
	cpu0, _ := procStat(t, pid)
	start := time.Now()
	var wg sync.WaitGroup
	var sent, refused atomic.Int64
	sem := make(chan struct{}, 64)
	// One request per step, sent again and again: the generator shares the machine and must not be what
	// limits the rate (the collector's work does not depend on the values).
	d.epoch++
	req := pmetricotlp.NewExportRequestFromMetrics(loadRequest(d.ns, d.epoch))
	for next := start; time.Since(start) < loadStep; next = next.Add(interval) {
		time.Sleep(time.Until(next))
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if _, err := client.Export(ctx, req); err != nil {
				refused.Add(loadPointsPerRequest)
				return
			}
			sent.Add(loadPointsPerRequest)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu1, rss := procStat(t, pid)
	res.cpuPercent = 100 * float64(cpu1-cpu0) / float64(elapsed)
	res.rssMiB = rss
	res.sent, res.refused = sent.Load(), refused.Load()
	d.accepted += res.sent
	res.sentRate = float64(res.sent+res.refused) / elapsed.Seconds()
	deadline := time.Now().Add(loadDrain)
	for time.Now().Before(deadline) && sink.samples.Load()-base < res.sent {
		time.Sleep(100 * time.Millisecond)
	}
	res.received = sink.samples.Load() - base
	cpu2, _ := procStat(t, pid)
	if res.received > 0 {
		res.cpuPerPoint = (cpu2 - cpu0) / time.Duration(res.received)
	}
	res.sustained = res.refused == 0 && res.received >= res.sent && res.sentRate >= 0.95*float64(rate)
	return res
}

// loadRequest is one OTLP request from loadPods pods of namespace ns (one resource each, identified by
// k8s.namespace.name + k8s.pod.name as k8spoddiagnostics associates them), each with loadPointsPerPod
// series of the cumulative load.requests, every 50th series a 5xx one (the SLO's bad events).
func loadRequest(ns string, epoch int64) pmetric.Metrics {
	md := pmetric.NewMetrics()
	now := time.Now()
	start := pcommon.NewTimestampFromTime(now.Add(-time.Hour))
	ts := pcommon.NewTimestampFromTime(now)
	for p := range loadPods {
		rm := md.ResourceMetrics().AppendEmpty()
		rm.Resource().Attributes().PutStr("service.name", "load")
		rm.Resource().Attributes().PutStr("k8s.namespace.name", ns)
		rm.Resource().Attributes().PutStr("k8s.pod.name", "load-"+strconv.Itoa(p))
		m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
		m.SetName("load.requests")
		sum := m.SetEmptySum()
		sum.SetIsMonotonic(true)
		sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		for i := range loadPointsPerPod {
			dp := sum.DataPoints().AppendEmpty()
			dp.Attributes().PutStr("series", strconv.Itoa(i))
			code := int64(200)
			if i%50 == 0 {
				code = 500
			}
			dp.Attributes().PutInt("http.response.status_code", code)
			dp.SetStartTimestamp(start)
			dp.SetTimestamp(ts)
			dp.SetIntValue(epoch * 10)
		}
	}
	return md
}

// loadRun is one row of one round.
type loadRun struct {
	reference   loadResult // at loadReferenceRate
	best        loadResult // the highest sustained rate (rate 0: none)
	searched    bool       // the search for the highest sustained rate ran (not when profiling)
	loadAverage float64    // the machine's 1-minute load average when the row started
	labels      []string   // label names of a load_requests series at the sink
}

// TestLoadGatewayRemoteWrite measures the OTLP -> remote-write metrics pipeline of the built collector for each
// row of loadPipelines: collector CPU per point and RSS at loadReferenceRate, then the highest sustained rate
// (doubling from twice the reference until a rate is not sustained: refusals, the generator falling behind, or
// points missing at the sink; then loadBisections bisections). Rows run one after the other and the whole
// matrix OTELCOL_SRE_LOAD_ROUNDS times (default 1), interleaved, so the table's medians and ratios compare rows
// measured under the same machine load. With OTELCOL_SRE_LOAD_PROFILE=dir it takes a CPU and an allocation
// profile (pprof extension) of each row's reference step (dir/TestLoadGatewayRemoteWrite/roundN/row.cpu.pb.gz,
// .allocs.pb.gz) and skips the search. It needs minutes and a quiet machine, so it runs only with
// OTELCOL_SRE_LOAD=1; the table goes into the k8spoddiagnostics processor's README.
func TestLoadGatewayRemoteWrite(t *testing.T) {
	if os.Getenv("OTELCOL_SRE_LOAD") != "1" {
		t.Skip("load test: set OTELCOL_SRE_LOAD=1 (takes minutes, wants a quiet machine)")
	}
	rounds := 1
	if v := os.Getenv("OTELCOL_SRE_LOAD_ROUNDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("OTELCOL_SRE_LOAD_ROUNDS=%q: want a number of rounds >= 1", v)
		}
		rounds = n
	}
	profileDir := os.Getenv("OTELCOL_SRE_LOAD_PROFILE")
	// The pods k8spoddiagnostics diagnoses and k8s_attributes decorates: in the test control plane, bound to
	// one node; no kubelet runs, so they stay ContainerCreating.
	cluster := testcluster.Start(t)
	ns := cluster.Namespace(t)
	cluster.CreateNode(t, loadNode, nil)
	for p := range loadPods {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "load-" + strconv.Itoa(p)},
			Spec: corev1.PodSpec{NodeName: loadNode,
				Containers: []corev1.Container{{Name: "app", Image: "registry.example/load:1"}}}}
		if _, err := cluster.Client().CoreV1().Pods(ns).Create(t.Context(), pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	runs := map[string][]loadRun{} // by row id, one per round (nil when the row did not run that round)
	for round := range rounds {
		t.Run(fmt.Sprintf("round%d", round+1), func(t *testing.T) {
			for _, pl := range loadPipelines {
				runs[pl.id] = append(runs[pl.id], loadRun{})
				t.Run(pl.id, func(t *testing.T) {
					runs[pl.id][round] = runPipeline(t, cluster, ns, pl, profileDir)
				})
			}
		})
	}
	t.Logf("load table (%d points per OTLP request, %s per step, %d round(s), 2-core shared machine):\n%s",
		loadPointsPerRequest, loadStep, rounds, loadTable(runs))
}

// runPipeline starts the collector with pl's processors and measures it.
func runPipeline(t *testing.T, cluster *testcluster.Cluster, ns string, pl loadPipeline, profileDir string) loadRun {
	sink := &rwSink{}
	srv := httptest.NewServer(sink)
	defer srv.Close()
	pprofAddr := "127.0.0.1:" + collectortest.Port(collectortest.FreePort(t))
	proc, otlp := collector(t, "gateway-load.yaml", map[string]string{"RW_ENDPOINT": srv.URL + "/api/v1/write",
		"LOAD_PROCESSORS": pl.processors, "KUBECONFIG": cluster.AdminKubeconfig(), "POD_NAMESPACE": ns,
		"K8S_NODE_NAME": loadNode, "PPROF_PORT": strings.TrimPrefix(pprofAddr, "127.0.0.1:"),
		"OTEL_RESOURCE_ATTRIBUTES": "k8s.cluster.name=load,k8s.node.name=" + loadNode})
	defer func() {
		if err := proc.Stop(30 * time.Second); err != nil {
			t.Error(err)
		}
	}()
	conn, err := grpc.NewClient(otlp, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	driver := &loadDriver{client: pmetricotlp.NewGRPCClient(conn), pid: proc.Pid(), sink: sink, ns: ns}
	run := loadRun{loadAverage: loadAverage(t)}
	try := func(rate int) loadResult {
		r := driver.drive(t, rate)
		t.Logf("%s %dk: generator reached %.0f/s, refused %d, %d of %d points at the sink, collector %.0f %% CPU, %.2f µs CPU per point, %.0f MiB RSS, sustained %v",
			pl.id, rate/1000, r.sentRate, r.refused, r.received, r.sent, r.cpuPercent,
			float64(r.cpuPerPoint)/float64(time.Microsecond), r.rssMiB, r.sustained)
		return r
	}
	var wait func()
	if profileDir != "" {
		wait = captureProfiles(t, pprofAddr, filepath.Join(profileDir, t.Name()))
	}
	run.reference = try(loadReferenceRate)
	run.labels = sink.labelNames()
	t.Logf("%s: labels of a load_requests series: %v", pl.id, run.labels)
	if wait != nil { // profiling: no search
		wait()
		return run
	}
	run.searched = true
	if !run.reference.sustained {
		return run
	}
	run.best = run.reference
	// Double until a rate is not sustained, then bisect between the last good and the first bad.
	hi := 0
	for rate := 2 * loadReferenceRate; rate <= loadMaxRate; rate *= 2 {
		r := try(rate)
		if !r.sustained {
			hi = rate
			break
		}
		run.best = r
	}
	for range loadBisections {
		mid := (run.best.rate + hi) / 2 / 5000 * 5000
		if hi == 0 || mid <= run.best.rate {
			break
		}
		if r := try(mid); r.sustained {
			run.best = r
		} else {
			hi = mid
		}
	}
	return run
}

// captureProfiles starts a CPU and an allocation profile of loadStep from the pprof extension at addr and
// returns a function that waits for both and writes them to prefix.cpu.pb.gz and prefix.allocs.pb.gz.
func captureProfiles(t *testing.T, addr, prefix string) (wait func()) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(prefix), 0o755); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for kind, endpoint := range map[string]string{"cpu": "profile", "allocs": "allocs"} {
		wg.Go(func() {
			fetchProfile(t, fmt.Sprintf("http://%s/debug/pprof/%s?seconds=%d", addr, endpoint, int(loadStep.Seconds())), prefix+"."+kind+".pb.gz")
		})
	}
	return wg.Wait
}

// fetchProfile writes the profile served at url (a pprof endpoint that takes seconds to answer) to file.
func fetchProfile(t *testing.T, url, file string) {
	resp, err := http.Get(url)
	if err != nil {
		t.Errorf("profile %s: %v", url, err)
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("%s: %s", resp.Status, body)
	}
	if err == nil {
		err = os.WriteFile(file, body, 0o644)
	}
	if err != nil {
		t.Errorf("profile %s: %v", url, err)
	}
}

// loadAverage is the machine's 1-minute load average.
func loadAverage(t *testing.T) float64 {
	t.Helper()
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		t.Fatal(err)
	}
	v, err := strconv.ParseFloat(strings.Fields(string(b))[0], 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// loadTable is the markdown table of the rows that ran: medians over the rounds with [min–max], and each row's
// ratios to its anchor row of the same round (median over the rounds): of the highest sustained rates, and of
// CPU per point at the reference rate when both sustained it (anchor's / row's, so that both read as
// throughput: below 1 is slower).
func loadTable(runs map[string][]loadRun) string {
	lines := []string{
		"| pipeline | sustained points/s | × anchor: sustained | × anchor: CPU per point | collector CPU µs per point at 50k/s | RSS MiB at 50k/s | collector CPU % at the sustained rate | load average | labels per series |",
		"|---|---|---|---|---|---|---|---|---|",
	}
	for _, pl := range loadPipelines {
		var rate, rateRatio, cpuRatio, cpuPerPoint, rss, cpuAtBest, load []float64
		labels := 0
		anchor := runs[pl.anchor]
		for round, r := range runs[pl.id] {
			if r.reference.rate == 0 { // did not run
				continue
			}
			var a loadRun
			if round < len(anchor) {
				a = anchor[round]
			}
			if r.searched {
				rate = append(rate, float64(r.best.rate))
				cpuAtBest = append(cpuAtBest, r.best.cpuPercent)
				if a.best.rate > 0 {
					rateRatio = append(rateRatio, float64(r.best.rate)/float64(a.best.rate))
				}
			}
			// Only at the same rate: a step that fell behind spreads the fixed costs over fewer points.
			if a.reference.sustained && r.reference.sustained {
				cpuRatio = append(cpuRatio, float64(a.reference.cpuPerPoint)/float64(r.reference.cpuPerPoint))
			}
			cpuPerPoint = append(cpuPerPoint, float64(r.reference.cpuPerPoint)/float64(time.Microsecond))
			rss = append(rss, r.reference.rssMiB)
			load = append(load, r.loadAverage)
			labels = len(r.labels)
		}
		if len(load) == 0 {
			continue
		}
		name := pl.processors
		if pl.anchor == "" {
			name += " (anchor)"
		}
		lines = append(lines, fmt.Sprintf("| %s | %s | %s | %s | %s | %s | %s | %s | %d |", name,
			spread(rate, "%.0f"), spread(rateRatio, "%.2f"), spread(cpuRatio, "%.2f"), spread(cpuPerPoint, "%.2f"),
			spread(rss, "%.0f"), spread(cpuAtBest, "%.0f"), spread(load, "%.1f"), labels))
	}
	return strings.Join(lines, "\n")
}

// spread formats the median of vs, with [min–max] when there is more than one value.
func spread(vs []float64, format string) string {
	if len(vs) == 0 {
		return "–"
	}
	s := slices.Sorted(slices.Values(vs))
	median := s[len(s)/2]
	if len(s)%2 == 0 {
		median = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	if len(s) == 1 {
		return fmt.Sprintf(format, median)
	}
	return fmt.Sprintf(format+" ["+format+"–"+format+"]", median, s[0], s[len(s)-1])
}
