// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
	"google.golang.org/protobuf/encoding/protowire"
)

// rwCounter sits between the collector and Prometheus on its own loopback port and counts every sample of
// one metric that Prometheus acknowledged, per (run, shard, timestamp). Prometheus silently merges an exact
// duplicate, so duplicates are only visible here. down() closes the port (connection refused, like a dead
// backend) until up().
//
// It is also the AMP stand-in for throttling (AMP cannot run here): throttle() answers 429 with a
// Retry-After header, as AMP does above a workspace's ingestion quota. It is the loopback delay and fault
// proxy of the measurements too: delay adds a round trip to every request, refuse answers 400 to requests a
// predicate picks, and without Prometheus behind it (newRWCountingSink) it acknowledges everything itself.
type rwCounter struct {
	metric string
	next   http.Handler // nil: acknowledge every request (a sink that only counts)
	lb     *loopbackHTTP
	delay  time.Duration
	refuse func(series []prompb.TimeSeries) bool
	// total and delays count every sample of the metric acknowledged (duplicates included) and its delay
	// from its timestamp to the acknowledgement, in 10 ms buckets.
	total  int64
	delays []int64
	keyed  bool // whether samples are also keyed per run/shard/timestamp (seqSender's series)

	mu            sync.Mutex
	seen          map[string]int
	requests      int
	statuses      map[int]int
	throttleUntil time.Time
	retryAfter    time.Duration
	refused       map[string]int // samples of the metric per run in requests Prometheus answered non-2xx
}

func newRWCounter(t *testing.T, metric string, prom *prometheusServer) *rwCounter {
	t.Helper()
	target, _ := url.Parse(prom.url())
	c := newRWCountingSink(t, metric)
	c.next, c.keyed = httputil.NewSingleHostReverseProxy(target), true
	return c
}

// newRWCountingSink counts the samples of metric and acknowledges every request itself (204), so that the
// target's CPU is not what limits a throughput measurement.
func newRWCountingSink(t *testing.T, metric string) *rwCounter {
	t.Helper()
	c := &rwCounter{metric: metric, seen: map[string]int{}, statuses: map[int]int{}, refused: map[string]int{},
		delays: make([]int64, delayBuckets)}
	c.lb = newLoopbackHTTP(t, c)
	return c
}

// delayBuckets of 10 ms: up to 10 minutes; longer delays land in the last.
const delayBuckets = 60_000

// delayQuantile is the q-quantile of the acknowledged samples' delays (10 ms resolution) and their count.
func (c *rwCounter) delayQuantile(q float64) (time.Duration, int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var n int64
	for _, v := range c.delays {
		n += v
	}
	rank := int64(q * float64(n))
	var seen int64
	for i, v := range c.delays {
		seen += v
		if seen > rank {
			return time.Duration(i+1) * 10 * time.Millisecond, n
		}
	}
	return 0, n
}

// acknowledged is how many samples of the metric were acknowledged, duplicates included.
func (c *rwCounter) acknowledged() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}

func (c *rwCounter) url() string { return c.lb.url() + "/api/v1/write" }

// up serves again on the same port; down closes it.
func (c *rwCounter) up(t *testing.T) { t.Helper(); c.lb.up(t) }
func (c *rwCounter) down()           { c.lb.down() }

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) { r.status = code; r.ResponseWriter.WriteHeader(code) }

// throttle answers every request with 429 and Retry-After: retryAfter (whole seconds) for d from now.
func (c *rwCounter) throttle(d, retryAfter time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.throttleUntil = time.Now().Add(d)
	c.retryAfter = retryAfter
}

// snappyBuffers keeps the sink's decompression buffers between requests.
var snappyBuffers = sync.Pool{New: func() any { return new([]byte) }}

func unmarshalRW(raw []byte) []prompb.TimeSeries {
	var wr prompb.WriteRequest
	if err := wr.Unmarshal(raw); err != nil {
		return nil
	}
	return wr.Timeseries
}

