// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"
	"go.opentelemetry.io/collector/pdata/pcommon"
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

// gwLoad sends gateway-shaped load at rate points/s until ctx ends. Every request is stamped with the time
// it is sent (so the sink measures delivery delay), from templates built once: the generator shares the
// two cores with the collector and must not be what limits the rate.
type gwLoad struct {
	acked, refused atomic.Int64
}

func (g *gwLoad) run(ctx context.Context, t *testing.T, endpoint string, rate int) {
	const workers = 8
	conn, err := grpc.NewClient(endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := pmetricotlp.NewGRPCClient(conn)
	interval := time.Duration(float64(time.Second) * gwPointsPerReq * workers / float64(rate))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var reqs []pmetric.Metrics
			for i := w; i < gwTemplates; i += workers {
				reqs = append(reqs, gwRequest(i*gwPodsPerRequest))
			}
			next := time.Now()
			for i := 0; ctx.Err() == nil; i++ {
				time.Sleep(time.Until(next))
				next = next.Add(interval)
				md := reqs[i%len(reqs)]
				now := pcommon.NewTimestampFromTime(time.Now())
				rms := md.ResourceMetrics()
				for r := range rms.Len() {
					dps := rms.At(r).ScopeMetrics().At(0).Metrics().At(0).Sum().DataPoints()
					for d := range dps.Len() {
						dps.At(d).SetTimestamp(now)
						dps.At(d).SetIntValue(dps.At(d).IntValue() + 1)
					}
				}
				cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				_, err := client.Export(cctx, pmetricotlp.NewExportRequestFromMetrics(md))
				cancel()
				if err != nil {
					g.refused.Add(gwPointsPerReq)
					continue
				}
				g.acked.Add(gwPointsPerReq)
			}
		}()
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

// TestRemoteWriteTable measures issue 14's table for both remote-write exporters with the built collector:
// a counting sink and Debian's Prometheus behind the loopback delay and fault proxy (rwCounter). It takes
// about 20 minutes and wants a quiet machine, so it runs only with OTELCOL_SRE_LOAD=1 (under
// flock /tmp/otelcol-heavy.lock); the rows it logs go into deploy/README.md. SIGKILL, two senders and
// 1 sample/s are the regular tests TestAgentRemoteWriteSIGKILLRestart, TestCollectorSIGKILLReplaysWAL,
// TestRemoteWriteTwoCollectorsSameSeries and TestAgentRemoteWriteLowVolumeDelay.
func TestRemoteWriteTable(t *testing.T) {
	if os.Getenv("OTELCOL_SRE_LOAD") != "1" {
		t.Skip("measurements: set OTELCOL_SRE_LOAD=1 (about 20 minutes, wants a quiet machine)")
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

	// Throughput rows: one exporter at a time (they would share the two cores).
	type target struct {
		name string
		prom bool
		rtt  time.Duration
		rate int
	}
	for _, tg := range []target{{"50 ms RTT, counting sink, 100k points/s offered", false, 50 * time.Millisecond, 100_000},
		{"20 ms RTT, Prometheus, 50k points/s offered", true, 20 * time.Millisecond, 50_000},
		{"50 ms RTT, Prometheus, 50k points/s offered", true, 50 * time.Millisecond, 50_000}} {
		for _, x := range rwExporters {
			var c *rwCounter
			if tg.prom {
				c = newRWCounter(t, gwMetric, startPrometheus(t, 0))
				c.keyed = false
			} else {
				c = newRWCountingSink(t, gwMetric)
			}
			c.delay = tg.rtt
			env := rwEnv(t, c.url())
			proc, otlp := collector(t, x.config, env)
			stopPeaks := peaks(t, proc.Pid(), env["WAL_DIR"])
			cpu0, _ := procStat(t, proc.Pid())
			var g gwLoad
			ctx, cancel := context.WithTimeout(context.Background(), rwTableLoadWindow)
			start := time.Now()
			g.run(ctx, t, otlp, tg.rate)
			cancel()
			window := time.Since(start)
			inWindow := c.acknowledged()
			cpu1, _ := procStat(t, proc.Pid())
			for deadline := time.Now().Add(30 * time.Second); c.acknowledged() < g.acked.Load() && time.Now().Before(deadline); {
				time.Sleep(200 * time.Millisecond)
			}
			rss, wal := stopPeaks()
			p99, _ := c.delayQuantile(0.99)
			p50, _ := c.delayQuantile(0.5)
			report(tg.name, rwRow{x.name, fmt.Sprintf("acknowledged %.0f/s (refused %d); delivered %.0f/s during the %s window; %d of %d delivered 30 s later; delay p50 %s p99 %s; CPU %.0f%%, peak RSS %.0f MiB, WAL %.0f MiB",
				float64(g.acked.Load())/window.Seconds(), g.refused.Load(), float64(inWindow)/window.Seconds(), window.Round(time.Second),
				c.acknowledged(), g.acked.Load(), p50, p99, 100*float64(cpu1-cpu0)/float64(window), rss, wal)})
			if err := proc.Stop(30 * time.Second); err != nil {
				t.Logf("%s: %v", x.name, err)
			}
		}
	}

	// Fault rows: both exporters at once, each with its own Prometheus and proxy; seqSender's series are
	// counted exactly, gateway load at 5k points/s fills the WAL alongside.
	type fault struct {
		name   string
		length time.Duration
		apply  func(c *rwCounter, prom *prometheusServer, t *testing.T) (restore func())
	}
	faults := []fault{
		{"429 + Retry-After: 10 for 2 min", 2 * time.Minute, func(c *rwCounter, _ *prometheusServer, _ *testing.T) func() {
			c.throttle(2*time.Minute, 10*time.Second)
			return func() {}
		}},
		{"one sample answered 400 every time it is sent", time.Minute, func(c *rwCounter, _ *prometheusServer, _ *testing.T) func() {
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
		{"Prometheus down 5 min", 5 * time.Minute, func(c *rwCounter, prom *prometheusServer, t *testing.T) func() {
			c.down()
			prom.stop()
			return func() { prom.start(); c.up(t) }
		}},
	}
	for i, f := range faults {
		var wg sync.WaitGroup
		for j, x := range rwExporters {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := measureFault(t, fmt.Sprintf("fault%d-%d", i, j), x.config, f.length, f.apply)
				report(f.name, rwRow{x.name, r})
			}()
		}
		wg.Wait()
	}
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

// measureFault runs one exporter through one fault with seqSender's series counted exactly.
func measureFault(t *testing.T, run, config string, length time.Duration, apply func(*rwCounter, *prometheusServer, *testing.T) func()) string {
	prom := startPrometheus(t, 0)
	c := newRWCounter(t, "e2e_seq", prom)
	env := rwEnv(t, c.url())
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
	restore()
	for _, err := range <-sent {
		t.Logf("%s sender: %v", run, err)
	}
	cancel()
	<-loadDone
	recovered := time.Now()
	d := account(t, prom, c, s, 2*time.Minute)
	drained := time.Since(recovered)
	rss, wal := stopPeaks()
	st := c.statusCounts()
	return fmt.Sprintf("lost %d of %d, %d duplicates, %d in refused requests; all delivered %s after the fault (or gave up at 2 min); status codes %v; peak RSS %.0f MiB, peak WAL %.0f MiB (gateway load 5k points/s alongside, %d acknowledged)",
		d.lost, d.acked, d.duplicated, c.refusedSamples(s.run), drained.Round(time.Second), st, rss, wal, g.acked.Load())
}

func joinLines(lines []string) string {
	out := ""
	for _, l := range lines {
		out += l + "\n"
	}
	return out
}
