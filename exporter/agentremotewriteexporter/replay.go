// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package agentremotewriteexporter

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
	"go.uber.org/zap"
)

// Prometheus' wlog.Watcher (v0.312.0) fixes its start at time.Now() and ships only samples timestamped
// after it. So the queue manager never sends (a) what a previous process appended but had not sent — a
// SIGKILL, an OOM kill, a Shutdown past its flush deadline — nor (b) samples that arrive late, timestamped
// before the watcher's start (an agent's persistent queue draining after a gateway restart). The exporter
// sends those itself, through the same relay and so the same sent log:
//   - at start, before the queue manager runs, every WAL sample newer than its series' answered timestamp
//     (catchUp), round after round while new data is appended, then — appends held for one short round —
//     the rest, and starts the queue manager;
//   - after that, samples timestamped at or before the watcher's start, as they are appended (lateSender).

// remoteWriteHeaders are the headers of a remote-write 1.0 request.
var remoteWriteHeaders = http.Header{
	"Content-Encoding":                  {"snappy"},
	"Content-Type":                      {"application/x-protobuf"},
	"User-Agent":                        {"otelcol-sre agent_remote_write"},
	"X-Prometheus-Remote-Write-Version": {"0.1.0"},
}

var errRefused = errors.New("refused")

// resender sends series the queue manager will not, retrying retryable answers with the queue's backoff
// (or the endpoint's Retry-After).
type resender struct {
	relay      *relay
	minBackoff time.Duration
	maxBackoff time.Duration
	logger     *zap.Logger
	sent       atomic.Int64 // samples acknowledged with 2xx
	refused    atomic.Int64 // samples the endpoint refused for good
	warned     warnOnce
}

func points(ts []prompb.TimeSeries) int {
	n := 0
	for _, s := range ts {
		n += len(s.Samples) + len(s.Histograms)
	}
	return n
}

// send delivers series (each one's points in timestamp order). A final refusal of a request with several
// series is retried series by series, and a series still refused loses its oldest point until the rest is
// taken: Prometheus refuses a whole request for one sample older than the newest it stored — a request the
// killed process sent but whose answer it never recorded. Returns ctx's error if it ended first.
func (s *resender) send(ctx context.Context, series []prompb.TimeSeries) error {
	err := s.sendOnce(ctx, series)
	if !errors.Is(err, errRefused) {
		return err
	}
	for _, one := range series {
		for {
			err := s.sendOnce(ctx, []prompb.TimeSeries{one})
			if !errors.Is(err, errRefused) {
				if err != nil {
					return err
				}
				break
			}
			s.warned.log(s.logger, "refused", "the endpoint refused resent samples; dropping a series' oldest samples until it takes the rest", err)
			switch {
			case len(one.Samples) > 0:
				one.Samples = one.Samples[1:]
			case len(one.Histograms) > 0:
				one.Histograms = one.Histograms[1:]
			}
			s.refused.Add(1)
			if len(one.Samples)+len(one.Histograms) == 0 {
				break
			}
		}
	}
	return nil
}

