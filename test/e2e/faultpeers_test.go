// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"google.golang.org/grpc"
	_ "google.golang.org/grpc/encoding/gzip" // the otlp exporter's default compression
	"gopkg.in/yaml.v3"

	"github.com/otelcol-sre/otelcol-sre/internal/collectortest"
)

// otlpSink is the counting end of the fault table (the gateway's downstream): an OTLP/gRPC server on a fixed
// loopback port that acknowledges metrics and logs and counts every copy of each e2e.seq data point, by run,
// shard and tick, and of each log line, by run and sequence number (`run=<run> seq=<n>` in the body).
type otlpSink struct {
	pmetricotlp.UnimplementedGRPCServer
	logs logSink
	port int

	serving
	mu     sync.Mutex
	points map[string]map[[2]int]int // run → (shard, tick) → copies
}

// serving holds how to stop what a test server currently serves, so it can go down and come back.
type serving struct {
	mu   sync.Mutex
	stop func()
}

func (s *serving) started(stop func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stop = stop
}

// down stops serving (connection refused from now on); it does nothing when already down.
func (s *serving) down() {
	s.mu.Lock()
	stop := s.stop
	s.stop = nil
	s.mu.Unlock()
	if stop != nil {
		stop()
	}
}

type logSink struct {
	plogotlp.UnimplementedGRPCServer
	lines *lineCounter
}

func newOTLPSink(t *testing.T) *otlpSink {
	t.Helper()
	s := &otlpSink{points: map[string]map[[2]int]int{}, logs: logSink{lines: newLineCounter()}}
	s.serve(listenLoopback(t, 0))
	t.Cleanup(s.down)
	return s
}

// listenLoopback listens on 127.0.0.1:port; port 0 picks a free one, kept by the caller for restarts (a
// port reserved by closing it first could be taken by a parallel test meanwhile).
func listenLoopback(t *testing.T, port int) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	return l
}

func (s *otlpSink) endpoint() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

func (s *otlpSink) serve(l net.Listener) {
	s.port = l.Addr().(*net.TCPAddr).Port
	srv := grpc.NewServer()
	pmetricotlp.RegisterGRPCServer(srv, s)
	plogotlp.RegisterGRPCServer(srv, &s.logs)
	go func() { _ = srv.Serve(l) }()
	s.started(srv.Stop)
}

func (s *otlpSink) Export(_ context.Context, req pmetricotlp.ExportRequest) (pmetricotlp.ExportResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rms := req.Metrics().ResourceMetrics()
	for i := range rms.Len() {
		sms := rms.At(i).ScopeMetrics()
		for j := range sms.Len() {
			ms := sms.At(j).Metrics()
			for k := range ms.Len() {
				if m := ms.At(k); m.Name() == "e2e.seq" {
					dps := m.Gauge().DataPoints()
					for d := range dps.Len() {
						dp := dps.At(d)
						run, _ := dp.Attributes().Get("run")
						shard, _ := dp.Attributes().Get("shard")
						n, _ := strconv.Atoi(shard.Str())
						if s.points[run.Str()] == nil {
							s.points[run.Str()] = map[[2]int]int{}
						}
						s.points[run.Str()][[2]int{n, int(dp.DoubleValue())}]++
					}
				}
			}
		}
	}
	return pmetricotlp.NewExportResponse(), nil
}

func (l *logSink) Export(_ context.Context, req plogotlp.ExportRequest) (plogotlp.ExportResponse, error) {
	rls := req.Logs().ResourceLogs()
	for i := range rls.Len() {
		sls := rls.At(i).ScopeLogs()
		for j := range sls.Len() {
			lrs := sls.At(j).LogRecords()
			for k := range lrs.Len() {
				l.lines.count(lrs.At(k).Body().AsString())
			}
		}
	}
	return plogotlp.NewExportResponse(), nil
}

// pointTally is what the sink holds of run's acknowledged ticks: the distinct (shard, tick) points and the
// extra copies of them.
func (s *otlpSink) pointTally(run string, acked []int, shards int) (distinct, duplicated int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, tick := range acked {
		for shard := range shards {
			if n := s.points[run][[2]int{shard, tick}]; n > 0 {
				distinct++
				duplicated += n - 1
			}
		}
	}
	return distinct, duplicated
}

// lineCounter counts copies of log lines `run=<run> seq=<n>` found anywhere in a message (an OTLP body, a
// CloudWatch Logs event's JSON).
type lineCounter struct {
	mu    sync.Mutex
	lines map[string]map[int]int
}

var lineSeq = regexp.MustCompile(`run=([\w.-]+) seq=(\d+)`)

func newLineCounter() *lineCounter { return &lineCounter{lines: map[string]map[int]int{}} }

func (c *lineCounter) count(message string) {
	m := lineSeq.FindStringSubmatch(message)
	if m == nil {
		return
	}
	n, _ := strconv.Atoi(m[2])
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lines[m[1]] == nil {
		c.lines[m[1]] = map[int]int{}
	}
	c.lines[m[1]][n]++
}

