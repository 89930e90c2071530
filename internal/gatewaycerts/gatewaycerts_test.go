// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package gatewaycerts

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

const service = "otelcol-sre-gateway-lb.otelcol-sre.svc.cluster.local"

func newBundle(t *testing.T) Bundle {
	t.Helper()
	b, err := New(Options{DNSNames: []string{service, "otelcol-sre-gateway-lb.otelcol-sre.svc"}, Now: now, CAValidity: 24 * time.Hour, ServerValidity: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func parse(t *testing.T, p []byte) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(p)
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("not a PEM certificate: %q", p)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func verify(t *testing.T, b Bundle, caPEM []byte, name string, at time.Time) error {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("CA PEM not accepted")
	}
	_, err := parse(t, b.ServerCert).Verify(x509.VerifyOptions{DNSName: name, Roots: pool, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	return err
}

func TestServerCertificateVerifies(t *testing.T) {
	b := newBundle(t)
	other := newBundle(t)
	for _, tc := range []struct {
		name    string
		ca      []byte
		dnsName string
		at      time.Time
		wantErr string
	}{
		{"service name", b.CACert, service, now, ""},
		{"second name", b.CACert, "otelcol-sre-gateway-lb.otelcol-sre.svc", now, ""},
		{"another name", b.CACert, "otelcol-sre-gateway-slo-headless.otelcol-sre.svc.cluster.local", now, "certificate is valid for"},
		{"another CA", other.CACert, service, now, "unknown authority"},
		{"expired", b.CACert, service, now.Add(2 * time.Hour), "expired"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := verify(t, b, tc.ca, tc.dnsName, tc.at)
			if tc.wantErr == "" && err != nil {
				t.Fatal(err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestCertificatesAreForTheirUse(t *testing.T) {
	b := newBundle(t)
	ca, server := parse(t, b.CACert), parse(t, b.ServerCert)
	if !ca.IsCA || !ca.MaxPathLenZero || ca.KeyUsage != x509.KeyUsageCertSign|x509.KeyUsageCRLSign {
		t.Errorf("CA: IsCA %v, MaxPathLenZero %v, KeyUsage %v", ca.IsCA, ca.MaxPathLenZero, ca.KeyUsage)
	}
	if server.IsCA || len(server.ExtKeyUsage) != 1 || server.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth {
		t.Errorf("server: IsCA %v, ExtKeyUsage %v", server.IsCA, server.ExtKeyUsage)
	}
	if _, err := tls.X509KeyPair(b.ServerCert, b.ServerKey); err != nil {
		t.Errorf("tls.crt and tls.key do not form a key pair: %v", err)
	}
	if !server.NotBefore.Before(now) || !server.NotAfter.Equal(now.Add(time.Hour)) || !ca.NotAfter.Equal(now.Add(24*time.Hour)) {
		t.Errorf("validity: server %s..%s, CA until %s", server.NotBefore, server.NotAfter, ca.NotAfter)
	}
	if server.SerialNumber.Cmp(ca.SerialNumber) == 0 {
		t.Error("CA and server certificate share a serial number")
	}
}

func TestOptionsErrorsSayWhatToFix(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"no names", Options{Now: now, CAValidity: time.Hour, ServerValidity: time.Hour}, "name the gateway Service"},
		{"server outlives CA", Options{DNSNames: []string{service}, Now: now, CAValidity: time.Hour, ServerValidity: 2 * time.Hour}, "0 < server (2h0m0s) <= CA (1h0m0s)"},
		{"zero validity", Options{DNSNames: []string{service}, Now: now}, "validity"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.o); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
