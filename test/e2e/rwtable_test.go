// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Gateway-shaped load (issue 14): 1,000 pods × 50 series, 15 labels per series after
// resource_to_telemetry_conversion; one OTLP request holds 10 pods' points, as a gateway receives them
// batched from agents.
const (
	gwPods            = 1000
	gwSeriesPerPod    = loadPointsPerPod
	gwPodsPerRequest  = loadPods // load_test.go's request, pods renamed
	gwPointsPerReq    = gwPodsPerRequest * gwSeriesPerPod
	gwMetric          = "gw_requests"
	gwTemplates       = gwPods / gwPodsPerRequest
	rwTableLoadWindow = 20 * time.Second
)

// gwRequest is the request for pods [first, first+gwPodsPerRequest): load_test.go's request (10 pods ×
// 50 series of a cumulative counter) with the pods renamed and more resource and point attributes.
func gwRequest(first int) pmetric.Metrics {
	md := loadRequest("shop", 0)
	rms := md.ResourceMetrics()
	for r := range rms.Len() {
		p := first + r
		pod := "gw-" + strconv.Itoa(p)
		a := rms.At(r).Resource().Attributes()
		a.PutStr("service.namespace", "shop")
		a.PutStr("service.instance.id", pod)
		a.PutStr("k8s.pod.name", pod)
		a.PutStr("k8s.node.name", "node-"+strconv.Itoa(p%40))
		a.PutStr("k8s.deployment.name", "checkout-"+strconv.Itoa(p%20))
		a.PutStr("cloud.region", "eu-west-1")
		a.PutStr("cloud.availability_zone", "eu-west-1"+string(rune('a'+p%3)))
		m := rms.At(r).ScopeMetrics().At(0).Metrics().At(0)
		m.SetName("gw.requests")
		dps := m.Sum().DataPoints()
		for d := range dps.Len() {
			dps.At(d).Attributes().PutStr("http.route", "/api/"+strconv.Itoa(d))
			dps.At(d).Attributes().PutStr("http.request.method", "GET")
		}
	}
	return md
}

// gwLoad sends gateway-shaped load at rate points/s until ctx ends. Each worker owns some of the 100
// request templates, encoded once: before a send it writes the send time into every point's timestamp
// (so the sink measures delivery delay) and a new counter value into the encoded bytes and sends them as
// they are. The generator shares the two cores with the collector and the sink and must not be what
// limits the rate: it spends no CPU on building or encoding requests, and gwWorkers requests in flight
// keep up with a collector that answers in up to gwWorkers × 500 / rate seconds (160 ms at 100k/s).
type gwLoad struct {
	acked, refused atomic.Int64
}

const gwWorkers = 32

// Placeholders gwEncoded finds in the encoded request: every point's time_unix_nano (fixed64, field 3 of
// NumberDataPoint) and as_int (sfixed64, field 6), each after its tag byte.
const (
	gwTimePlaceholder  = 0x1f2e3d4c5b6a7988
	gwValuePlaceholder = 0x0a1b2c3d4e5f6071
)

// gwEncoded is one encoded OTLP ExportMetricsServiceRequest and where its points' timestamps and values are.
type gwEncoded struct {
	body          []byte
	times, values []int
}

func gwEncode(t *testing.T, first int) *gwEncoded {
	md := gwRequest(first)
	rms := md.ResourceMetrics()
	for r := range rms.Len() {
		dps := rms.At(r).ScopeMetrics().At(0).Metrics().At(0).Sum().DataPoints()
		for d := range dps.Len() {
			dps.At(d).SetTimestamp(gwTimePlaceholder)
			dps.At(d).SetIntValue(gwValuePlaceholder)
		}
	}
	body, err := pmetricotlp.NewExportRequestFromMetrics(md).MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	e := &gwEncoded{body: body, times: placeholderOffsets(body, 0x19, gwTimePlaceholder),
		values: placeholderOffsets(body, 0x31, gwValuePlaceholder)}
	if len(e.times) != gwPointsPerReq || len(e.values) != gwPointsPerReq {
		t.Fatalf("found %d timestamps and %d values in the encoded request, want %d of each", len(e.times), len(e.values), gwPointsPerReq)
	}
	return e
}

