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

	"github.com/otelcol-sre/otelcol-sre/internal/testcluster"
)

const (
	loadPods             = 10
	loadPointsPerPod     = 50
	loadPointsPerRequest = loadPods * loadPointsPerPod // a gateway receives batches from agents, not single points
	loadStep             = 20 * time.Second
	loadDrain            = 10 * time.Second
)

// rwSink accepts remote write and counts the samples of load_requests; it never fails.
type rwSink struct{ samples atomic.Int64 }

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
	cpuPercent, rssMiB float64
	sustained          bool
}

// drive sends rate points/s for loadStep in requests of loadPointsPerRequest points and reports what
// the sink received within loadDrain after the end.
func drive(t *testing.T, client pmetricotlp.GRPCClient, pid int, sink *rwSink, ns string, rate int, epoch *int64) loadResult {
	t.Helper()
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
	*epoch++
	req := pmetricotlp.NewExportRequestFromMetrics(loadRequest(ns, *epoch))
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
	res.sentRate = float64(res.sent+res.refused) / elapsed.Seconds()
	deadline := time.Now().Add(loadDrain)
	for time.Now().Before(deadline) && sink.samples.Load()-base < res.sent {
		time.Sleep(100 * time.Millisecond)
	}
	res.received = sink.samples.Load() - base
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

// TestLoadGatewayRemoteWrite finds the sustainable OTLP -> remote-write data-point rate of the gateway-shaped
// pipeline, without and with our processors (k8spoddiagnostics diagnosing the sending pods, slo computing an
// SLO grouped by pod over every point) (rates doubling from 5k points/s until one is not sustained: refusals, the generator falling
// behind, or points missing at the sink) and the collector's CPU % and RSS at 10k points/s. It needs a quiet
// machine and minutes, so it runs only with OTELCOL_SRE_LOAD=1; the table it logs goes into deploy/README.md.
func TestLoadGatewayRemoteWrite(t *testing.T) {
	if os.Getenv("OTELCOL_SRE_LOAD") != "1" {
		t.Skip("load test: set OTELCOL_SRE_LOAD=1 (takes minutes, wants a quiet machine)")
	}
	// The pods k8spoddiagnostics diagnoses: created in the test control plane, Pending (no kubelet runs).
	cluster := testcluster.Start(t)
	ns := cluster.Namespace(t)
	for p := range loadPods {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "load-" + strconv.Itoa(p)},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/load:1"}}}}
		if _, err := cluster.Client().CoreV1().Pods(ns).Create(t.Context(), pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	pipelines := []struct{ name, processors string }{
		{"memory_limiter, batch", "[memory_limiter, batch]"},
		{"memory_limiter, k8spoddiagnostics, batch", "[memory_limiter, k8spoddiagnostics, batch]"},
		{"memory_limiter, slo, batch", "[memory_limiter, slo, batch]"},
		{"memory_limiter, k8spoddiagnostics, slo, batch", "[memory_limiter, k8spoddiagnostics, slo, batch]"},
	}
	var table []string
	table = append(table, "| pipeline | sustained points/s | CPU % at 10k points/s | RSS MiB at 10k points/s | CPU % at the sustained rate | first unsustained step |", "|---|---|---|---|---|---|")
	for _, pl := range pipelines {
		cfg := pl.name
		sink := &rwSink{}
		srv := httptest.NewServer(sink)
		proc, otlp := collector(t, "gateway-load.yaml", map[string]string{"RW_ENDPOINT": srv.URL + "/api/v1/write",
			"LOAD_PROCESSORS": pl.processors, "KUBECONFIG": cluster.AdminKubeconfig(), "POD_NAMESPACE": ns})
		conn, err := grpc.NewClient(otlp, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		client := pmetricotlp.NewGRPCClient(conn)
		var epoch int64
		at10k := drive(t, client, proc.Pid(), sink, ns, 10000, &epoch)
		t.Logf("%s 10k: %+v", cfg, at10k)
		best, failed := loadResult{}, "none up to 640k"
		if at10k.sustained {
			best = at10k
		}
		try := func(rate int) bool {
			r := drive(t, client, proc.Pid(), sink, ns, rate, &epoch)
			t.Logf("%s %dk: %+v", cfg, rate/1000, r)
			if !r.sustained {
				failed = fmt.Sprintf("%dk: generator reached %.0f/s, refused %d, %d of %d points at the sink", rate/1000, r.sentRate, r.refused, r.received, r.sent)
				return false
			}
			best = r
			return true
		}
		// Double until a rate is not sustained, then bisect twice between the last good and the first bad.
		hi := 0
		for rate := 20000; at10k.sustained && rate <= 640000; rate *= 2 {
			if !try(rate) {
				hi = rate
				break
			}
		}
		for range 2 {
			if hi == 0 || best.rate == 0 {
				break
			}
			mid := (best.rate + hi) / 2 / 5000 * 5000
			if mid <= best.rate {
				break
			}
			if !try(mid) {
				hi = mid
			}
		}
		table = append(table, fmt.Sprintf("| %s | %d | %.0f | %.0f | %.0f | %s |", cfg, best.rate, at10k.cpuPercent, at10k.rssMiB, best.cpuPercent, failed))
		conn.Close()
		if err := proc.Stop(30 * time.Second); err != nil {
			t.Errorf("%s: %v", cfg, err)
		}
		srv.Close()
	}
	t.Logf("load table (%d points per OTLP request, %s per step, 2-core shared machine):\n%s",
		loadPointsPerRequest, loadStep, strings.Join(table, "\n"))
}
