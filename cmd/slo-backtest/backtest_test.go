// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

var update = flag.Bool("update", false, "regenerate testdata/metrics.jsonl and testdata/expected.jsonl")

var dataStart = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

// generateInput writes 30 minutes of a checkout service as the file exporter
// would: an export every 30 s of a cumulative latency histogram (seconds) and
// request counters by status code, started an hour before. Normally 100
// requests per export, 2 of them slow (25-50 ms); from 12:15 to 12:20, 30
// slow ones and 20 more requests answered with 500. Lines come in arrival
// order, the requests export a little after the latency one, and one
// batch is late. The first requests export has no point (no request yet)
// and the 500 series is born during the incident.
func generateInput(t *testing.T, path string) {
	bounds := []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1}
	procStart := pcommon.NewTimestampFromTime(dataStart.Add(-time.Hour))
	buckets := make([]uint64, len(bounds)+1)
	var ok, failed int64
	m := &pmetric.JSONMarshaler{}
	var lines [][]byte
	for d := time.Duration(0); d <= 30*time.Minute; d += 30 * time.Second {
		incident := d > 15*time.Minute && d <= 20*time.Minute
		if d > 0 {
			slow := uint64(2)
			if incident {
				slow = 30
				failed += 20
			}
			buckets[0] += 100 - slow
			buckets[3] += slow
			ok += 100
		}
		ts := pcommon.NewTimestampFromTime(dataStart.Add(d))

		lat := pmetric.NewMetrics()
		rm := lat.ResourceMetrics().AppendEmpty()
		rm.Resource().Attributes().PutStr("service.name", "checkout")
		sm := rm.ScopeMetrics().AppendEmpty()
		sm.Scope().SetName("go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp")
		h := sm.Metrics().AppendEmpty()
		h.SetName("http.server.request.duration")
		h.SetUnit("s")
		hist := h.SetEmptyHistogram()
		hist.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		dp := hist.DataPoints().AppendEmpty()
		dp.Attributes().PutStr("http.route", "/checkout")
		dp.SetStartTimestamp(procStart)
		dp.SetTimestamp(ts)
		dp.ExplicitBounds().FromRaw(bounds)
		dp.BucketCounts().FromRaw(buckets)
		var count uint64
		for _, c := range buckets {
			count += c
		}
		dp.SetCount(count)
		g := sm.Metrics().AppendEmpty()
		g.SetName("process.runtime.go.goroutines")
		g.SetEmptyGauge().DataPoints().AppendEmpty().SetIntValue(42)
		g.Gauge().DataPoints().At(0).SetTimestamp(ts)

		req := pmetric.NewMetrics()
		rm = req.ResourceMetrics().AppendEmpty()
		rm.Resource().Attributes().PutStr("service.name", "checkout")
		s := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
		s.SetName("http.server.requests")
		sum := s.SetEmptySum()
		sum.SetIsMonotonic(true)
		sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		for _, cv := range [][2]int64{{200, ok}, {500, failed}} { // in a fixed order: -update is reproducible
			code, v := cv[0], cv[1]
			if v == 0 {
				continue // the 500 series is born during the incident
			}
			p := sum.DataPoints().AppendEmpty()
			p.Attributes().PutInt("http.response.status_code", code)
			p.SetStartTimestamp(procStart)
			p.SetTimestamp(ts)
			p.SetIntValue(v)
		}
		for _, md := range []pmetric.Metrics{lat, req} {
			b, err := m.MarshalMetrics(md)
			require.NoError(t, err)
			lines = append(lines, b)
		}
	}
	// A batch that arrived late: the 12:10:00 latency export after 12:11:00.
	late := 2 * 20
	lines[late], lines[late+2], lines[late+4] = lines[late+2], lines[late+4], lines[late]
	require.NoError(t, os.WriteFile(path, append(bytes.Join(lines, []byte("\n")), '\n'), 0o600))
}

