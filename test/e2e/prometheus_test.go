// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/otelcol-sre/otelcol-sre/internal/promtest"
)

// prometheusServer is Debian's prometheus (promtest.Live: the remote-write receiver on, listening on
// 127.0.0.1 only, no scrape targets, storage in a test directory) with the queries these tests make. It can
// be stopped and started again on the same port and storage to model a backend outage.
type prometheusServer struct {
	*promtest.Server
	t *testing.T
}

// startPrometheus starts Prometheus; oooWindow > 0 enables out-of-order ingestion for that window (what a
// replaying write-ahead log needs from its backend, see TestCollectorSIGKILLReplaysWAL).
func startPrometheus(t *testing.T, oooWindow time.Duration) *prometheusServer {
	t.Helper()
	cfg := "global:\n  scrape_interval: 1m\n"
	if oooWindow > 0 {
		cfg += fmt.Sprintf("storage:\n  tsdb:\n    out_of_order_time_window: %s\n", oooWindow)
	}
	return &prometheusServer{promtest.Live(t, cfg), t}
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
	return &prometheusServer{promtest.Live(t, cfg), t}
}

func (p *prometheusServer) url() string { return p.URL }

// start brings a stopped Prometheus back (the end of an outage).
func (p *prometheusServer) start() { p.t.Helper(); p.Restart(p.t) }

// stop ends Prometheus (an outage); it writes its head out first.
func (p *prometheusServer) stop() { p.Stop() }

// query runs an instant PromQL query now.
func (p *prometheusServer) query(t *testing.T, q string) []promtest.Sample {
	t.Helper()
	return p.Query(t, q, time.Now())
}

// scalar runs q, which must yield at most one sample, and returns its value (0 for an empty result).
func (p *prometheusServer) scalar(t *testing.T, q string) float64 {
	t.Helper()
	v, _ := p.Scalar(t, q, time.Now())
	return v
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
