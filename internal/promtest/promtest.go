// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

// Package promtest runs Debian's Prometheus on loopback for tests, with its
// remote-write receiver on: over samples backfilled with `promtool tsdb
// create-blocks-from openmetrics` (Start), with recording rules evaluated
// over that history by `promtool tsdb create-blocks-from rules` or live by the
// server itself; or empty, for collectors to write into (Live), stopped and
// restarted on the same port and storage to model an outage. It answers
// instant queries at any time.
package promtest

import (
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
	"syscall"
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
	cmd    *exec.Cmd
	done   chan struct{}
}

// newServer prepares a server with config (prometheus.yml's text) and an
// empty storage directory.
func newServer(tb testing.TB, config string) *Server {
	tb.Helper()
	dir := tb.TempDir()
	s := &Server{data: filepath.Join(dir, "data"), dir: dir, config: filepath.Join(dir, "prometheus.yml")}
	if err := os.WriteFile(s.config, []byte(config), 0o600); err != nil {
		tb.Fatal(err)
	}
	return s
}

// Live starts Prometheus over an empty storage with config (prometheus.yml's
// text) until the test ends.
func Live(tb testing.TB, config string) *Server {
	tb.Helper()
	s := newServer(tb, config)
	s.Restart(tb)
	tb.Cleanup(s.Stop)
	return s
}

// Start backfills openMetrics (OpenMetrics text ending in "# EOF") into a
// new TSDB and serves it until the test ends. The server evaluates the rules
// of ruleFiles (absolute paths) itself, every second, from its start.
func Start(tb testing.TB, openMetrics string, ruleFiles ...string) *Server {
	tb.Helper()
	promtool := testenv.LookPath(tb, "promtool", "prometheus")
	config := "global:\n  scrape_interval: 15s\n  evaluation_interval: 1s\n"
	if len(ruleFiles) > 0 {
		quoted := make([]string, len(ruleFiles))
		for i, f := range ruleFiles {
			quoted[i] = strconv.Quote(f)
		}
		config += "rule_files: [" + strings.Join(quoted, ", ") + "]\n"
	}
	s := newServer(tb, config)
	om := filepath.Join(s.dir, "samples.om")
	if err := os.WriteFile(om, []byte(openMetrics), 0o600); err != nil {
		tb.Fatal(err)
	}
	run(tb, promtool, "tsdb", "create-blocks-from", "openmetrics", "--quiet", om, s.data)
	s.Restart(tb)
	tb.Cleanup(s.Stop)
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
	s.Stop()
	for _, b := range blocks {
		if err := os.Rename(filepath.Join(out, b.Name()), filepath.Join(s.data, b.Name())); err != nil {
			tb.Fatal(err)
		}
	}
	s.Restart(tb)
}

func run(tb testing.TB, name string, args ...string) {
	tb.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		tb.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

// LogPath is the file Prometheus logs to (warnings and errors), across restarts.
func (s *Server) LogPath() string { return filepath.Join(s.dir, "prometheus.log") }

// Restart starts the stopped server again on its port and storage (the first
// start picks a free loopback port) and waits until it is ready.
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	prom := testenv.LookPath(tb, "prometheus", "prometheus")
	if s.URL == "" {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		s.URL = "http://" + l.Addr().String()
		l.Close()
	}
	logFile, err := os.OpenFile(s.LogPath(), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(prom, "--config.file="+s.config, "--storage.tsdb.path="+s.data,
		"--storage.tsdb.retention.time=10y", "--web.listen-address="+strings.TrimPrefix(s.URL, "http://"),
		"--web.enable-remote-write-receiver", "--log.level=warn")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		tb.Fatal(err)
	}
	s.cmd, s.done = cmd, make(chan struct{})
	go func(done chan struct{}) {
		_ = cmd.Wait()
		logFile.Close()
		close(done)
	}(s.done)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(s.URL + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-s.done:
			logs, _ := os.ReadFile(s.LogPath())
			tb.Fatalf("prometheus exited during start-up:\n%s", logs)
		case <-time.After(100 * time.Millisecond):
		}
	}
	tb.Fatalf("prometheus not ready at %s after 60s", s.URL)
}

// Stop ends Prometheus with SIGTERM, so that it writes its head out, and
// waits; after 30 s it kills its process group.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	select {
	case <-s.done:
	default:
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(30 * time.Second):
			_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			<-s.done
		}
	}
	s.cmd = nil
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
