// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package xraypeer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/otelcol-sre/otelcol-sre/internal/sigv4verify"
)

const (
	testKey    = "AKIDXRAYPEERTEST"
	testSecret = "xraypeer-secret"
)

// put sends documents to the peer as PutTraceSegments, signed for service with secret.
func put(t *testing.T, url, service, secret string, body []byte) (*http.Response, map[string]any) {
	t.Helper()
	return putPath(t, url+"/TraceSegments", service, secret, body)
}

// putPath POSTs body to url, signed for service with secret.
func putPath(t *testing.T, url, service, secret string, body []byte) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: testKey, SecretAccessKey: secret},
		req, hex.EncodeToString(sum[:]), service, "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp, out
}

func TestServer(t *testing.T) {
	v, err := sigv4verify.New(sigv4verify.Config{AccessKeyID: testKey, SecretAccessKey: testSecret, Region: "us-east-1", Service: "xray"})
	if err != nil {
		t.Fatal(err)
	}
	peer := New(v)
	srv := httptest.NewServer(peer)
	defer srv.Close()

	good := `{"name":"a","id":"70de5b6f19ff9a0a","trace_id":"1-581cf771-a006649127e371903a2de979","start_time":1,"end_time":2}`
	bad := `{"name":"b","id":"70de5b6f19ff9a0b","trace_id":"581cf771a006649127e371903a2de979","start_time":1,"end_time":2}`
	body, _ := json.Marshal(map[string][]string{"TraceSegmentDocuments": {good, bad}})

	resp, out := put(t, srv.URL, "xray", testSecret, body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %v", resp.StatusCode, out)
	}
	un, _ := out["UnprocessedTraceSegments"].([]any)
	if len(un) != 1 || un[0].(map[string]any)["Id"] != "70de5b6f19ff9a0b" {
		t.Errorf("UnprocessedTraceSegments = %v, want the one document with a W3C trace id", out)
	}
	if segs := peer.Segments(); len(segs) != 1 || segs[0]["name"] != "a" {
		t.Errorf("accepted %v, want document a", segs)
	}
	if rej := peer.Rejected(); len(rej) != 1 || rej[0].Document != bad {
		t.Errorf("rejected %v, want document b", rej)
	}

	for _, tc := range []struct {
		name, service, secret string
		body                  []byte
		want                  int
	}{
		{"signed for logs, not xray", "logs", testSecret, body, http.StatusForbidden},
		{"wrong secret", "xray", "other", body, http.StatusForbidden},
		{"no documents", "xray", testSecret, []byte(`{"TraceSegmentDocuments":[]}`), http.StatusBadRequest},
		{"not JSON", "xray", testSecret, []byte(`TraceSegmentDocuments`), http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if resp, out := put(t, srv.URL, tc.service, tc.secret, tc.body); resp.StatusCode != tc.want {
				t.Errorf("status %d (%v), want %d", resp.StatusCode, out, tc.want)
			}
		})
	}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/GetSamplingRules", bytes.NewReader([]byte(`{}`)))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("unsigned GetSamplingRules: %v %v, want 403", resp, err)
	}
	if resp, out := putPath(t, srv.URL+"/GetSamplingRules", "xray", testSecret, []byte(`{}`)); resp.StatusCode != http.StatusOK ||
		!strings.Contains(fmt.Sprint(out), DefaultRule) {
		t.Errorf("signed GetSamplingRules: %d %v", resp.StatusCode, out)
	}
	if total, refused, sampling := peer.Requests(); total != 7 || refused != 5 || sampling != 1 {
		t.Errorf("requests %d, refused %d, sampling %d; want 7, 5, 1", total, refused, sampling)
	}
	if len(peer.Segments()) != 1 {
		t.Errorf("a refused request stored documents: %v", peer.Segments())
	}
}