// placeholderOffsets lists the offsets of the 8 bytes after each occurrence of tag + little-endian v.
func placeholderOffsets(body []byte, tag byte, v uint64) []int {
	pattern := binary.LittleEndian.AppendUint64([]byte{tag}, v)
	var out []int
	for i := 0; ; {
		j := bytes.Index(body[i:], pattern)
		if j < 0 {
			return out
		}
		out = append(out, i+j+1)
		i += j + len(pattern)
	}
}

// stamp writes ts into every point's timestamp and value into every point's value.
func (e *gwEncoded) stamp(ts time.Time, value int64) {
	for _, o := range e.times {
		binary.LittleEndian.PutUint64(e.body[o:], uint64(ts.UnixNano()))
	}
	for _, o := range e.values {
		binary.LittleEndian.PutUint64(e.body[o:], uint64(value))
	}
}

// rawCodec sends an already encoded message and discards the answer (an empty or partial-success
// ExportMetricsServiceResponse: the load test counts a request acknowledged when the call succeeds).
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error)   { return *v.(*[]byte), nil }
func (rawCodec) Unmarshal(_ []byte, _ any) error { return nil }
func (rawCodec) Name() string                    { return "proto" }

const otlpMetricsExport = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"

func (g *gwLoad) run(ctx context.Context, t *testing.T, endpoint string, rate int) {
	conn, err := grpc.NewClient(endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	interval := time.Duration(float64(time.Second) * gwPointsPerReq * gwWorkers / float64(rate))
	var wg sync.WaitGroup
	for w := range gwWorkers {
		var reqs []*gwEncoded
		for i := w; i < gwTemplates; i += gwWorkers {
			reqs = append(reqs, gwEncode(t, i*gwPodsPerRequest))
		}
		wg.Go(func() {
			next := time.Now().Add(interval * time.Duration(w) / gwWorkers) // spread the workers' sends
			for i := 0; ctx.Err() == nil; i++ {
				time.Sleep(time.Until(next))
				next = next.Add(interval)
				e := reqs[i%len(reqs)]
				e.stamp(time.Now(), int64(i+1))
				cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				err := conn.Invoke(cctx, otlpMetricsExport, &e.body, &struct{}{}, grpc.ForceCodec(rawCodec{}))
				cancel()
				if err != nil {
					g.refused.Add(gwPointsPerReq)
					continue
				}
				g.acked.Add(gwPointsPerReq)
			}
		})
	}
	wg.Wait()
}

// peaks samples a collector's RSS and its WAL directory's size every second until stop is called.
func peaks(t *testing.T, pid int, walDir string) (stop func() (rssMiB, walMiB float64)) {
	var rss, wal float64
	stopSampling := every(time.Second, func() {
		_, r := procStat(t, pid)
		rss, wal = max(rss, r), max(wal, float64(dirBytes(walDir))/(1<<20))
	})
	return func() (float64, float64) {
		stopSampling()
		return rss, wal
	}
}

func dirBytes(dir string) int64 {
	var n int64
	_ = filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			n += info.Size()
		}
		return nil
	})
	return n
}

// rwRow is one exporter's figures in one row of the table.
type rwRow struct{ exporter, figures string }

// rwTableEnv is rwEnv with deploy/configs/amp.yaml's queue_config for agent_remote_write: the table measures
// the shards, batch size and backoffs the gateway ships, not the regular tests' quick ones.
func rwTableEnv(t *testing.T, endpoint string) map[string]string {
	t.Helper()
	exporters, _ := deployConfig(t, "amp.yaml")["exporters"].(map[string]any)
	amp, _ := exporters["agent_remote_write/amp"].(map[string]any)
	qc, ok := amp["queue_config"]
	if !ok {
		t.Fatal("deploy/configs/amp.yaml has no exporters::agent_remote_write/amp::queue_config")
	}
	b, err := json.Marshal(qc)
	if err != nil {
		t.Fatal(err)
	}
	env := rwEnv(t, endpoint)
	env["RW_QUEUE_CONFIG"] = string(b)
	return env
}

