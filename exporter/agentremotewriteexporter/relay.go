// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package agentremotewriteexporter

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/golang/snappy"
	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/sigv4"
	"go.uber.org/zap"

	"github.com/otelcol-sre/otelcol-sre/exporter/agentremotewriteexporter/internal/sentlog"
)

// The request headers of remote write the relay passes on to the endpoint.
var forwardedHeaders = []string{"Content-Encoding", "Content-Type", "User-Agent", "X-Prometheus-Remote-Write-Version"}

// sentLogCompactAt bounds the sent log on disk between compactions (one record per series and request).
const sentLogCompactAt = 64 << 20

// relay is the endpoint the queue manager writes to, on a loopback port: it passes each request on to the
// real endpoint (adding the configured headers and the SigV4 signature) and, before it hands the answer
// back, records per series the newest timestamp the endpoint answered for (sentlog). The queue manager keeps
// the samples of one series in order, so that timestamp splits the series' WAL samples into answered and
// not yet answered; a restart resends the latter (see replay.go). Prometheus' storage/remote exposes no
// such position, hence the loopback hop.
type relay struct {
	endpoint string
	headers  map[string]string
	client   *http.Client
	// retry429: whether the queue manager retries a 429 (queue_config.retry_on_http_429); if not, a 429
	// is dropped like any other 4xx and recorded as answered.
	retry429 bool
	logger   *zap.Logger

	mu     sync.Mutex
	sent   *sentlog.Log
	key    seriesKey
	decBuf []byte
	ents   []sentlog.Entry
	warned warnOnce

	ln  net.Listener
	srv *http.Server
}

func newRelay(cfg *Config, logPath string, logger *zap.Logger) (*relay, error) {
	rt, err := commoncfg.NewRoundTripperFromConfig(commoncfg.DefaultHTTPClientConfig, "agent_remote_write")
	if err != nil {
		return nil, err
	}
	if cfg.SigV4 != nil {
		rt, err = sigv4.NewSigV4RoundTripper(&sigv4.SigV4Config{Region: cfg.SigV4.Region, ServiceName: cfg.SigV4.Service, RoleARN: cfg.SigV4.RoleARN}, rt)
		if err != nil {
			return nil, fmt.Errorf("sigv4: %w", err)
		}
	}
	sent, err := sentlog.Open(logPath, sentLogCompactAt)
	if err != nil {
		return nil, fmt.Errorf("opening the sent log %s (in wal.directory): %w", logPath, err)
	}
	return &relay{endpoint: cfg.Endpoint, headers: cfg.Headers, client: &http.Client{Transport: rt, Timeout: cfg.Timeout},
		retry429: cfg.QueueConfig.RetryOnHTTP429, logger: logger, sent: sent, key: newSeriesKey()}, nil
}

// start listens on a loopback port and returns the URL the queue manager writes to.
func (r *relay) start() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	r.ln = ln
	r.srv = &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = r.srv.Serve(ln) }()
	return "http://" + ln.Addr().String() + "/", nil
}

// close stops the listener (after the queue manager stopped) and closes the sent log.
func (r *relay) close() error {
	var errs []error
	if r.srv != nil {
		errs = append(errs, r.srv.Close())
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	errs = append(errs, r.sent.Close())
	return errors.Join(errs...)
}

// answered is the newest timestamp of the series the endpoint answered for.
func (r *relay) answered(key uint64) (int64, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sent.Newest(key)
}

// forget drops sent-log entries older than before.
func (r *relay) forget(before int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent.Forget(before)
}

// answer is what the endpoint replied.
type answer struct {
	status     int
	retryAfter string
	body       []byte
}

// final: the answer settles the request (2xx, or a 4xx the sender does not retry).
func (r *relay) final(status int) bool {
	return status/100 == 2 || (status/100 == 4 && (status != http.StatusTooManyRequests || !r.retry429))
}

// forward sends one compressed remote-write request to the endpoint. It records the request's series in the
// sent log on a 2xx, and on a final refusal too when recordRefused (the queue manager drops those).
func (r *relay) forward(ctx context.Context, body []byte, h http.Header, recordRefused bool) (answer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.endpoint, bytes.NewReader(body))
	if err != nil {
		return answer{}, err
	}
	for _, k := range forwardedHeaders {
		if v := h.Get(k); v != "" {
			req.Header.Set(k, v)
		}
	}
	for k, v := range r.headers {
		req.Header.Set(k, v)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	_, _ = io.Copy(io.Discard, resp.Body)
	a := answer{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), body: msg}
	if a.status/100 == 2 || (recordRefused && r.final(a.status)) {
		r.record(body)
	}
	return a, nil
}

func (r *relay) record(body []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	raw, err := snappy.Decode(r.decBuf[:cap(r.decBuf)], body)
	if err == nil {
		r.decBuf = raw
		r.ents, err = newestPerSeries(r.key, raw, r.ents[:0])
	}
	if err == nil {
		err = r.sent.Record(r.ents)
	}
	if err != nil {
		r.warned.log(r.logger, "sent_log", "the sent log could not record an answered request; after a restart its samples are sent again", err)
	}
}

// ServeHTTP passes the queue manager's request on and hands back the endpoint's status, Retry-After and
// message; a request the endpoint could not be reached for is answered 503, which the queue manager retries.
func (r *relay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	a, err := r.forward(req.Context(), body, req.Header, true)
	if err != nil {
		http.Error(w, "agent_remote_write relay: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	if a.retryAfter != "" {
		w.Header().Set("Retry-After", a.retryAfter)
	}
	w.WriteHeader(a.status)
	_, _ = w.Write(a.body)
}

// retryAfter is the wait a Retry-After header asks for (seconds or an HTTP date), 0 if none.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return t.Sub(now)
	}
	return 0
}