// sampleTimestamps appends the timestamps of the samples of metric in an encoded WriteRequest to out. It
// walks the wire format instead of decoding into objects: the counting sink shares the two cores with the
// collector under test and must not be what limits a throughput measurement.
func sampleTimestamps(raw []byte, metric string, out []int64) ([]int64, error) {
	err := eachField(raw, func(num protowire.Number, ts []byte) error { // WriteRequest.timeseries = 1
		if num != 1 {
			return nil
		}
		named := false
		if err := eachField(ts, func(num protowire.Number, label []byte) error { // TimeSeries.labels = 1
			if num != 1 {
				return nil
			}
			var name, value []byte
			err := eachField(label, func(num protowire.Number, b []byte) error {
				switch num {
				case 1:
					name = b
				case 2:
					value = b
				}
				return nil
			})
			named = named || (string(name) == "__name__" && string(value) == metric)
			return err
		}); err != nil || !named {
			return err
		}
		return eachField(ts, func(num protowire.Number, sample []byte) error { // TimeSeries.samples = 2
			if num != 2 {
				return nil
			}
			var ts int64 // a zero timestamp is not on the wire
			for b := sample; len(b) > 0; {
				n, typ, m := protowire.ConsumeTag(b)
				if m < 0 {
					return protowire.ParseError(m)
				}
				b = b[m:]
				if n == 2 && typ == protowire.VarintType { // Sample.timestamp
					v, m := protowire.ConsumeVarint(b)
					if m < 0 {
						return protowire.ParseError(m)
					}
					ts = int64(v)
					b = b[m:]
					continue
				}
				if m = protowire.ConsumeFieldValue(n, typ, b); m < 0 {
					return protowire.ParseError(m)
				}
				b = b[m:]
			}
			out = append(out, ts)
			return nil
		})
	})
	return out, err
}

// eachField calls fn with the number and contents of every length-delimited field of msg and skips the rest.
func eachField(msg []byte, fn func(num protowire.Number, b []byte) error) error {
	for len(msg) > 0 {
		num, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			return protowire.ParseError(n)
		}
		msg = msg[n:]
		if typ != protowire.BytesType {
			if n = protowire.ConsumeFieldValue(num, typ, msg); n < 0 {
				return protowire.ParseError(n)
			}
			msg = msg[n:]
			continue
		}
		b, n := protowire.ConsumeBytes(msg)
		if n < 0 {
			return protowire.ParseError(n)
		}
		msg = msg[n:]
		if err := fn(num, b); err != nil {
			return err
		}
	}
	return nil
}

// keyedSamples lists the request's samples of the counted metric as run/shard/timestamp keys.
func (c *rwCounter) keyedSamples(series []prompb.TimeSeries) []string {
	if !c.keyed {
		return nil
	}
	var keys []string
	for _, ts := range series {
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
			keys = append(keys, run+"/"+shard+"/"+strconv.FormatInt(s.Timestamp, 10))
		}
	}
	return keys
}

func (c *rwCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if c.delay > 0 {
		time.Sleep(c.delay)
	}
	buf := snappyBuffers.Get().(*[]byte)
	defer snappyBuffers.Put(buf)
	raw, err := snappy.Decode((*buf)[:cap(*buf)], body)
	if err != nil {
		http.Error(w, "snappy: "+err.Error(), http.StatusBadRequest)
		return
	}
	*buf = raw
	counted, err := sampleTimestamps(raw, c.metric, nil)
	if err != nil {
		http.Error(w, "protobuf: "+err.Error(), http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	var series []prompb.TimeSeries
	if c.keyed || c.refuse != nil { // only these look into the series
		series = unmarshalRW(raw)
	}
	c.mu.Unlock()
	keys := c.keyedSamples(series)
	c.mu.Lock()
	c.requests++
	if time.Now().Before(c.throttleUntil) {
		c.statuses[http.StatusTooManyRequests]++
		w.Header().Set("Retry-After", strconv.Itoa(int(c.retryAfter.Seconds())))
		c.mu.Unlock()
		http.Error(w, "stand-in for AMP: ingestion rate limit exceeded", http.StatusTooManyRequests)
		return
	}
	c.mu.Unlock()
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusNoContent}
	c.mu.Lock()
	refuse := c.refuse != nil && c.refuse(series) // under mu: the predicate may keep state
	c.mu.Unlock()
	switch {
	case refuse:
		http.Error(rec, "refused by the fault proxy: bad sample", http.StatusBadRequest)
	case c.next != nil:
		c.next.ServeHTTP(rec, r)
	default:
		rec.WriteHeader(http.StatusNoContent)
	}
	now := time.Now().UnixMilli()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.statuses[rec.status]++
	if rec.status/100 != 2 {
		for _, k := range keys {
			run, _, _ := strings.Cut(k, "/")
			c.refused[run]++
		}
		return
	}
	for _, k := range keys {
		c.seen[k]++
	}
	for _, ts := range counted {
		c.total++
		c.delays[min(max(now-ts, 0)/10, delayBuckets-1)]++
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

// refusedSamples is how many samples of run were in requests Prometheus refused (not counting retries of
// the same request: each refusal counts its samples again).
func (c *rwCounter) refusedSamples(run string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.refused[run]
}
