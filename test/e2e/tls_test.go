// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
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
	lb, sink := newTLSGateway(t, tlsDir(t, map[string][]byte{"tls.crt": gw.ServerCert, "tls.key": gw.ServerKey}))
	lb.start(t)

	_, viaTLS := startTLSAgent(t, lb.addr(lb.otlp), gw.CACert, "tls")
	plainAgent := startAgent(t, lb.addr(lb.otlp), t.TempDir(), t.TempDir())
	plain := newSeqSender(t, plainAgent.otlp(), "plaintext", 2)
	otherAgent, otherCA := startTLSAgent(t, lb.addr(lb.otlp), other.CACert, "other-ca")
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
	// OTLP/HTTP, which sidecars' apps may also use: TLS only, too.
	httpEndpoint, _ := section(lb.override, "receivers", "otlp", "protocols", "http", "endpoint").(string)
	if code, body := postEmptyMetrics(t, "https://"+httpEndpoint, gw.CACert); code != http.StatusOK {
		t.Errorf("OTLP/HTTP over TLS: %d %s", code, body)
	}
	if code, body := postEmptyMetrics(t, "http://"+httpEndpoint, nil); code != http.StatusBadRequest || !strings.Contains(body, "HTTPS server") {
		t.Errorf("plaintext OTLP/HTTP: %d %s, want 400 from the TLS server", code, body)
	}
	t.Logf("plaintext agent: %s", firstLineWith(plainAgent.proc.Output(), "Exporting failed"))
	t.Logf("agent trusting another CA: %s", firstLineWith(otherAgent.proc.Output(), "certificate signed by unknown authority"))
}

// newTLSGateway is the stateless tier with gateway-tls.yaml reading its certificate from dir, delivering to
// a counting sink; not started.
func newTLSGateway(t *testing.T, dir string) (*tierCollector, *otlpSink) {
	t.Helper()
	sink := newOTLPSink(t)
	lb := newLBTier(t, "gateway-tls.yaml")
	lb.env["OTELCOL_SRE_TLS_DIR"] = dir
	lb.routeToAddrs(t, sink.endpoint())
	// The sink is the test's own gRPC server, without the collector's zstd codec: the hop behind the gateway
	// (to the SLO tier in the cluster) goes uncompressed here. The hop under test, agent -> gateway, is as shipped.
	for _, id := range []string{"loadbalancing/by_service", "loadbalancing/by_resource"} {
		lb.set("none", "exporters", id, "protocol", "otlp", "compression")
	}
	return lb, sink
}

// startTLSAgent starts an agent with gateway-client-tls.yaml trusting ca, verifying the gateway as the
// Service's name, and a sender of run's ticks to it.
func startTLSAgent(t *testing.T, gateway string, ca []byte, run string) (*agentUnderTest, *seqSender) {
	t.Helper()
	serverName := filepath.Join(t.TempDir(), "server-name.yaml")
	if err := os.WriteFile(serverName, []byte("exporters:\n  otlp_grpc/gateway:\n    tls:\n      server_name_override: "+gatewaycerts.ServiceDNSNames[0]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a := newAgent(t, gateway, t.TempDir(), t.TempDir())
	a.configs = []string{deployConfigPath("gateway-client-tls.yaml"), serverName}
	a.env["OTELCOL_SRE_TLS_DIR"] = tlsDir(t, map[string][]byte{"ca.crt": ca})
	a.start(t)
	return a, newSeqSender(t, a.otlp(), run, 2)
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

// postEmptyMetrics posts an empty OTLP/HTTP metrics request to base, trusting ca (nil: plaintext) for the
// gateway Service's name, and returns the status and body.
func postEmptyMetrics(t *testing.T, base string, ca []byte) (int, string) {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	if ca != nil {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(ca)
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: gatewaycerts.ServiceDNSNames[0], MinVersion: tls.VersionTLS13}}
	}
	resp, err := client.Post(base+"/v1/metrics", "application/x-protobuf", http.NoBody)
	if err != nil {
		t.Fatalf("POST %s/v1/metrics: %v", base, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// The stateless tier serves a renewed certificate without a restart: gateway-tls.yaml's reload_interval
// (5m shipped, 1s here). The gateway starts with a certificate of one CA; the agent trusts only a second CA
// and refuses it. The files are then swapped the way the kubelet updates a mounted Secret (the ..data
// symlink replaced at once) for a certificate of the second CA: the agent's queued points arrive.
func TestGatewayTLSReloadsARenewedCertificate(t *testing.T) {
	before, after := newGatewayCerts(t), newGatewayCerts(t)
	secret := newSecretVolume(t, map[string][]byte{"tls.crt": before.ServerCert, "tls.key": before.ServerKey})
	lb, sink := newTLSGateway(t, secret.dir)
	lb.set("1s", "receivers", "otlp", "protocols", "grpc", "tls", "reload_interval")
	lb.start(t)
	pid := lb.proc.Pid()

	agent, sender := startTLSAgent(t, lb.addr(lb.otlp), after.CACert, "renewed")
	for range 10 {
		if err := sender.sendNext(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	waitForOutput(t, agent, "certificate signed by unknown authority")
	if got, _ := sink.pointTally("renewed", sender.ackedList(), 2); got != 0 {
		t.Fatalf("%d points arrived through a certificate the agent does not trust", got)
	}
	secret.update(t, map[string][]byte{"tls.crt": after.ServerCert, "tls.key": after.ServerKey})
	deadline := time.Now().Add(2 * time.Minute)
	for {
		got, _ := sink.pointTally("renewed", sender.ackedList(), 2)
		if got == 20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of 20 points after the renewal within 2m\nagent:\n%s", got, agent.proc.Output())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if lb.proc.Pid() != pid {
		t.Error("the gateway was restarted")
	}
}

// secretVolume is a directory laid out as the kubelet mounts a Secret: each file a symlink through ..data,
// which points at a timestamped directory and is replaced in one rename on an update.
type secretVolume struct{ dir string }

func newSecretVolume(t *testing.T, files map[string][]byte) *secretVolume {
	t.Helper()
	v := &secretVolume{dir: t.TempDir()}
	v.update(t, files)
	for name := range files {
		if err := os.Symlink(filepath.Join("..data", name), filepath.Join(v.dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return v
}

func (v *secretVolume) update(t *testing.T, files map[string][]byte) {
	t.Helper()
	ts, err := os.MkdirTemp(v.dir, "..data_")
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(ts, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tmp := filepath.Join(v.dir, "..data_tmp")
	if err := os.Symlink(filepath.Base(ts), tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(v.dir, "..data")); err != nil {
		t.Fatal(err)
	}
}
