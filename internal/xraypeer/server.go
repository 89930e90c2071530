// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

// Package xraypeer is a local protocol peer for tests, not AWS: an in-memory AWS X-Ray PutTraceSegments
// endpoint on loopback, speaking the REST-JSON protocol the AWS SDK's xray client uses (POST /TraceSegments,
// {"TraceSegmentDocuments": [...]}), checking SigV4 (service "xray") with sigv4verify and every segment
// document against X-Ray's segment document format (ValidateSegment). Documents X-Ray would refuse come back
// in UnprocessedTraceSegments, as X-Ray answers them. GetSamplingRules (what a sampling proxy forwards) is
// answered with X-Ray's default rule.
package xraypeer

import (
	"encoding/json"
	"io"
	"net/http"
	"sync"

	"github.com/otelcol-sre/otelcol-sre/internal/sigv4verify"
)

// maxBody bounds what one request may carry: the exporter sends at most 50 documents of at most 64 KB.
const maxBody = 5 << 20

// Segment is one document the peer accepted, decoded.
type Segment map[string]any

// Rejected is a document the peer answered as unprocessed, with why.
type Rejected struct {
	Document string
	Err      error
}

// Server is the peer. The zero value is not usable; call New.
type Server struct {
	verifier *sigv4verify.Verifier

	mu       sync.Mutex
	segments []Segment
	rejected []Rejected
	requests int
	refused  int // requests answered with an error (signature, protocol)
	sampling int // GetSamplingRules answered
}

// New returns an empty peer; every request must carry a valid SigV4 signature for verifier.
func New(verifier *sigv4verify.Verifier) *Server {
	return &Server{verifier: verifier}
}

// Segments returns the accepted documents in arrival order.
func (s *Server) Segments() []Segment {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Segment(nil), s.segments...)
}

// Rejected returns the documents answered as unprocessed.
func (s *Server) Rejected() []Rejected {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Rejected(nil), s.rejected...)
}

// Requests returns how many requests arrived, how many were refused as a whole, and how many
// GetSamplingRules were answered.
func (s *Server) Requests() (total, refused, samplingRules int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests, s.refused, s.sampling
}

// DefaultRule is the rule X-Ray creates in every account (one request a second, then 5 %); GetSamplingRules
// answers it, so a test can tell that a sampling proxy reached the peer with a valid signature.
const DefaultRule = "Default"

func (s *Server) samplingRules(w http.ResponseWriter) {
	s.mu.Lock()
	s.sampling++
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"SamplingRuleRecords": []any{map[string]any{
		"SamplingRule": map[string]any{"RuleName": DefaultRule, "RuleARN": "arn:aws:xray:us-east-1:000000000000:sampling-rule/Default",
			"Priority": 10000, "FixedRate": 0.05, "ReservoirSize": 1, "ServiceName": "*", "ServiceType": "*", "Host": "*",
			"HTTPMethod": "*", "URLPath": "*", "ResourceARN": "*", "Version": 1},
	}}})
}

type unprocessed struct {
	ID        string `json:"Id,omitempty"`
	ErrorCode string `json:"ErrorCode"`
	Message   string `json:"Message"`
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	s.mu.Unlock()
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	switch {
	case err != nil:
		s.fail(w, http.StatusBadRequest, "InvalidRequestException", "reading body: "+err.Error())
		return
	case len(body) > maxBody:
		s.fail(w, http.StatusRequestEntityTooLarge, "InvalidRequestException", "request over 5 MB")
		return
	}
	if err := s.verifier.Verify(r, body); err != nil {
		s.fail(w, http.StatusForbidden, "InvalidSignatureException", err.Error())
		return
	}
	if r.Method == http.MethodPost && r.URL.Path == "/GetSamplingRules" {
		s.samplingRules(w)
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != "/TraceSegments" {
		s.fail(w, http.StatusNotFound, "UnknownOperationException", r.Method+" "+r.URL.Path+" is not PutTraceSegments or GetSamplingRules")
		return
	}
	var in struct {
		TraceSegmentDocuments []string
	}
	if err := json.Unmarshal(body, &in); err != nil || len(in.TraceSegmentDocuments) == 0 {
		s.fail(w, http.StatusBadRequest, "InvalidRequestException", "want {\"TraceSegmentDocuments\": [one or more documents]}")
		return
	}
	out := struct {
		UnprocessedTraceSegments []unprocessed
	}{UnprocessedTraceSegments: []unprocessed{}}
	s.mu.Lock()
	for _, doc := range in.TraceSegmentDocuments {
		seg, err := ValidateSegment(doc)
		if err != nil {
			s.rejected = append(s.rejected, Rejected{Document: doc, Err: err})
			id, _ := seg["id"].(string)
			out.UnprocessedTraceSegments = append(out.UnprocessedTraceSegments, unprocessed{ID: id, ErrorCode: "InvalidSegment", Message: err.Error()})
			continue
		}
		s.segments = append(s.segments, seg)
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

func (s *Server) fail(w http.ResponseWriter, status int, code, message string) {
	s.mu.Lock()
	s.refused++
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", code)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": message})
}