// tally is how many of lines 0..sent-1 of run arrived and how many extra copies arrived.
func (c *lineCounter) tally(run string, sent int) (distinct, duplicated int) {
	distinct, duplicated, _ = c.tallyMissing(run, sent)
	return distinct, duplicated
}

// tallyMissing is tally plus the sequence numbers that never arrived.
func (c *lineCounter) tallyMissing(run string, sent int) (distinct, duplicated int, missing []int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for seq := range sent {
		if n := c.lines[run][seq]; n > 0 {
			distinct++
			duplicated += n - 1
		} else {
			missing = append(missing, seq)
		}
	}
	return distinct, duplicated, missing
}

// podLog appends numbered lines to a container log file in the CRI format the kubelet writes
// (<dir>/<namespace>_<pod>_<uid>/<container>/0.log), the file the agent's file_log reads.
type podLog struct {
	run  string
	path string

	mu   sync.Mutex
	sent int
}

func newPodLog(t *testing.T, dir, run string) *podLog {
	t.Helper()
	p := filepath.Join(dir, "e2e_"+strings.ReplaceAll(run, "_", "-")+"_0123456789abcdef0123456789abcdef", "app", "0.log")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	// Created empty before the agent starts: file_log (start_at: end) then reads every line appended later.
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return &podLog{run: run, path: p}
}

// writeFor appends one line every interval until d passes or ctx ends.
func (l *podLog) writeFor(ctx context.Context, t *testing.T, d, interval time.Duration) {
	f, err := os.OpenFile(l.path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Error(err)
		return
	}
	defer f.Close()
	for end := time.Now().Add(d); time.Now().Before(end) && ctx.Err() == nil; time.Sleep(interval) {
		l.mu.Lock()
		line := fmt.Sprintf("%s stdout F run=%s seq=%d\n", time.Now().UTC().Format(time.RFC3339Nano), l.run, l.sent)
		if _, err := f.WriteString(line); err != nil {
			l.mu.Unlock()
			t.Error(err)
			return
		}
		l.sent++
		l.mu.Unlock()
	}
}

func (l *podLog) written() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sent
}

// deployFragment writes the named sections of a deploy/configs file (paths like "exporters::otlp_grpc/gateway")
// into a config file of their own, so a test runs exactly what deploy ships for them; the test's own config,
// loaded after it, adds receivers, pipelines and loopback endpoints. A path starting with "-" removes that
// key from what was taken (e.g. a DNS resolver the test replaces: merging cannot delete a key).
func deployFragment(t *testing.T, file string, paths ...string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(collectortest.RepoRoot(), "deploy", "configs", file))
	if err != nil {
		t.Fatal(err)
	}
	var src map[string]any
	if err := yaml.Unmarshal(b, &src); err != nil {
		t.Fatal(err)
	}
	out := map[string]any{}
	for _, p := range paths {
		if drop, ok := strings.CutPrefix(p, "-"); ok {
			keys := strings.Split(drop, "::")
			m := out
			for _, k := range keys[:len(keys)-1] {
				m, _ = m[k].(map[string]any)
			}
			if _, ok := m[keys[len(keys)-1]]; !ok {
				t.Fatalf("%s: nothing to remove at %s", file, drop)
			}
			delete(m, keys[len(keys)-1])
			continue
		}
		keys := strings.Split(p, "::")
		from, to := src, out
		for i, k := range keys {
			v, ok := from[k]
			if !ok {
				t.Fatalf("deploy/configs/%s has no %s", file, p)
			}
			if i == len(keys)-1 {
				to[k] = v
				break
			}
			if to[k] == nil {
				to[k] = map[string]any{}
			}
			from, to = v.(map[string]any), to[k].(map[string]any)
		}
	}
	b, err = yaml.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "deploy-"+file)
	if err := os.WriteFile(f, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// loopbackHTTP serves a handler on a fixed loopback port that can go down (connection refused, like a dead
// endpoint) and come back on the same port.
type loopbackHTTP struct {
	serving
	handler http.Handler
	port    int
}

func newLoopbackHTTP(t *testing.T, h http.Handler) *loopbackHTTP {
	t.Helper()
	s := &loopbackHTTP{handler: h}
	s.serve(listenLoopback(t, 0))
	t.Cleanup(s.down)
	return s
}

func (s *loopbackHTTP) url() string { return "http://127.0.0.1:" + strconv.Itoa(s.port) }

// up serves again on the same port.
func (s *loopbackHTTP) up(t *testing.T) { t.Helper(); s.serve(listenLoopback(t, s.port)) }

func (s *loopbackHTTP) serve(l net.Listener) {
	s.port = l.Addr().(*net.TCPAddr).Port
	srv := httptest.NewUnstartedServer(s.handler)
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	s.started(func() { srv.CloseClientConnections(); srv.Close() })
}