// loadAverages is /proc/loadavg's 1, 5 and 15 minute load averages.
func loadAverages(t *testing.T) string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

// TestRemoteWriteTable measures issue 14's table for both remote-write exporters with the built collector:
// a counting sink and Debian's Prometheus behind the loopback delay and fault proxy (rwCounter);
// agent_remote_write runs with deploy/configs/amp.yaml's queue_config. It takes about 40 minutes and wants
// a quiet machine, so it runs only with OTELCOL_SRE_LOAD=1 (under flock /tmp/otelcol-heavy.lock); the rows it
// logs go into deploy/README.md. Rows are subtests (-run 'TestRemoteWriteTable/throughput/sink_50ms'). With
// OTELCOL_SRE_LOAD_PROFILE=dir it writes a CPU profile of the collector and of the test process (generator
// and sink) for each throughput row. SIGKILL, two senders and 1 sample/s are the regular tests
// TestAgentRemoteWriteSIGKILLRestart, TestCollectorSIGKILLReplaysWAL, TestRemoteWriteTwoCollectorsSameSeries
// and TestAgentRemoteWriteLowVolumeDelay.
func TestRemoteWriteTable(t *testing.T) {
	if os.Getenv("OTELCOL_SRE_LOAD") != "1" {
		t.Skip("measurements: set OTELCOL_SRE_LOAD=1 (about 40 minutes, wants a quiet machine)")
	}
	var mu sync.Mutex
	var table []string
	report := func(row string, r rwRow) {
		mu.Lock()
		defer mu.Unlock()
		line := fmt.Sprintf("| %s | %s | %s |", row, r.exporter, r.figures)
		table = append(table, line)
		t.Log(line)
	}
	t.Cleanup(func() {
		t.Logf("table:\n| case | exporter | figures |\n|---|---|---|\n%s", joinLines(table))
	})
	profiles := os.Getenv("OTELCOL_SRE_LOAD_PROFILE")

	// Throughput rows: one exporter at a time (they would share the two cores).
	type target struct {
		id, name string
		prom     bool
		rtt      time.Duration
		rate     int
	}
	for _, tg := range []target{{"sink_50ms", "50 ms RTT, counting sink, 100k points/s offered", false, 50 * time.Millisecond, 100_000},
		{"prometheus_20ms", "20 ms RTT, Prometheus, 50k points/s offered", true, 20 * time.Millisecond, 50_000},
		{"prometheus_50ms", "50 ms RTT, Prometheus, 50k points/s offered", true, 50 * time.Millisecond, 50_000}} {
		t.Run("throughput/"+tg.id, func(t *testing.T) {
			for _, x := range rwExporters {
				t.Run(x.name, func(t *testing.T) {
					report(tg.name, rwRow{x.name, measureThroughput(t, x.config, tg.prom, tg.rtt, tg.rate, profiles)})
				})
			}
		})
	}

	// Fault rows: both exporters at once, each with its own Prometheus and proxy; seqSender's series are
	// counted exactly, gateway load at 5k points/s fills the WAL alongside.
	type fault struct {
		id, name string
		length   time.Duration
		drain    time.Duration // how long to wait for every acknowledged sample after the fault
		apply    func(c *rwCounter, prom *prometheusServer, t *testing.T) (restore func())
	}
	faults := []fault{
		{"429", "429 + Retry-After: 10 for 2 min", 2 * time.Minute, 2 * time.Minute, func(c *rwCounter, _ *prometheusServer, _ *testing.T) func() {
			c.throttle(2*time.Minute, 10*time.Second)
			return func() {}
		}},
		{"400", "one sample answered 400 every time it is sent", time.Minute, 2 * time.Minute, func(c *rwCounter, _ *prometheusServer, _ *testing.T) func() {
			// The first shard-0 sample sent after now is the bad one: refused whenever a request holds it.
			bad := -1.0 // guarded by c.mu, under which rwCounter calls refuse
			c.mu.Lock()
			c.refuse = func(series []prompb.TimeSeries) bool {
				if bad < 0 {
					if v, ok := sampleOf(series, "shard", "0"); ok {
						bad = v
					}
				}
				return bad >= 0 && hasSample(series, "shard", "0", bad)
			}
			c.mu.Unlock()
			return func() {}
		}},
		{"outage", "Prometheus down 5 min", 5 * time.Minute, 15 * time.Minute, func(c *rwCounter, prom *prometheusServer, t *testing.T) func() {
			c.down()
			prom.stop()
			return func() { prom.start(); c.up(t) }
		}},
	}
	for i, f := range faults {
		t.Run("fault/"+f.id, func(t *testing.T) {
			for j, x := range rwExporters {
				t.Run(x.name, func(t *testing.T) {
					t.Parallel()
					r := measureFault(t, fmt.Sprintf("fault%d-%d", i, j), x.config, f.length, f.drain, f.apply)
					report(f.name, rwRow{x.name, r})
				})
			}
		})
	}
}

