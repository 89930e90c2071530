// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package sigv4verify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const (
	testKey    = "AKIDOTELCOLSRETEST"
	testSecret = "otelcol-sre-test-secret"
)

var serverNow = time.Date(2026, 11, 22, 20, 0, 0, 0, time.UTC)

// signed builds a remote-write-like request to srv signed by the SDK signer exactly as the sigv4auth
// extension does, then lets mutate change it after signing.
type signing struct {
	service, region string
	key, secret     string
	token           string
	at              time.Time
	body            string
	mutate          func(r *http.Request)
}

func send(t *testing.T, srv *httptest.Server, s signing) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, srv.URL+"/api/v1/write", bytes.NewReader([]byte(s.body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Encoding", "snappy")
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	req.Header.Set("User-Agent", "otelcol-sre/test")
	sum := sha256.Sum256([]byte(s.body))
	creds := aws.Credentials{AccessKeyID: s.key, SecretAccessKey: s.secret, SessionToken: s.token}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), s.service, s.region, s.at); err != nil {
		t.Fatal(err)
	}
	if s.mutate != nil {
		s.mutate(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func good() signing {
	return signing{service: "aps", region: "us-east-1", key: testKey, secret: testSecret, at: serverNow, body: "remote-write-payload"}
}

func TestVerifierThroughHandler(t *testing.T) {
	tests := []struct {
		name   string
		change func(s *signing)
		want   error // nil: forwarded
	}{
		{name: "correctly signed request is forwarded", change: func(*signing) {}},
		{name: "session token signed along is accepted", change: func(s *signing) { s.token = "session-token" }},
		{name: "clock 4m behind is within AWS' 5m skew", change: func(s *signing) { s.at = serverNow.Add(-4 * time.Minute) }},
		{name: "unsigned header added by the transport after signing is ignored", change: func(s *signing) {
			s.mutate = func(r *http.Request) { r.Header.Set("X-Added-Later", "1") }
		}},
		{name: "empty body", change: func(s *signing) { s.body = "" }},
		{name: "service logs instead of aps", change: func(s *signing) { s.service = "logs" }, want: ErrWrongService},
		{name: "region us-west-2 instead of us-east-1", change: func(s *signing) { s.region = "us-west-2" }, want: ErrWrongRegion},
		{name: "signed 6m in the past", change: func(s *signing) { s.at = serverNow.Add(-6 * time.Minute) }, want: ErrSkew},
		{name: "signed 6m in the future", change: func(s *signing) { s.at = serverNow.Add(6 * time.Minute) }, want: ErrSkew},
		{name: "body tampered after signing, same length", change: func(s *signing) {
			s.mutate = func(r *http.Request) { r.Body = io.NopCloser(bytes.NewReader([]byte("remote-write-PAYLOAD"))) }
		}, want: ErrSignatureMismatch},
		{name: "signed header changed after signing", change: func(s *signing) {
			s.mutate = func(r *http.Request) { r.Header.Set("Content-Encoding", "gzip") }
		}, want: ErrSignatureMismatch},
		{name: "path changed after signing", change: func(s *signing) {
			s.mutate = func(r *http.Request) { r.URL.Path = "/api/v1/other" }
		}, want: ErrSignatureMismatch},
		{name: "wrong secret key", change: func(s *signing) { s.secret = "not-the-secret" }, want: ErrSignatureMismatch},
		{name: "unknown access key", change: func(s *signing) { s.key = "AKIDSOMEONEELSE" }, want: ErrUnknownAccessKey},
		{name: "no Authorization header", change: func(s *signing) {
			s.mutate = func(r *http.Request) { r.Header.Del("Authorization") }
		}, want: ErrMissingAuth},
		{name: "unparseable X-Amz-Date", change: func(s *signing) {
			s.mutate = func(r *http.Request) { r.Header.Set("X-Amz-Date", "yesterday") }
		}, want: ErrMissingAuth},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var forwarded []byte
			backend := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				forwarded, _ = io.ReadAll(r.Body)
				w.WriteHeader(http.StatusNoContent)
			})
			v, err := New(Config{AccessKeyID: testKey, SecretAccessKey: testSecret, Region: "us-east-1", Service: "aps",
				Now: func() time.Time { return serverNow }})
			if err != nil {
				t.Fatal(err)
			}
			h := &Handler{Verifier: v, Next: backend}
			srv := httptest.NewServer(h)
			defer srv.Close()

			s := good()
			tt.change(&s)
			resp := send(t, srv, s)
			respBody, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			stats := h.Stats()
			if tt.want == nil {
				if resp.StatusCode != http.StatusNoContent {
					t.Fatalf("status %d, want 204 (forwarded); body %s; last error %v", resp.StatusCode, respBody, stats.LastErr)
				}
				if string(forwarded) != s.body {
					t.Errorf("backend got body %q, want %q", forwarded, s.body)
				}
				if stats.Accepted != 1 {
					t.Errorf("accepted %d, want 1", stats.Accepted)
				}
				return
			}
			if resp.StatusCode != http.StatusForbidden {
				t.Fatalf("status %d, want 403; body %s", resp.StatusCode, respBody)
			}
			if forwarded != nil {
				t.Errorf("rejected request reached the backend")
			}
			if stats.Rejected[tt.want] != 1 || !errors.Is(stats.LastErr, tt.want) {
				t.Errorf("rejections %v (last %v), want one %v", stats.Rejected, stats.LastErr, tt.want)
			}
		})
	}
}

func TestNewRejectsIncompleteConfig(t *testing.T) {
	for _, cfg := range []Config{
		{SecretAccessKey: testSecret, Region: "us-east-1", Service: "aps"},
		{AccessKeyID: testKey, SecretAccessKey: testSecret, Service: "aps"},
		{AccessKeyID: testKey, SecretAccessKey: testSecret, Region: "us-east-1"},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted an incomplete config", cfg)
		}
	}
}

func TestNewForwarderKeepsPath(t *testing.T) {
	var path string
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path = r.URL.Path
		w.WriteHeader(http.StatusNoContent)
	}))
	defer backend.Close()
	target, _ := url.Parse(backend.URL)
	v, _ := New(Config{AccessKeyID: testKey, SecretAccessKey: testSecret, Region: "us-east-1", Service: "aps",
		Now: func() time.Time { return serverNow }})
	srv := httptest.NewServer(NewForwarder(v, target))
	defer srv.Close()
	resp := send(t, srv, good())
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || path != "/api/v1/write" {
		t.Fatalf("status %d path %q, want 204 /api/v1/write", resp.StatusCode, path)
	}
}

func FuzzParseAuthorization(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKID/20261122/us-east-1/aps/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc")
	f.Add("AWS4-HMAC-SHA256 Credential=a/b/c/d/e")
	f.Add("Basic dXNlcjpwYXNz")
	f.Fuzz(func(t *testing.T, h string) {
		a, err := parseAuthorization(h)
		if err != nil {
			if !errors.Is(err, ErrMissingAuth) {
				t.Fatalf("error %v does not wrap ErrMissingAuth", err)
			}
			return
		}
		if len(a.signedHeaders) == 0 || a.signature == "" {
			t.Fatalf("accepted %q without signed headers or signature", h)
		}
	})
}
