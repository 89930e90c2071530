// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

// Package promtest runs Debian's Prometheus on loopback for tests: over
// samples backfilled with `promtool tsdb create-blocks-from openmetrics`,
// with recording rules evaluated over that history by `promtool tsdb
// create-blocks-from rules` or live by the server itself, answering instant
// queries at any time.
package promtest

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/otelcol-sre/otelcol-sre/internal/testenv"
)

// Server is a Prometheus serving a TSDB directory on loopback.
type Server struct {
	URL    string
	data   string
	dir    string
	config string
	cancel context.CancelFunc
	done   chan struct{}
}

// Start backfills openMetrics (OpenMetrics text ending in "# EOF") into a
// new TSDB and serves it until the test ends. The server evaluates the rules
// of ruleFiles (absolute paths) itself, every second, from its start.
func Start(tb testing.TB, openMetrics string, ruleFiles ...string) *Server {
	tb.Helper()
	promtool := testenv.LookPath(tb, "promtool", "prometheus")
	dir := tb.TempDir()
	om := filepath.Join(dir, "samples.om")
	if err := os.WriteFile(om, []byte(openMetrics), 0o600); err != nil {
		tb.Fatal(err)
	}
	config := "global:\n  scrape_interval: 15s\n  evaluation_interval: 1s\n"
	if len(ruleFiles) > 0 {
		quoted := make([]string, len(ruleFiles))
		for i, f := range ruleFiles {
			quoted[i] = strconv.Quote(f)
		}
		config += "rule_files: [" + strings.Join(quoted, ", ") + "]\n"
	}
	s := &Server{data: filepath.Join(dir, "data"), dir: dir, config: filepath.Join(dir, "prometheus.yml")}
	if err := os.WriteFile(s.config, []byte(config), 0o600); err != nil {
		tb.Fatal(err)
	}
	run(tb, promtool, "tsdb", "create-blocks-from", "openmetrics", "--quiet", om, s.data)
	s.start(tb)
	tb.Cleanup(s.stop)
	return s
}

// BackfillRules evaluates the recording rules of ruleFile over [start, end]
// against the server (each group at its interval, from start), adds the
// recorded series to its TSDB and restarts it so that queries see them.
// Like a ruler, promtool evaluates each group at a phase within its interval
// that is a hash of the group's name and file name.
// Rules that read other recorded series see nothing of them (promtool
// evaluates them all against the data as it was).
func (s *Server) BackfillRules(tb testing.TB, ruleFile string, start, end time.Time) {
	tb.Helper()
	promtool := testenv.LookPath(tb, "promtool", "prometheus")
	out, err := os.MkdirTemp(s.dir, "rules")
	if err != nil {
		tb.Fatal(err)
	}
	// Run in the file's directory: the group's phase within its interval
	// hashes the file name as given, and a temporary directory in it would
	// change the phase from run to run.
	cmd := exec.Command(promtool, "tsdb", "create-blocks-from", "rules", "--url="+s.URL,
		"--start="+strconv.FormatInt(start.Unix(), 10), "--end="+strconv.FormatInt(end.Unix(), 10),
		"--output-dir="+out, filepath.Base(ruleFile))
	cmd.Dir = filepath.Dir(ruleFile)
	if b, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("%v: %v\n%s", cmd.Args, err, b)
	}
	blocks, err := os.ReadDir(out)
	if err != nil {
		tb.Fatal(err)
	}
	s.stop()
	for _, b := range blocks {
		if err := os.Rename(filepath.Join(out, b.Name()), filepath.Join(s.data, b.Name())); err != nil {
			tb.Fatal(err)
		}
	}
	s.start(tb)
}

func run(tb testing.TB, name string, args ...string) {
	tb.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		tb.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

func (s *Server) start(tb testing.TB) {
	tb.Helper()
	prom := testenv.LookPath(tb, "prometheus", "prometheus")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, prom, "--config.file="+s.config, "--storage.tsdb.path="+s.data,
		"--storage.tsdb.retention.time=10y", "--web.listen-address="+addr)
	logPath := filepath.Join(s.dir, "prometheus.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	defer logFile.Close()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		cancel()
		tb.Fatal(err)
	}
	s.URL, s.cancel, s.done = "http://"+addr, cancel, make(chan struct{})
	go func(done chan struct{}) {
		_ = cmd.Wait()
		close(done)
	}(s.done)
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(s.URL + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			logs, _ := os.ReadFile(logPath)
			tb.Fatalf("prometheus did not become ready: %v\n%s", err, logs)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (s *Server) stop() {
	if s.cancel != nil {
		s.cancel()
		<-s.done
		s.cancel = nil
	}
}

// Sample is one series of an instant query's result.
type Sample struct {
	Labels map[string]string
	Value  float64
}

// Query runs an instant query at at and returns its samples; a scalar result
// is one sample without labels.
func (s *Server) Query(tb testing.TB, q string, at time.Time) []Sample {
	tb.Helper()
	v := url.Values{"query": {q}, "time": {strconv.FormatFloat(float64(at.UnixMilli())/1000, 'f', 3, 64)}}
	resp, err := http.Get(s.URL + "/api/v1/query?" + v.Encode())
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		tb.Fatal(err)
	}
	if body.Status != "success" {
		tb.Fatalf("query %s: %s", q, body.Error)
	}
	type sample struct {
		Metric map[string]string `json:"metric"`
		Value  [2]any            `json:"value"`
	}
	var result []sample
	switch body.Data.ResultType {
	case "vector":
		if err := json.Unmarshal(body.Data.Result, &result); err != nil {
			tb.Fatalf("query %s: %v", q, err)
		}
	case "scalar":
		result = []sample{{}}
		if err := json.Unmarshal(body.Data.Result, &result[0].Value); err != nil {
			tb.Fatalf("query %s: %v", q, err)
		}
	default:
		tb.Fatalf("query %s: result type %q, want vector or scalar", q, body.Data.ResultType)
	}
	out := make([]Sample, 0, len(result))
	for _, r := range result {
		str, _ := r.Value[1].(string)
		f, err := strconv.ParseFloat(str, 64)
		if err != nil {
			tb.Fatalf("query %s: value %v: %v", q, r.Value[1], err)
		}
		out = append(out, Sample{Labels: r.Metric, Value: f})
	}
	return out
}

// Scalar runs an instant query expected to return at most one sample: ok is
// false without a sample or for NaN.
func (s *Server) Scalar(tb testing.TB, q string, at time.Time) (float64, bool) {
	tb.Helper()
	res := s.Query(tb, q, at)
	switch len(res) {
	case 0:
		return 0, false
	case 1:
		return res[0].Value, !math.IsNaN(res[0].Value)
	}
	tb.Fatalf("query %s at %v: %d samples, want at most one", q, at, len(res))
	return 0, false
}

// OpenMetricsSample formats one sample line: series (name{labels}), value,
// time in seconds with milliseconds.
func OpenMetricsSample(series string, v float64, at time.Time) string {
	return fmt.Sprintf("%s %g %.3f\n", series, v, float64(at.UnixMilli())/1000)
}
