// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/otelcol-sre/otelcol-sre/internal/collectortest"
	"github.com/otelcol-sre/otelcol-sre/internal/sigv4verify"
	"github.com/otelcol-sre/otelcol-sre/internal/xraypeer"
)

// checkoutTrace is one OTLP trace of service checkout: a server span answering 500 and the database call it
// made (a client span).
func checkoutTrace(traceID pcommon.TraceID, start time.Time) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "checkout")
	rs.Resource().Attributes().PutStr("k8s.namespace.name", "shop")
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	server := spans.AppendEmpty()
	server.SetTraceID(traceID)
	server.SetSpanID(pcommon.SpanID{0x70, 0xde, 0x5b, 0x6f, 0x19, 0xff, 0x9a, 0x0a})
	server.SetName("POST /cart")
	server.SetKind(ptrace.SpanKindServer)
	server.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
	server.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(120 * time.Millisecond)))
	server.Attributes().PutStr("http.request.method", "POST")
	server.Attributes().PutStr("url.full", "http://checkout.shop/cart")
	server.Attributes().PutInt("http.response.status_code", 500)
	server.Status().SetCode(ptrace.StatusCodeError)
	db := spans.AppendEmpty()
	db.SetTraceID(traceID)
	db.SetSpanID(pcommon.SpanID{0x53, 0x99, 0x5c, 0x3f, 0x42, 0xcd, 0x8a, 0xd8})
	db.SetParentSpanID(server.SpanID())
	db.SetName("SELECT carts")
	db.SetKind(ptrace.SpanKindClient)
	db.SetStartTimestamp(pcommon.NewTimestampFromTime(start.Add(10 * time.Millisecond)))
	db.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(90 * time.Millisecond)))
	db.Attributes().PutStr("db.system.name", "postgresql")
	db.Attributes().PutStr("server.address", "carts-db.shop")
	return td
}

// xrayTraceID is the X-Ray form of an OTLP trace id: 1-<first 8 hex digits>-<other 24>.
func xrayTraceID(id pcommon.TraceID) string {
	h := hex.EncodeToString(id[:])
	return "1-" + h[:8] + "-" + h[8:]
}