// measureThroughput offers gateway-shaped load at rate for rwTableLoadWindow to one exporter sending
// through the delay proxy (rtt) to a counting sink or to Prometheus, then waits up to a minute for the
// backlog, and reports rates, delays, the collector's CPU per delivered sample and its peaks.
func measureThroughput(t *testing.T, config string, prom bool, rtt time.Duration, rate int, profiles string) string {
	var c *rwCounter
	if prom {
		c = newRWCounter(t, gwMetric, startPrometheus(t, 0))
		c.keyed = false
	} else {
		c = newRWCountingSink(t, gwMetric)
	}
	c.delay = rtt
	env := rwTableEnv(t, c.url())
	load := loadAverages(t)
	proc, otlp := collector(t, config, env)
	stopPeaks := peaks(t, proc.Pid(), env["WAL_DIR"])
	var waitProfiles func()
	if profiles != "" {
		prefix := filepath.Join(profiles, strings.ReplaceAll(t.Name(), "/", "_"))
		waitProfiles = profileWindow(t, "127.0.0.1:"+env["PPROF_PORT"], prefix)
	}
	cpu0, _ := procStat(t, proc.Pid())
	self0, _ := procStat(t, os.Getpid())
	var g gwLoad
	ctx, cancel := context.WithTimeout(context.Background(), rwTableLoadWindow)
	start := time.Now()
	g.run(ctx, t, otlp, rate)
	cancel()
	window := time.Since(start)
	inWindow := c.acknowledged()
	cpu1, _ := procStat(t, proc.Pid())
	self1, _ := procStat(t, os.Getpid())
	for deadline := time.Now().Add(time.Minute); c.acknowledged() < g.acked.Load() && time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
	}
	drained := time.Since(start)
	cpu2, _ := procStat(t, proc.Pid())
	if waitProfiles != nil {
		waitProfiles()
	}
	rss, wal := stopPeaks()
	p99, _ := c.delayQuantile(0.99)
	p50, _ := c.delayQuantile(0.5)
	delivered := c.acknowledged()
	perSample := time.Duration(float64(cpu2-cpu0) / float64(max(delivered, 1)))
	if err := proc.Stop(30 * time.Second); err != nil {
		t.Logf("%s: %v", config, err)
	}
	return fmt.Sprintf("acknowledged %.0f/s (refused %d); delivered %.0f/s during the %s window; %d of %d delivered %s after the start; delay p50 %s p99 %s; "+
		"collector CPU %.0f%% in the window, %.1f µs per delivered sample (start to drained: %.0fk samples/s per core); generator+sink CPU %.0f%%; peak RSS %.0f MiB, WAL %.0f MiB; load average %s",
		float64(g.acked.Load())/window.Seconds(), g.refused.Load(), float64(inWindow)/window.Seconds(), window.Round(time.Second),
		delivered, g.acked.Load(), drained.Round(time.Second), p50, p99,
		100*float64(cpu1-cpu0)/float64(window), float64(perSample)/float64(time.Microsecond), float64(time.Second)/float64(max(perSample, 1))/1000,
		100*float64(self1-self0)/float64(window), rss, wal, load)
}

