// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
	"testing"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"

	"github.com/otelcol-sre/otelcol-sre/internal/collectortest"
)

// rwCounter sits between the collector and Prometheus on its own loopback port and counts every sample of
// one metric that Prometheus acknowledged, per (run, shard, timestamp). Prometheus silently merges an exact
// duplicate, so duplicates are only visible here. down() closes the port (connection refused, like a dead
// backend) until up().
type rwCounter struct {
	metric string
	next   http.Handler
	port   int

	mu       sync.Mutex
	seen     map[string]int
	requests int
	statuses map[int]int
	srv      *httptest.Server
}

func newRWCounter(t *testing.T, metric string, prom *prometheusServer) *rwCounter {
	t.Helper()
	target, _ := url.Parse(prom.url())
	c := &rwCounter{metric: metric, next: httputil.NewSingleHostReverseProxy(target), port: collectortest.FreePort(t),
		seen: map[string]int{}, statuses: map[int]int{}}
	c.up(t)
	t.Cleanup(c.down)
	return c
}

func (c *rwCounter) url() string { return "http://127.0.0.1:" + strconv.Itoa(c.port) + "/api/v1/write" }

func (c *rwCounter) up(t *testing.T) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(c.port))
	if err != nil {
		t.Fatalf("rw counter listen: %v", err)
	}
	srv := httptest.NewUnstartedServer(c)
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	c.mu.Lock()
	c.srv = srv
	c.mu.Unlock()
}

func (c *rwCounter) down() {
	c.mu.Lock()
	srv := c.srv
	c.srv = nil
	c.mu.Unlock()
	if srv != nil {
		srv.CloseClientConnections()
		srv.Close()
	}
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) { r.status = code; r.ResponseWriter.WriteHeader(code) }

func (c *rwCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	c.next.ServeHTTP(rec, r)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests++
	c.statuses[rec.status]++
	if rec.status/100 != 2 {
		return
	}
	raw, err := snappy.Decode(nil, body)
	if err != nil {
		return
	}
	var wr prompb.WriteRequest
	if err := wr.Unmarshal(raw); err != nil {
		return
	}
	for _, ts := range wr.Timeseries {
		var name, run, shard string
		for _, l := range ts.Labels {
			switch l.Name {
			case "__name__":
				name = l.Value
			case "run":
				run = l.Value
			case "shard":
				shard = l.Value
			}
		}
		if name != c.metric {
			continue
		}
		for _, s := range ts.Samples {
			c.seen[run+"/"+shard+"/"+strconv.FormatInt(s.Timestamp, 10)]++
		}
	}
}

// tally returns, for one run, the distinct samples Prometheus acknowledged and how many extra copies of them
// it acknowledged again (duplicates).
func (c *rwCounter) tally(run string) (distinct, duplicates int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	prefix := run + "/"
	for k, n := range c.seen {
		if len(k) > len(prefix) && k[:len(prefix)] == prefix {
			distinct++
			duplicates += n - 1
		}
	}
	return distinct, duplicates
}

func (c *rwCounter) statusCounts() map[int]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := map[int]int{}
	for k, v := range c.statuses {
		m[k] = v
	}
	return m
}