// TestXRayTracesToPutTraceSegmentsPeer: deploy/configs/cloudwatch.yaml's awsxray exporter, its endpoint at the
// local X-Ray peer (SigV4 for service xray checked on every request, every segment document validated against
// X-Ray's format). OTLP traces with a W3C trace id (first 32 bits not a recent time, as OpenTelemetry SDKs
// generate them) and with an X-Ray-style id, plus a segment an X-Ray SDK sends over UDP to the awsxray
// receiver, must all arrive as valid documents under the X-Ray form of their trace ids; the server span as a
// segment with the HTTP status and fault, the client span as an independent subsegment of it. The awsxray
// receiver's sampling proxy must forward an SDK's unsigned GetSamplingRules signed.
func TestXRayTracesToPutTraceSegmentsPeer(t *testing.T) {
	v, err := sigv4verify.New(sigv4verify.Config{AccessKeyID: testAccessKey, SecretAccessKey: testSecretKey,
		Region: "us-east-1", Service: "xray"})
	if err != nil {
		t.Fatal(err)
	}
	peer := xraypeer.New(v)
	srv := httptest.NewServer(peer)
	t.Cleanup(srv.Close)

	udpPort, proxyPort := collectortest.FreePort(t), collectortest.FreePort(t)
	healthPort, otlpPort := collectortest.Port(collectortest.FreePort(t)), collectortest.Port(collectortest.FreePort(t))
	proc := collectortest.Start(t, filepath.Join("testdata", "xray.yaml"), map[string]string{
		"HEALTH_PORT": healthPort, "OTLP_PORT": otlpPort,
		"XRAY_ENDPOINT": srv.URL, "XRAY_UDP_PORT": collectortest.Port(udpPort), "XRAY_PROXY_PORT": collectortest.Port(proxyPort),
		"CLUSTER_NAME": "e2e-cluster", "K8S_POD_NAME": "otelcol-sre-gateway-slo-0", "OTELCOL_SRE_DATA_DIR": t.TempDir(),
		"OTELCOL_SRE_EMF_QUEUE_PORT": collectortest.Port(collectortest.FreePort(t)),
	}, "http://127.0.0.1:"+healthPort+"/",
		"--config", filepath.Join(collectortest.RepoRoot(), "deploy", "configs", "cloudwatch.yaml"),
		"--config", filepath.Join("testdata", "aws-endpoints.yaml"))
	otlp := "127.0.0.1:" + otlpPort

	now := time.Now()
	w3c := pcommon.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36} // epoch 2010
	xrayStyle := pcommon.TraceID{0, 0, 0, 0, 0xa0, 0x06, 0x64, 0x91, 0x27, 0xe3, 0x71, 0x90, 0x3a, 0x2d, 0xe9, 0x79}
	binary.BigEndian.PutUint32(xrayStyle[:4], uint32(now.Unix()))
	conn, err := grpc.NewClient(otlp, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, id := range []pcommon.TraceID{w3c, xrayStyle} {
		if _, err := ptraceotlp.NewGRPCClient(conn).Export(ctx, ptraceotlp.NewExportRequestFromTraces(checkoutTrace(id, now))); err != nil {
			t.Fatalf("OTLP export: %v", err)
		}
	}

	// An X-Ray SDK's segment: the daemon protocol's header line, then the document, in one UDP datagram.
	sdkTrace := fmt.Sprintf("1-%08x-%s", now.Unix(), "5759e988bd862e3fe1be46a9")
	sdkDoc := fmt.Sprintf(`{"name":"orders","id":"6226467e3f845502","trace_id":%q,"start_time":%d.1,"end_time":%d.2,"http":{"response":{"status":200}}}`,
		sdkTrace, now.Unix(), now.Unix())
	udp, err := net.Dial("udp", "127.0.0.1:"+collectortest.Port(udpPort))
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	if _, err := udp.Write([]byte("{\"format\": \"json\", \"version\": 1}\n" + sdkDoc)); err != nil {
		t.Fatal(err)
	}

	var segs []xraypeer.Segment
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if segs = peer.Segments(); len(segs)+len(peer.Rejected()) >= 5 || time.Now().After(deadline) {
			break
		}
	}
	for _, r := range peer.Rejected() {
		t.Errorf("X-Ray would refuse: %v\n%s", r.Err, r.Document)
	}
	total, refused, _ := peer.Requests()
	if refused != 0 {
		t.Errorf("%d of %d requests refused (signature or protocol)\n%s", refused, total, proc.Output())
	}
	byTrace := map[string][]xraypeer.Segment{}
	for _, s := range segs {
		id, _ := s["trace_id"].(string)
		byTrace[id] = append(byTrace[id], s)
	}
	for _, id := range []pcommon.TraceID{w3c, xrayStyle} {
		docs := byTrace[xrayTraceID(id)]
		if len(docs) != 2 {
			t.Errorf("trace %s: %d documents, want the server segment and the database subsegment; got traces %v\n%s",
				xrayTraceID(id), len(docs), slices.Collect(maps.Keys(byTrace)), proc.Output())
			continue
		}
		for _, d := range docs {
			switch d["id"] {
			case "70de5b6f19ff9a0a":
				status := fmt.Sprint(d["http"].(map[string]any)["response"].(map[string]any)["status"])
				if d["name"] != "checkout" || d["fault"] != true || status != "500" || d["type"] != nil {
					t.Errorf("server span as segment: name %v, fault %v, status %v, type %v", d["name"], d["fault"], status, d["type"])
				}
			case "53995c3f42cd8ad8":
				if d["type"] != "subsegment" || d["parent_id"] != "70de5b6f19ff9a0a" || d["namespace"] != "remote" {
					t.Errorf("client span: type %v, parent_id %v, namespace %v; want an independent remote subsegment of the server segment",
						d["type"], d["parent_id"], d["namespace"])
				}
			default:
				t.Errorf("unexpected document %v", d)
			}
		}
	}
	if docs := byTrace[sdkTrace]; len(docs) != 1 || docs[0]["name"] != "orders" || docs[0]["id"] != "6226467e3f845502" {
		t.Errorf("the X-Ray SDK's segment through the awsxray receiver: %v", docs)
	}

	// The sampling proxy: an SDK asks it, unsigned, for the sampling rules.
	resp, err := http.Post("http://127.0.0.1:"+collectortest.Port(proxyPort)+"/GetSamplingRules", "application/json", bytes.NewReader([]byte(`{}`)))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if _, _, sampling := peer.Requests(); resp.StatusCode != http.StatusOK || !strings.Contains(string(body), xraypeer.DefaultRule) || sampling != 1 {
		t.Errorf("GetSamplingRules through the proxy: %d %s (peer answered %d)", resp.StatusCode, body, sampling)
	}
}
