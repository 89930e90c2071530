// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"context"
	"errors"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/otelcol-sre/otelcol-sre/internal/collectortest"
	"github.com/otelcol-sre/otelcol-sre/internal/rwtest"
	"github.com/otelcol-sre/otelcol-sre/internal/sigv4verify"
)

const (
	// The static test credentials collectortest.SafeEnv gives every collector.
	testAccessKey = "AKIDOTELCOLSRETEST"
	testSecretKey = "otelcol-sre-test-secret"
)

// collector starts the binary with a testdata config on fresh loopback ports and returns its OTLP endpoint.
func collector(t *testing.T, config string, env map[string]string) (*collectortest.Process, string) {
	t.Helper()
	all := map[string]string{"HEALTH_PORT": collectortest.Port(collectortest.FreePort(t)),
		"OTLP_PORT": collectortest.Port(collectortest.FreePort(t))}
	for k, v := range env { // a restarted collector keeps its ports: the caller passes them
		all[k] = v
	}
	p := collectortest.Start(t, filepath.Join("testdata", config), all, "http://127.0.0.1:"+all["HEALTH_PORT"]+"/")
	return p, "127.0.0.1:" + all["OTLP_PORT"]
}

// sigv4Front puts a SigV4-verifying peer for service aps in us-east-1 in front of Prometheus.
func sigv4Front(t *testing.T, prom *prometheusServer) (*sigv4verify.Handler, string) {
	t.Helper()
	v, err := sigv4verify.New(sigv4verify.Config{AccessKeyID: testAccessKey, SecretAccessKey: testSecretKey,
		Region: "us-east-1", Service: "aps"})
	if err != nil {
		t.Fatal(err)
	}
	target, _ := url.Parse(prom.url())
	h := sigv4verify.NewForwarder(v, target)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return h, srv.URL + "/api/v1/write"
}

// shapes is one request with the float metric shapes remote write translates (rwtest), named e2e.*, from one
// service instance.
func shapes(instance string, ts time.Time) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	res := rm.Resource().Attributes()
	res.PutStr("service.name", "checkout")
	res.PutStr("service.namespace", "shop")
	res.PutStr("service.instance.id", instance)
	res.PutStr("k8s.namespace.name", "shop")
	rwtest.AppendFloatShapes(rm.ScopeMetrics().AppendEmpty().Metrics(), "e2e.", ts)
	return md
}

// exportOnce sends md in one OTLP/gRPC request.
func exportOnce(ctx context.Context, endpoint string, md pmetric.Metrics) error {
	conn, err := grpc.NewClient(endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err = pmetricotlp.NewGRPCClient(conn).Export(cctx, pmetricotlp.NewExportRequestFromMetrics(md))
	return err
}

// exportQuiet sends md once and ignores the outcome (for senders that repeat until a result shows).
func exportQuiet(ctx context.Context, endpoint string, md pmetric.Metrics) {
	_ = exportOnce(ctx, endpoint, md)
}

func export(t *testing.T, endpoint string, md pmetric.Metrics) {
	t.Helper()
	if err := exportOnce(context.Background(), endpoint, md); err != nil {
		t.Fatalf("OTLP export: %v", err)
	}
}

// TestRemoteWriteThroughSigV4IntoPrometheus: OTLP in, prometheus_remote_write signed by sigv4auth (service
// aps, us-east-1), a verifier that recomputes every signature with the AWS SDK signer, then Prometheus; the
// values, names and labels Prometheus stores are checked through its HTTP API. A second collector signing for
// the wrong region must be refused and store nothing.
func TestRemoteWriteThroughSigV4IntoPrometheus(t *testing.T) {
	prom := startPrometheus(t, 0)
	verifier, endpoint := sigv4Front(t, prom)

	good, goodOTLP := collector(t, "remotewrite.yaml", map[string]string{"RW_ENDPOINT": endpoint, "SIGV4_REGION": "us-east-1"})
	bad, badOTLP := collector(t, "remotewrite.yaml", map[string]string{"RW_ENDPOINT": endpoint, "SIGV4_REGION": "us-west-2"})
	now := time.Now()
	export(t, goodOTLP, shapes("pod-signed", now))
	export(t, badOTLP, shapes("pod-wrong-region", now))

	const sel = `{instance="pod-signed",job="shop/checkout",k8s_namespace_name="shop",cluster="e2e"}`
	checks := []struct {
		query string
		want  float64
	}{
		{`e2e_queue_depth{queue="orders",instance="pod-signed",job="shop/checkout",k8s_namespace_name="shop",cluster="e2e"}`, rwtest.QueueDepth},
		{`e2e_requests{http_response_status_code="200",instance="pod-signed",job="shop/checkout"}`, rwtest.Requests},
		{`e2e_latency_bucket{le="0.1",instance="pod-signed"}`, 2},
		{`e2e_latency_bucket{le="1",instance="pod-signed"}`, 5},
		{`e2e_latency_bucket{le="+Inf",instance="pod-signed"}`, rwtest.LatencyCount},
		{`e2e_latency_count` + sel, rwtest.LatencyCount},
		{`e2e_latency_sum` + sel, rwtest.LatencySum},
		{`target_info{instance="pod-signed",job="shop/checkout",k8s_namespace_name="shop"}`, 1},
		{`count({__name__=~"e2e_.*",instance="pod-signed"})`, rwtest.FloatShapeCount},
	}
	for _, c := range checks {
		if got := prom.waitScalar(t, c.query, c.want, 30*time.Second); got != c.want {
			t.Errorf("%s = %v, want %v", c.query, got, c.want)
		}
	}
	if got := prom.scalar(t, `count({instance="pod-wrong-region"})`); got != 0 {
		t.Errorf("%v series from the collector signing for us-west-2 reached Prometheus", got)
	}
	stats := verifier.Stats()
	for deadline := time.Now().Add(30 * time.Second); stats.Rejected[sigv4verify.ErrWrongRegion] == 0 && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		stats = verifier.Stats()
	}
	if stats.Accepted == 0 || stats.Rejected[sigv4verify.ErrWrongRegion] == 0 {
		t.Errorf("verifier accepted %d, rejections %v; want both collectors' requests seen", stats.Accepted, stats.Rejected)
	}
	for reason, n := range stats.Rejected {
		if !errors.Is(reason, sigv4verify.ErrWrongRegion) {
			t.Errorf("%d requests rejected for %v (want only wrong-region rejections): %v", n, reason, stats.LastErr)
		}
	}
	t.Logf("sigv4: accepted %d requests, rejected %v", stats.Accepted, stats.Rejected)
	if t.Failed() {
		t.Logf("signed collector:\n%s\nwrong-region collector:\n%s", good.Output(), bad.Output())
	}
}
