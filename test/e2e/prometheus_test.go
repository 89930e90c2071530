// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/otelcol-sre/otelcol-sre/internal/collectortest"
	"github.com/otelcol-sre/otelcol-sre/internal/testenv"
)

// prometheusServer is Debian's prometheus with the remote-write receiver on, listening on 127.0.0.1 only,
// no scrape targets, storage in a test directory. It can be stopped and started again on the same port and
// storage to model a backend outage.
type prometheusServer struct {
	t       *testing.T
	port    int
	dataDir string
	config  string
	cmd     *exec.Cmd
	done    chan struct{}
}

// startPrometheus starts Prometheus; oooWindow > 0 enables out-of-order ingestion for that window (what a
// replaying write-ahead log needs from its backend, see TestCollectorSIGKILLReplaysWAL).
func startPrometheus(t *testing.T, oooWindow time.Duration) *prometheusServer {
	t.Helper()
	cfg := "global:\n  scrape_interval: 1m\n"
	if oooWindow > 0 {
		cfg += fmt.Sprintf("storage:\n  tsdb:\n    out_of_order_time_window: %s\n", oooWindow)
	}
	return launchPrometheus(t, cfg)
}

// startPrometheusWithRules starts Prometheus evaluating the rule files (as AMP's ruler evaluates a
// RuleGroupsNamespace) every evalInterval.
func startPrometheusWithRules(t *testing.T, evalInterval time.Duration, ruleFiles ...string) *prometheusServer {
	t.Helper()
	cfg := fmt.Sprintf("global:\n  scrape_interval: 1m\n  evaluation_interval: %s\nrule_files:\n", evalInterval)
	for _, f := range ruleFiles {
		abs, err := filepath.Abs(f)
		if err != nil {
			t.Fatal(err)
		}
		cfg += fmt.Sprintf("  - %q\n", abs)
	}
	return launchPrometheus(t, cfg)
}

func launchPrometheus(t *testing.T, cfg string) *prometheusServer {
	t.Helper()
	testenv.LookPath(t, "/usr/bin/prometheus", "prometheus")
	dir := t.TempDir()
	p := &prometheusServer{t: t, port: collectortest.FreePort(t), dataDir: filepath.Join(dir, "data"),
		config: filepath.Join(dir, "prometheus.yml")}
	if err := os.WriteFile(p.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	p.start()
	t.Cleanup(p.stop)
	return p
}

func (p *prometheusServer) url() string { return "http://127.0.0.1:" + strconv.Itoa(p.port) }

func (p *prometheusServer) start() {
	p.t.Helper()
	p.cmd = exec.Command("/usr/bin/prometheus",
		"--config.file="+p.config,
		"--storage.tsdb.path="+p.dataDir,
		"--web.listen-address=127.0.0.1:"+strconv.Itoa(p.port),
		"--web.enable-remote-write-receiver",
		"--log.level=warn")
	out, err := os.Create(filepath.Join(filepath.Dir(p.config), "prometheus.log"))
	if err != nil {
		p.t.Fatal(err)
	}
	p.cmd.Stdout, p.cmd.Stderr = out, out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		p.t.Fatalf("starting prometheus: %v", err)
	}
	p.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); out.Close(); close(done) }(p.cmd, p.done)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(p.url() + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-p.done:
			log, _ := os.ReadFile(filepath.Join(filepath.Dir(p.config), "prometheus.log"))
			p.t.Fatalf("prometheus exited during start-up:\n%s", log)
		case <-time.After(100 * time.Millisecond):
		}
	}
	p.t.Fatalf("prometheus not ready at %s after 60s", p.url())
}

// stop ends Prometheus with SIGTERM (it flushes its head) and waits.
func (p *prometheusServer) stop() {
	if p.cmd == nil {
		return
	}
	select {
	case <-p.done:
	default:
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
	}
	p.cmd = nil
}

type promSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

// query runs an instant PromQL query now and returns the vector.
func (p *prometheusServer) query(t *testing.T, q string) []promSample {
	t.Helper()
	return p.queryAt(t, q, time.Time{})
}

// queryAt runs an instant PromQL query evaluated at `at` (now when zero) and returns the vector.
func (p *prometheusServer) queryAt(t *testing.T, q string, at time.Time) []promSample {
	t.Helper()
	params := url.Values{"query": {q}}
	if !at.IsZero() {
		params.Set("time", strconv.FormatFloat(float64(at.UnixNano())/1e9, 'f', 3, 64))
	}
	resp, err := http.Get(p.url() + "/api/v1/query?" + params.Encode())
	if err != nil {
		t.Fatalf("query %s: %v", q, err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string       `json:"resultType"`
			Result     []promSample `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("query %s: decoding: %v", q, err)
	}
	if body.Status != "success" {
		t.Fatalf("query %s: %s", q, body.Error)
	}
	return body.Data.Result
}

// scalar runs q, which must yield at most one sample, and returns its value (0 for an empty result).
func (p *prometheusServer) scalar(t *testing.T, q string) float64 {
	t.Helper()
	res := p.query(t, q)
	switch len(res) {
	case 0:
		return 0
	case 1:
		v, err := strconv.ParseFloat(res[0].Value[1].(string), 64)
		if err != nil {
			t.Fatalf("query %s: value %v: %v", q, res[0].Value[1], err)
		}
		return v
	default:
		t.Fatalf("query %s: %d series, want one", q, len(res))
		return 0
	}
}

// waitScalar polls q until it equals want or timeout passes, and returns the last value.
func (p *prometheusServer) waitScalar(t *testing.T, q string, want float64, timeout time.Duration) float64 {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := p.scalar(t, q)
		if got == want || time.Now().After(deadline) {
			return got
		}
		time.Sleep(250 * time.Millisecond)
	}
}
