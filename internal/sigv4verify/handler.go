// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package sigv4verify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
)

// maxBody bounds what the handler reads; AMP itself refuses remote-write bodies over 1 MB, CloudWatch Logs
// PutLogEvents over 1 MB, so 16 MB is generous for any peer this fronts.
const maxBody = 16 << 20

// Handler verifies every request and passes the verified ones, body intact, to Next. Rejected requests get
// 403 with an AWS-style JSON error, as AMP and CloudWatch Logs answer a bad signature.
type Handler struct {
	Verifier *Verifier
	Next     http.Handler

	mu       sync.Mutex
	accepted int
	rejected map[error]int
	lastErr  error
}

// NewForwarder returns a Handler that forwards verified requests to target (e.g. Prometheus'
// http://127.0.0.1:PORT), keeping the request path.
func NewForwarder(v *Verifier, target *url.URL) *Handler {
	return &Handler{Verifier: v, Next: httputil.NewSingleHostReverseProxy(target)}
}

var reasons = []error{ErrMissingAuth, ErrUnknownAccessKey, ErrWrongRegion, ErrWrongService, ErrSkew, ErrSignatureMismatch}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		http.Error(w, fmt.Sprintf("reading body: %v", err), http.StatusBadRequest)
		return
	}
	if len(body) > maxBody {
		http.Error(w, "body over 16 MB", http.StatusRequestEntityTooLarge)
		return
	}
	if err := h.Verifier.Verify(r, body); err != nil {
		h.record(err)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amzn-ErrorType", "InvalidSignatureException")
		w.WriteHeader(http.StatusForbidden)
		_ = json.NewEncoder(w).Encode(map[string]string{"__type": "InvalidSignatureException", "message": err.Error()})
		return
	}
	h.record(nil)
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	h.Next.ServeHTTP(w, r)
}

func (h *Handler) record(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err == nil {
		h.accepted++
		return
	}
	if h.rejected == nil {
		h.rejected = map[error]int{}
	}
	reason := err
	for _, r := range reasons {
		if errors.Is(err, r) {
			reason = r
			break
		}
	}
	h.rejected[reason]++
	h.lastErr = err
}

// Stats is what the handler has seen so far.
type Stats struct {
	Accepted int
	Rejected map[error]int // keyed by the Err* reason
	LastErr  error
}

// Stats returns a snapshot of the counters.
func (h *Handler) Stats() Stats {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := Stats{Accepted: h.accepted, Rejected: map[error]int{}, LastErr: h.lastErr}
	for k, v := range h.rejected {
		s.Rejected[k] = v
	}
	return s
}
