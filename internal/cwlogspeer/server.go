// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

// Package cwlogspeer is a local protocol peer for tests, not AWS: an in-memory CloudWatch Logs endpoint on
// loopback that speaks the AWS JSON 1.1 protocol the AWS SDK's cloudwatchlogs client uses (CreateLogGroup,
// CreateLogStream, PutLogEvents, PutRetentionPolicy, TagResource), answers missing groups and streams with
// ResourceNotFoundException the way CloudWatch does, enforces PutLogEvents' batch rules, validates every event
// sent with `x-amzn-logs-format: json/emf` against the Embedded Metric Format specification (ValidateEMF), can
// check SigV4 (service "logs") with sigv4verify, and can be told to throttle or fail for a while.
package cwlogspeer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/otelcol-sre/otelcol-sre/internal/sigv4verify"
)

const (
	targetPrefix = "Logs_20140328."
	// Limits of PutLogEvents (CloudWatch Logs API reference).
	maxBatchEvents = 10000
	maxBatchBytes  = 1048576
	maxBatchSpanMs = 24 * 60 * 60 * 1000
)

// Event is one log event the peer accepted.
type Event struct {
	Group, Stream string
	Timestamp     int64 // ms
	Message       string
	EMF           bool // sent with x-amzn-logs-format: json/emf
}

// Invalid is an accepted event that failed EMF validation, with why. CloudWatch stores such events but
// extracts no metrics from them, so the peer keeps them and reports them instead of refusing them.
type Invalid struct {
	Event Event
	Err   error
}

// Fault is an error the peer answers PutLogEvents with while it is set.
type Fault struct {
	Status int    // HTTP status, e.g. 400 or 500
	Code   string // AWS error code, e.g. ThrottlingException, ServiceUnavailableException
}

var (
	// Throttling is how CloudWatch Logs answers a request over its rate quota.
	Throttling = Fault{Status: http.StatusBadRequest, Code: "ThrottlingException"}
	// Unavailable is CloudWatch Logs' 5xx answer.
	Unavailable = Fault{Status: http.StatusInternalServerError, Code: "ServiceUnavailableException"}
)

// Server is the peer. The zero value is not usable; call New.
type Server struct {
	verifier *sigv4verify.Verifier

	mu       sync.Mutex
	groups   map[string]map[string]bool // group → stream set
	events   []Event
	invalid  []Invalid
	fault    Fault
	faulted  int
	requests map[string]int // by operation
	nextSeq  int
}

// New returns an empty peer. With a verifier, every request must carry a valid SigV4 signature for it.
func New(verifier *sigv4verify.Verifier) *Server {
	return &Server{verifier: verifier, groups: map[string]map[string]bool{}, requests: map[string]int{}}
}

// SetFault makes every following PutLogEvents fail with f; the zero Fault makes the peer healthy again.
func (s *Server) SetFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = f
}

// Events returns the accepted events in arrival order.
func (s *Server) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Event(nil), s.events...)
}

// InvalidEMF returns the accepted EMF events that failed validation.
func (s *Server) InvalidEMF() []Invalid {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Invalid(nil), s.invalid...)
}

// Requests returns how many requests each operation got, and how many PutLogEvents were answered with a fault.
func (s *Server) Requests() (byOperation map[string]int, faulted int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := make(map[string]int, len(s.requests))
	for k, v := range s.requests {
		m[k] = v
	}
	return m, s.faulted
}

// apiError is an AWS JSON 1.1 error answer.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func clientError(code, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: code, message: fmt.Sprintf(format, args...)}
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 2*maxBatchBytes))
	if err != nil {
		writeError(w, clientError("SerializationException", "reading body: %v", err))
		return
	}
	if s.verifier != nil {
		if err := s.verifier.Verify(r, body); err != nil {
			writeError(w, &apiError{status: http.StatusForbidden, code: "InvalidSignatureException", message: err.Error()})
			return
		}
	}
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), targetPrefix)
	if r.Method != http.MethodPost || !ok {
		writeError(w, clientError("UnknownOperationException", "X-Amz-Target %q is not a CloudWatch Logs operation", r.Header.Get("X-Amz-Target")))
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
		writeError(w, clientError("SerializationException", "Content-Type %q, want application/x-amz-json-1.1", ct))
		return
	}
	s.mu.Lock()
	s.requests[op]++
	s.mu.Unlock()

	var out any
	var aerr *apiError
	switch op {
	case "CreateLogGroup":
		out, aerr = s.createLogGroup(body)
	case "CreateLogStream":
		out, aerr = s.createLogStream(body)
	case "PutLogEvents":
		out, aerr = s.putLogEvents(body, r.Header.Get("X-Amzn-Logs-Format") == "json/emf")
	case "PutRetentionPolicy", "TagResource", "TagLogGroup":
		out, aerr = s.existingGroupNoop(body)
	default:
		aerr = clientError("UnknownOperationException", "operation %s is not implemented by this peer", op)
	}
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(out)
}

