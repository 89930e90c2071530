// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/otelcol-sre/otelcol-sre/internal/gatewaycerts"
)

// The `tls` option (deploy/README.md "Secure install") with the built binary, on 127.0.0.1: the stateless
// tier from gateway-lb.yaml + gateway-tls.yaml, delivering to a counting sink, and agents from agent.yaml's
// durable sections (as the fault table runs them) + gateway-client-tls.yaml. The certificates are the test's
// own (internal/gatewaycerts, what cmd/gateway-certs writes) for the gateway Service's DNS names. The agents
// verify the gateway as the name the cluster's GATEWAY_ENDPOINT has (server_name_override: here that name
// does not resolve, so the address is 127.0.0.1). Three agents queue 20 ticks of 2 points each:
//   - over TLS, trusting the gateway's CA: every point reaches the sink;
//   - with the shipped plaintext exporter (agent.yaml alone, the default without the option): refused;
//   - over TLS, trusting another CA: refused by its own verification of the gateway's certificate.
//
// The refused ones keep their points in the persistent queue and log why; the gateway accepts exactly the
// first agent's 40 points.
func TestGatewayTLS(t *testing.T) {
	gw, other := newGatewayCerts(t), newGatewayCerts(t)
	sink := newOTLPSink(t)
	lb := newLBTier(t, "gateway-tls.yaml")
	lb.env["OTELCOL_SRE_TLS_DIR"] = tlsDir(t, map[string][]byte{"tls.crt": gw.ServerCert, "tls.key": gw.ServerKey})
	lb.routeToAddrs(t, sink.endpoint())
	// The sink is the test's own gRPC server, without the collector's zstd codec: the hop behind the gateway
	// (to the SLO tier in the cluster) goes uncompressed here. The hop under test, agent -> gateway, is as shipped.
	for _, id := range []string{"loadbalancing/by_service", "loadbalancing/by_resource"} {
		lb.set("none", "exporters", id, "protocol", "otlp", "compression")
	}
	lb.start(t)

	serverName := filepath.Join(t.TempDir(), "server-name.yaml")
	if err := os.WriteFile(serverName, []byte("exporters:\n  otlp_grpc/gateway:\n    tls:\n      server_name_override: "+gatewaycerts.ServiceDNSNames[0]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	startSender := func(run string, trusted []byte) (*agentUnderTest, *seqSender) {
		a := newAgent(t, lb.addr(lb.otlp), t.TempDir(), t.TempDir())
		if trusted != nil {
			a.configs = []string{deployConfigPath("gateway-client-tls.yaml"), serverName}
			a.env["OTELCOL_SRE_TLS_DIR"] = tlsDir(t, map[string][]byte{"ca.crt": trusted})
		}
		a.start(t)
		return a, newSeqSender(t, a.otlp(), run, 2)
	}
	_, viaTLS := startSender("tls", gw.CACert)
	plainAgent, plain := startSender("plaintext", nil)
	otherAgent, otherCA := startSender("other-ca", other.CACert)
	for range 20 {
		for _, s := range []*seqSender{viaTLS, plain, otherCA} {
			if err := s.sendNext(t.Context()); err != nil {
				t.Fatalf("run %s: the agent did not queue a tick: %v", s.run, err)
			}
		}
	}

	const want = 40
	deadline := time.Now().Add(time.Minute)
	for {
		got, _ := sink.pointTally("tls", viaTLS.ackedList(), 2)
		if got == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("over TLS: %d of %d points at the sink after 1m\ngateway:\n%s", got, want, lb.proc.Output())
		}
		time.Sleep(100 * time.Millisecond)
	}
	waitForOutput(t, otherAgent, "certificate signed by unknown authority")
	waitForOutput(t, plainAgent, "Exporting failed")

	for _, s := range []*seqSender{plain, otherCA} {
		if got, _ := sink.pointTally(s.run, s.ackedList(), 2); got != 0 {
			t.Errorf("%s: %d points reached the sink, want none", s.run, got)
		}
	}
	if got := lb.selfMetric(t, "otelcol_receiver_accepted_metric_points", `receiver="otlp"`); got != want {
		t.Errorf("the gateway accepted %v points, want exactly the TLS agent's %d", got, want)
	}
	for _, a := range []*agentUnderTest{plainAgent, otherAgent} {
		if q := scrapeSum(t, "http://127.0.0.1:"+a.env["TELEMETRY_PORT"]+"/metrics", "otelcol_exporter_queue_size", `exporter="otlp_grpc/gateway"`); q <= 0 {
			t.Errorf("refused agent's queue holds %v: its points should wait there", q)
		}
	}
	t.Logf("plaintext agent: %s", firstLineWith(plainAgent.proc.Output(), "Exporting failed"))
	t.Logf("agent trusting another CA: %s", firstLineWith(otherAgent.proc.Output(), "certificate signed by unknown authority"))
}

func newGatewayCerts(t *testing.T) gatewaycerts.Bundle {
	t.Helper()
	b, err := gatewaycerts.New(gatewaycerts.Options{DNSNames: gatewaycerts.ServiceDNSNames, Now: time.Now(), CAValidity: time.Hour, ServerValidity: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tlsDir writes files into a new directory, as the mounted Secret or ConfigMap has them.
func tlsDir(t *testing.T, files map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// waitForOutput waits up to a minute for the agent to log s.
func waitForOutput(t *testing.T, a *agentUnderTest, s string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(a.proc.Output(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("the agent did not log %q within 1m:\n%s", s, a.proc.Output())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func firstLineWith(out, s string) string {
	for line := range strings.Lines(out) {
		if strings.Contains(line, s) {
			return strings.TrimSpace(line)
		}
	}
	return ""
}