func runCLI(t *testing.T, args ...string) (string, string, error) {
	var stdout, stderr bytes.Buffer
	err := run(args, &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

func TestGolden(t *testing.T) {
	input := filepath.Join("testdata", "metrics.jsonl")
	expected := filepath.Join("testdata", "expected.jsonl")
	if *update {
		generateInput(t, input)
	}
	out, summary, err := runCLI(t, "--config", "testdata/slo.yaml", "--input", input, "-o", "json")
	require.NoError(t, err)
	if *update {
		require.NoError(t, os.WriteFile(expected, []byte(out), 0o600))
	}
	want, err := os.ReadFile(expected)
	require.NoError(t, err)
	assert.Equal(t, string(want), out)
	assert.Equal(t, "data 2026-03-10T12:00:00Z .. 2026-03-10T12:30:00Z, 121 batches, 6 evaluations; indicator points counted: 181, dropped: none\n", summary)
}

func decode(t *testing.T, out string) []point {
	var pts []point
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var p point
		require.NoError(t, json.Unmarshal([]byte(line), &p))
		pts = append(pts, p)
	}
	return pts
}

func value(pts []point, at, metric, slo, window string) (float64, bool) {
	for _, p := range pts {
		if p.Time == at && p.Metric == metric && p.Attributes["slo.name"] == slo && p.Attributes["slo.window"] == window {
			return p.Value, true
		}
	}
	return 0, false
}

func alert(pts []point, at, slo, severity string) float64 {
	for _, p := range pts {
		if p.Time == at && p.Metric == "slo.alert.state" && p.Attributes["slo.name"] == slo && p.Attributes["slo.alert.severity"] == severity {
			return p.Value
		}
	}
	return -1
}

func TestIncidentAt(t *testing.T) {
	out, _, err := runCLI(t, "--config", "testdata/slo.yaml", "--input", "testdata/metrics.jsonl",
		"--at", "2026-03-10T12:20:00Z, 2026-03-10T12:10:00Z", "-o", "json")
	require.NoError(t, err)
	pts := decode(t, out)
	const incident, before = "2026-03-10T12:20:00Z", "2026-03-10T12:10:00Z"

	// The 5m window at 12:20 holds the exports of 12:16:00 .. 12:20:00,
	// all in the incident: 70 of 100 fast, 100 of 120 succeeded.
	v, ok := value(pts, incident, "slo.sli", "checkout-latency", "5m")
	require.True(t, ok)
	assert.InDelta(t, 0.7, v, 1e-12)
	v, _ = value(pts, incident, "slo.sli", "checkout-availability", "5m")
	assert.InDelta(t, 100.0/120, v, 1e-12)
	v, _ = value(pts, incident, "slo.burn_rate", "checkout-latency", "5m")
	assert.InDelta(t, 30, v, 1e-9)
	// 9% bad over the last 30m and 1h (10 incident exports of 40): the
	// ticket rule (3x over 1h and 5m) fires, the page rule (14.4x over 30m
	// and 5m) does not.
	assert.Equal(t, 0.0, alert(pts, incident, "checkout-latency", "page"))
	assert.Equal(t, 1.0, alert(pts, incident, "checkout-latency", "ticket"))

	// Before the incident: 98% fast, no error; the first export was the
	// baseline.
	v, _ = value(pts, before, "slo.sli", "checkout-latency", "30m")
	assert.InDelta(t, 0.98, v, 1e-12)
	v, _ = value(pts, before, "slo.sli", "checkout-availability", "week")
	assert.Equal(t, 1.0, v)
	v, _ = value(pts, before, "slo.window.coverage", "checkout-latency", "1h")
	assert.InDelta(t, 10.0/60, v, 1e-12)
	assert.Equal(t, 0.0, alert(pts, before, "checkout-latency", "ticket"))
	assert.Equal(t, before, pts[0].Time, "evaluations in time order")
}

func TestTable(t *testing.T) {
	out, _, err := runCLI(t, "--config", "testdata/slo.yaml", "--input", "testdata/metrics.jsonl", "--at", "2026-03-10T12:20:00Z")
	require.NoError(t, err)
	lines := strings.Split(out, "\n")
	assert.Regexp(t, `^TIME\s+SLO\s+METRIC\s+WINDOW\s+VALUE\s+OTHER ATTRIBUTES$`, lines[0])
	assert.Contains(t, out, "checkout-latency       slo.sli")
	assert.Regexp(t, `2026-03-10T12:20:00Z\s+checkout-latency\s+slo.sli\s+5m\s+0.7\s+slo.service=checkout`, out)
	assert.Regexp(t, `slo.events\s+-\s+\d+\s+slo.outcome=bad,slo.service=checkout`, out)
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	badConfig := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(badConfig, []byte("slos:\n  - name: x\n    objective: {target: 99}\n    time_window: {duration: 30d}\n    indicator: {ratio: {total: {metric: a}, good: {metric: b}}}\n"), 0o600))
	badInput := filepath.Join(dir, "bad.jsonl")
	require.NoError(t, os.WriteFile(badInput, []byte("{\"resourceMetrics\":[]}\nnot json\n"), 0o600))
	empty := filepath.Join(dir, "empty.jsonl")
	require.NoError(t, os.WriteFile(empty, []byte("\n"), 0o600))
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"missing flags", nil, "--config and --input are required"},
		{"unknown output", []string{"--config", "a", "--input", "b", "-o", "yaml"}, `-o: want json or table, got "yaml"`},
		{"bad --at", []string{"--config", "a", "--input", "b", "--at", "yesterday"}, `--at: "yesterday" is not an RFC 3339 time`},
		{"missing config", []string{"--config", filepath.Join(dir, "none.yaml"), "--input", badInput}, "reading the config"},
		{"invalid config names the field", []string{"--config", badConfig, "--input", badInput},
			`slo "x": slos[0].objective.target: must be in (0,1), got 99 — did you mean 0.99?`},
		{"bad input line", []string{"--config", "testdata/slo.yaml", "--input", badInput}, "bad.jsonl:2: not OTLP JSON metrics"},
		{"input without points", []string{"--config", "testdata/slo.yaml", "--input", empty}, "holds no metric data points"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := runCLI(t, tt.args...)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestEvaluationTimes(t *testing.T) {
	got := evaluationTimes(dataStart.Add(10*time.Second), dataStart.Add(10*time.Minute), 5*time.Minute)
	assert.Equal(t, []time.Time{dataStart.Add(5 * time.Minute), dataStart.Add(10 * time.Minute)}, got)
}