// profileWindow takes a CPU profile of the collector (pprof extension at addr) and of this test process
// (the generator and the sink) over rwTableLoadWindow, written to prefix.collector.cpu.pb.gz and
// prefix.test.cpu.pb.gz; the returned function waits for both.
func profileWindow(t *testing.T, addr, prefix string) (wait func()) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(prefix), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(prefix + ".test.cpu.pb.gz")
	if err != nil {
		t.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		fetchProfile(t, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, int(rwTableLoadWindow.Seconds())), prefix+".collector.cpu.pb.gz")
	})
	wg.Go(func() {
		time.Sleep(rwTableLoadWindow)
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			t.Error(err)
		}
	})
	return wg.Wait
}

// sampleOf is the value of a sample of the series whose label name = value, if the request holds one.
func sampleOf(series []prompb.TimeSeries, name, value string) (float64, bool) {
	for _, ts := range series {
		for _, l := range ts.Labels {
			if l.Name == name && l.Value == value && len(ts.Samples) > 0 {
				return ts.Samples[0].Value, true
			}
		}
	}
	return 0, false
}

// hasSample: the request holds the seqSender sample with value v of the series whose label name = value.
func hasSample(series []prompb.TimeSeries, name, value string, v float64) bool {
	for _, ts := range series {
		for _, l := range ts.Labels {
			if l.Name == name && l.Value == value {
				for _, s := range ts.Samples {
					if s.Value == v {
						return true
					}
				}
			}
		}
	}
	return false
}

// measureFault runs one exporter through one fault with seqSender's series counted exactly, and waits up to
// drain after the fault for every acknowledged e2e_seq sample in Prometheus (the last of them were appended
// to the WAL after the whole backlog, so their arrival is when the backlog is through).
func measureFault(t *testing.T, run, config string, length, drain time.Duration, apply func(*rwCounter, *prometheusServer, *testing.T) func()) string {
	prom := startPrometheus(t, 0)
	c := newRWCounter(t, "e2e_seq", prom)
	env := rwTableEnv(t, c.url())
	load := loadAverages(t)
	proc, otlp := collector(t, config, env)
	stopHB := heartbeat(t, otlp, "hb-"+run) // the contrib WAL ships its tail only on a next write
	defer stopHB()
	stopPeaks := peaks(t, proc.Pid(), env["WAL_DIR"])
	ctx, cancel := context.WithCancel(context.Background())
	var g gwLoad
	loadDone := make(chan struct{})
	go func() { defer close(loadDone); g.run(ctx, t, otlp, 5000) }()
	s := newSeqSender(t, otlp, run, shards)
	sent := make(chan []error)
	go func() { sent <- s.sendFor(context.Background(), 10*time.Second+length+10*time.Second, tickInterval) }()
	time.Sleep(10 * time.Second)
	restore := apply(c, prom, t)
	time.Sleep(length)
	walAtEnd := float64(dirBytes(env["WAL_DIR"])) / (1 << 20)
	ackedAtEnd := g.acked.Load()
	restore()
	restored := time.Now()
	for _, err := range <-sent {
		t.Logf("%s sender: %v", run, err)
	}
	cancel()
	<-loadDone
	d := account(t, prom, c, s, time.Until(restored.Add(drain)))
	after := "all delivered " + time.Since(restored).Round(time.Second).String() + " after the fault ended"
	if d.received < d.acked {
		after = fmt.Sprintf("%d not delivered %s after the fault ended (gave up)", d.acked-d.received, drain)
	}
	rss, wal := stopPeaks()
	st := c.statusCounts()
	return fmt.Sprintf("lost %d of %d, %d duplicates, %d in refused requests; %s; status codes %v; peak RSS %.0f MiB, peak WAL %.0f MiB "+
		"(%.0f MiB when the fault ended, %d gateway samples acknowledged by then: %.1f bytes per sample); gateway load 5k points/s alongside, %d acknowledged; load average %s",
		d.lost, d.acked, d.duplicated, c.refusedSamples(s.run), after, st, rss, wal,
		walAtEnd, ackedAtEnd, walAtEnd*(1<<20)/float64(max(ackedAtEnd, 1)), g.acked.Load(), load)
}

func joinLines(lines []string) string {
	out := ""
	for _, l := range lines {
		out += l + "\n"
	}
	return out
}
