// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"bufio"
	"bytes"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/otelcol-sre/otelcol-sre/internal/collectortest"
)

// TestStatsDToOTLP: StatsD lines over UDP (a tagged counter sent three times, a gauge, a timer) to the statsd
// receiver as the agent runs it; after one aggregation interval the counter is one sum of 6 with its tag as an
// attribute, the gauge its last value.
func TestStatsDToOTLP(t *testing.T) {
	out := filepath.Join(t.TempDir(), "metrics.json")
	statsdPort, healthPort := collectortest.FreePort(t), collectortest.Port(collectortest.FreePort(t))
	proc := collectortest.Start(t, filepath.Join("testdata", "statsd.yaml"), map[string]string{
		"HEALTH_PORT": healthPort, "STATSD_PORT": collectortest.Port(statsdPort), "OUT_FILE": out,
	}, "http://127.0.0.1:"+healthPort+"/")
	conn, err := net.Dial("udp", "127.0.0.1:"+collectortest.Port(statsdPort))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, line := range []string{"checkout.requests:1|c|#env:prod", "checkout.requests:2|c|#env:prod", "checkout.requests:3|c|#env:prod",
		"checkout.queue_depth:7|g", "checkout.queue_depth:4|g", "checkout.latency:120|ms"} {
		if _, err := conn.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	var sum, gauge float64
	var env string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline) && (sum == 0 || gauge == 0); time.Sleep(200 * time.Millisecond) {
		b, _ := os.ReadFile(out)
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			md, err := (&pmetric.JSONUnmarshaler{}).UnmarshalMetrics(sc.Bytes())
			if err != nil {
				t.Fatalf("file exporter line: %v", err)
			}
			for _, rm := range md.ResourceMetrics().All() {
				for _, sm := range rm.ScopeMetrics().All() {
					for _, m := range sm.Metrics().All() {
						switch {
						case m.Name() == "checkout.requests" && m.Type() == pmetric.MetricTypeSum && m.Sum().DataPoints().Len() > 0:
							dp := m.Sum().DataPoints().At(0)
							sum = float64(dp.IntValue()) + dp.DoubleValue()
							if v, ok := dp.Attributes().Get("env"); ok {
								env = v.Str()
							}
						case m.Name() == "checkout.queue_depth" && m.Type() == pmetric.MetricTypeGauge && m.Gauge().DataPoints().Len() > 0:
							dp := m.Gauge().DataPoints().At(0)
							gauge = float64(dp.IntValue()) + dp.DoubleValue()
						}
					}
				}
			}
		}
	}
	if sum != 6 || env != "prod" || gauge != 4 {
		t.Errorf("checkout.requests = %v (env %q), checkout.queue_depth = %v; want 6 (prod) and 4\n%s", sum, env, gauge, proc.Output())
	}
}