func writeError(w http.ResponseWriter, e *apiError) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", e.code)
	w.WriteHeader(e.status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": e.code, "message": e.message})
}

func decode(body []byte, v any) *apiError {
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return clientError("SerializationException", "request body: %v", err)
	}
	return nil
}

type groupInput struct {
	LogGroupName string `json:"logGroupName"`
}

func (s *Server) createLogGroup(body []byte) (any, *apiError) {
	var in groupInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.LogGroupName == "" {
		return nil, clientError("InvalidParameterException", "logGroupName is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.groups[in.LogGroupName]; ok {
		return nil, clientError("ResourceAlreadyExistsException", "The specified log group already exists")
	}
	s.groups[in.LogGroupName] = map[string]bool{}
	return struct{}{}, nil
}

func (s *Server) existingGroupNoop(body []byte) (any, *apiError) {
	var in groupInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if in.LogGroupName != "" {
		if _, ok := s.groups[in.LogGroupName]; !ok {
			return nil, clientError("ResourceNotFoundException", "The specified log group does not exist.")
		}
	}
	return struct{}{}, nil
}

type streamInput struct {
	LogGroupName  string `json:"logGroupName"`
	LogStreamName string `json:"logStreamName"`
}

func (s *Server) createLogStream(body []byte) (any, *apiError) {
	var in streamInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.LogStreamName == "" {
		return nil, clientError("InvalidParameterException", "logStreamName is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	streams, ok := s.groups[in.LogGroupName]
	if !ok {
		return nil, clientError("ResourceNotFoundException", "The specified log group does not exist.")
	}
	if streams[in.LogStreamName] {
		return nil, clientError("ResourceAlreadyExistsException", "The specified log stream already exists")
	}
	streams[in.LogStreamName] = true
	return struct{}{}, nil
}

type putInput struct {
	LogGroupName  string `json:"logGroupName"`
	LogStreamName string `json:"logStreamName"`
	LogEvents     []struct {
		Timestamp *int64  `json:"timestamp"`
		Message   *string `json:"message"`
	} `json:"logEvents"`
}

func (s *Server) putLogEvents(body []byte, emf bool) (any, *apiError) {
	var in putInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := checkBatch(in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fault.Code != "" {
		s.faulted++
		return nil, &apiError{status: s.fault.Status, code: s.fault.Code, message: "injected by the test peer"}
	}
	streams, ok := s.groups[in.LogGroupName]
	if !ok {
		return nil, clientError("ResourceNotFoundException", "The specified log group does not exist.")
	}
	if !streams[in.LogStreamName] {
		return nil, clientError("ResourceNotFoundException", "The specified log stream does not exist.")
	}
	for _, e := range in.LogEvents {
		ev := Event{Group: in.LogGroupName, Stream: in.LogStreamName, Timestamp: *e.Timestamp, Message: *e.Message, EMF: emf}
		s.events = append(s.events, ev)
		if emf {
			if err := ValidateEMF(ev.Message); err != nil {
				s.invalid = append(s.invalid, Invalid{Event: ev, Err: err})
			}
		}
	}
	s.nextSeq++
	// CloudWatch still returns a sequence token; the contrib client stops retrying a batch only when it sees one.
	return map[string]string{"nextSequenceToken": strconv.Itoa(s.nextSeq)}, nil
}

// checkBatch applies PutLogEvents' documented batch rules.
func checkBatch(in putInput) *apiError {
	n := len(in.LogEvents)
	if in.LogGroupName == "" || in.LogStreamName == "" {
		return clientError("InvalidParameterException", "logGroupName and logStreamName are required")
	}
	if n == 0 || n > maxBatchEvents {
		return clientError("InvalidParameterException", "%d log events, want 1..%d", n, maxBatchEvents)
	}
	size := 0
	ts := make([]int64, 0, n)
	for i, e := range in.LogEvents {
		if e.Timestamp == nil || e.Message == nil {
			return clientError("InvalidParameterException", "logEvents[%d]: timestamp and message are required", i)
		}
		if l := len(*e.Message) + eventOverhead; l > MaxEventBytes {
			return clientError("InvalidParameterException", "logEvents[%d]: %d bytes, over the %d byte event limit", i, l, MaxEventBytes)
		}
		size += len(*e.Message) + eventOverhead
		ts = append(ts, *e.Timestamp)
	}
	if size > maxBatchBytes {
		return clientError("InvalidParameterException", "batch of %d bytes, over the %d byte limit", size, maxBatchBytes)
	}
	if !sort.SliceIsSorted(ts, func(i, j int) bool { return ts[i] < ts[j] }) {
		return clientError("InvalidParameterException", "Log events in a single PutLogEvents request must be in chronological order.")
	}
	if ts[n-1]-ts[0] > maxBatchSpanMs {
		return clientError("InvalidParameterException", "The batch of log events in a single PutLogEvents request cannot span more than 24 hours.")
	}
	return nil
}