func (s *resender) sendOnce(ctx context.Context, series []prompb.TimeSeries) error {
	req := prompb.WriteRequest{Timeseries: series}
	raw, err := req.Marshal()
	if err != nil {
		return err
	}
	body := snappy.Encode(nil, raw)
	backoff := s.minBackoff
	for {
		a, err := s.relay.forward(ctx, body, remoteWriteHeaders, false)
		switch {
		case err == nil && a.status/100 == 2:
			s.sent.Add(int64(points(series)))
			return nil
		case err == nil && s.relay.final(a.status):
			return fmt.Errorf("%w: HTTP %d: %s", errRefused, a.status, a.body)
		}
		wait := backoff
		if err == nil {
			if ra := retryAfter(a.retryAfter, time.Now()); ra > 0 {
				wait = ra
			}
		}
		backoff = min(2*backoff, s.maxBackoff)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// batcher groups points into requests of up to perSend points, one per worker; a series always goes to the
// same worker, and each worker sends its requests one after the other, so a series' points stay in order.
type batcher struct {
	perSend int
	pending []map[uint64]int // series key → index in reqs[w]
	reqs    [][]prompb.TimeSeries
	counts  []int
	out     []chan []prompb.TimeSeries
}

func newBatcher(workers, perSend int) *batcher {
	b := &batcher{perSend: perSend, pending: make([]map[uint64]int, workers), reqs: make([][]prompb.TimeSeries, workers),
		counts: make([]int, workers), out: make([]chan []prompb.TimeSeries, workers)}
	for i := range workers {
		b.pending[i] = map[uint64]int{}
		b.out[i] = make(chan []prompb.TimeSeries, 1)
	}
	return b
}

// run starts the workers; they stop when close is called and return the first error (ctx's end).
func (b *batcher) run(ctx context.Context, s *resender) func() error {
	var wg sync.WaitGroup
	var first error
	var mu sync.Mutex
	for _, ch := range b.out {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for req := range ch {
				if err := s.send(ctx, req); err != nil {
					mu.Lock()
					first = cmpErr(first, err)
					mu.Unlock()
				}
			}
		}()
	}
	return func() error {
		for i := range b.out {
			b.flush(ctx, i)
			close(b.out[i])
		}
		wg.Wait()
		return first
	}
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func (b *batcher) add(ctx context.Context, ws walSeries, p walPoint) {
	w := int(ws.key % uint64(len(b.out)))
	i, ok := b.pending[w][ws.key]
	if !ok {
		i = len(b.reqs[w])
		b.pending[w][ws.key] = i
		b.reqs[w] = append(b.reqs[w], prompb.TimeSeries{Labels: prompb.FromLabels(ws.labels, nil)})
	}
	ts := &b.reqs[w][i]
	switch {
	case p.h != nil:
		ts.Histograms = append(ts.Histograms, prompb.FromIntHistogram(p.t, p.h))
	case p.fh != nil:
		ts.Histograms = append(ts.Histograms, prompb.FromFloatHistogram(p.t, p.fh))
	default:
		ts.Samples = append(ts.Samples, prompb.Sample{Timestamp: p.t, Value: p.v})
	}
	b.counts[w]++
	if b.counts[w] >= b.perSend {
		b.flush(ctx, w)
	}
}

func (b *batcher) flush(ctx context.Context, w int) {
	if b.counts[w] == 0 {
		return
	}
	select {
	case b.out[w] <- b.reqs[w]:
	case <-ctx.Done():
	}
	b.reqs[w], b.counts[w] = nil, 0
	clear(b.pending[w])
}

// replayRound sends every point read from the WAL since the last round that is newer than its series'
// answered timestamp, with workers requests in flight; it returns how many points it sent.
func replayRound(ctx context.Context, rd *walReader, s *resender, workers, perSend int) (int, error) {
	b := newBatcher(workers, perSend)
	wait := b.run(ctx, s)
	n := 0
	readErr := rd.read(func(ws walSeries, p walPoint) {
		if t, ok := s.relay.answered(ws.key); ok && p.t <= t {
			return
		}
		n++
		b.add(ctx, ws, p)
	})
	return n, errors.Join(readErr, wait())
}

// lateSender sends, in arrival order, the samples appended after the queue manager started but timestamped
// at or before its watcher's start. If it falls behind by more than its buffer, the rest stays in the WAL
// and goes at the next start (counted, logged once).
type lateSender struct {
	s        *resender
	ch       chan []prompb.TimeSeries
	deferred atomic.Int64
	done     chan struct{}
}

const lateBuffer = 1024

func startLateSender(ctx context.Context, s *resender) *lateSender {
	l := &lateSender{s: s, ch: make(chan []prompb.TimeSeries, lateBuffer), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		for req := range l.ch {
			if ctx.Err() != nil {
				continue // shutting down: what is left goes at the next start
			}
			_ = s.send(ctx, req)
		}
	}()
	return l
}

func (l *lateSender) offer(series []prompb.TimeSeries) {
	select {
	case l.ch <- series:
	default:
		l.deferred.Add(int64(points(series)))
		l.s.warned.log(l.s.logger, "late_deferred", "late samples (timestamped before the queue manager's start) arrive faster than they are sent; the rest is sent at the next start", nil)
	}
}

func (l *lateSender) stop() {
	close(l.ch)
	<-l.done
}
