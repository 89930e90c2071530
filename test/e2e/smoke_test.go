// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

// End-to-end smoke test of the built distribution: what it contains, that every shipped config validates,
// and that the local config receives OTLP and serves it on its Prometheus endpoint.
package e2e

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/otelcol-sre/otelcol-sre/internal/collectortest"
)

// wantComponents is the distribution's contract with its users (README.md "Components").
var wantComponents = map[string][]string{
	"receivers": {"otlp", "prometheus", "host_metrics", "kubelet_stats", "k8s_cluster", "k8s_objects", "file_log",
		"awscontainerinsightreceiver", "awsxray", "statsd"},
	"processors": {"batch", "memory_limiter", "k8s_attributes", "resource_detection", "transform", "filter", "cumulativetodelta"},
	"exporters": {"prometheus_remote_write", "awsemf", "awscloudwatchlogs", "otlp_grpc", "otlp_http", "debug", "file",
		"prometheus", "loadbalancing", "awsxray"},
	"extensions": {"sigv4auth", "health_check", "pprof", "zpages", "file_storage", "k8s_leader_elector"},
	"connectors": {"span_metrics", "routing"},
	"providers":  {"env", "file", "yaml", "http", "https"},
}

func TestComponentsListsEveryComponent(t *testing.T) {
	have := collectortest.Components(t, collectortest.Binary(t))
	for kind, names := range wantComponents {
		for _, n := range names {
			if !have[kind+"/"+n] {
				t.Errorf("%s: %q missing from `otelcol-sre components`", kind, n)
			}
		}
	}
}

// The local config is the one `make run` starts; every config set the Kubernetes manifests run is validated
// the same way by deploy/configs_test.go (TestCollectorConfigsValidate), with the environment the pods get.
func TestValidateLocalConfig(t *testing.T) {
	config := filepath.Join(collectortest.RepoRoot(), "deploy", "configs", "local.yaml")
	if out, err := collectortest.Run(t, nil, "validate", "--config", config); err != nil {
		t.Fatalf("otelcol-sre validate --config %s: %v\n%s", config, err, out)
	}
}

func TestLocalConfigServesOTLPMetricsOnPrometheusEndpoint(t *testing.T) {
	ports := map[string]int{}
	env := map[string]string{}
	for _, name := range []string{"OTLP_GRPC", "OTLP_HTTP", "PROMETHEUS", "HEALTH", "ZPAGES", "TELEMETRY"} {
		ports[name] = collectortest.FreePort(t)
		env["OTELCOL_SRE_"+name+"_PORT"] = collectortest.Port(ports[name])
	}
	config := filepath.Join(collectortest.RepoRoot(), "deploy", "configs", "local.yaml")
	proc := collectortest.Start(t, config, env, "http://127.0.0.1:"+collectortest.Port(ports["HEALTH"])+"/")

	conn, err := grpc.NewClient("127.0.0.1:"+collectortest.Port(ports["OTLP_GRPC"]),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := pmetricotlp.NewGRPCClient(conn).Export(ctx, pmetricotlp.NewExportRequestFromMetrics(sampleMetrics())); err != nil {
		t.Fatalf("OTLP export: %v", err)
	}

	// What we sent, and what host_metrics scraped from this machine (its first scrape is one interval in).
	wants := []*regexp.Regexp{
		regexp.MustCompile(`(?m)^e2e_orders\{[^}]*service_name="checkout"[^}]*\} 42$`),
		regexp.MustCompile(`(?m)^system_memory_usage\{[^}]*state="used"[^}]*\} [0-9.e+]+$`),
	}
	// And the ethtool receiver's compatibility gauge, for each physical NIC this machine has.
	for _, nic := range physicalNICs(t) {
		wants = append(wants, regexp.MustCompile(`(?m)^node_net_ethtool\{[^}]*device="`+regexp.QuoteMeta(nic)+`"[^}]*\} [0-9.e+]+$`))
	}
	url := "http://127.0.0.1:" + collectortest.Port(ports["PROMETHEUS"]) + "/metrics"
	var body string
	missing := wants
	for deadline := time.Now().Add(45 * time.Second); len(missing) > 0 && time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
		body = get(t, url)
		missing = slices.DeleteFunc(slices.Clone(wants), func(re *regexp.Regexp) bool { return re.MatchString(body) })
	}
	if len(missing) > 0 {
		t.Fatalf("%s never showed %v; last body:\n%s\ncollector output:\n%s", url, missing, body, proc.Output())
	}
	if err := proc.Stop(30 * time.Second); err != nil {
		t.Fatalf("collector did not stop cleanly on SIGINT: %v\n%s", err, proc.Output())
	}
}

// physicalNICs lists the interfaces backed by a device (not lo, veth, bridges: /sys/devices/virtual).
func physicalNICs(t *testing.T) []string {
	entries, err := os.ReadDir("/sys/class/net")
	if err != nil {
		t.Fatal(err)
	}
	var nics []string
	for _, e := range entries {
		target, err := os.Readlink(filepath.Join("/sys/class/net", e.Name()))
		if err == nil && !strings.Contains(target, "/devices/virtual/") {
			nics = append(nics, e.Name())
		}
	}
	return nics
}

func sampleMetrics() pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "checkout")
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName("e2e.orders")
	sum := m.SetEmptySum()
	sum.SetIsMonotonic(true)
	sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	dp := sum.DataPoints().AppendEmpty()
	now := time.Now()
	dp.SetStartTimestamp(pcommon.NewTimestampFromTime(now.Add(-time.Minute)))
	dp.SetTimestamp(pcommon.NewTimestampFromTime(now))
	dp.SetIntValue(42)
	return md
}

func get(t *testing.T, url string) string {
	resp, err := http.Get(url)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
