// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// seqSender sends numbered samples over OTLP/gRPC: tick i is one request carrying the gauge e2e.seq = i for
// each of `shards` series {run, shard}, at a timestamp strictly after the previous tick's. A tick counts as
// sent only once the collector acknowledged it; retryable refusals (Unavailable, ResourceExhausted, ...) are
// retried the way the OTLP exporter retries, permanent ones are counted as refused.
type seqSender struct {
	run      string
	shards   int
	metric   string
	instance string // service.instance.id (and so the instance label and target_info series); the run by default
	// resource holds more resource attributes; any non-identifying one makes the translation write target_info
	resource map[string]string

	mu       sync.Mutex
	conn     *grpc.ClientConn
	client   pmetricotlp.GRPCClient
	logs     plogotlp.GRPCClient // set by newLogSender: ticks are log records `run=<run> seq=<tick>`
	next     int
	lastTS   time.Time
	acked    []int // tick numbers the collector acknowledged
	refused  int   // ticks refused permanently
	attempts int
}

func newSeqSender(t *testing.T, endpoint, run string, shards int) *seqSender {
	t.Helper()
	conn, err := grpc.NewClient(endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &seqSender{run: run, shards: shards, metric: "e2e.seq", instance: run, conn: conn, client: pmetricotlp.NewGRPCClient(conn)}
}

// newLogSender sends numbered log records instead of metrics: tick i is one record with the body
// `run=<run> seq=<i>` (what lineCounter counts), with the same acknowledgement and retry rules.
func newLogSender(t *testing.T, endpoint, run string) *seqSender {
	t.Helper()
	s := newSeqSender(t, endpoint, run, 1)
	s.logs = plogotlp.NewGRPCClient(s.conn)
	return s
}

func (s *seqSender) logTick(i int, ts time.Time) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "e2e")
	lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetTimestamp(pcommon.NewTimestampFromTime(ts))
	lr.Body().SetStr(fmt.Sprintf("run=%s seq=%d", s.run, i))
	return ld
}

// export sends tick i once.
func (s *seqSender) export(ctx context.Context, i int, ts time.Time) error {
	if s.logs != nil {
		_, err := s.logs.Export(ctx, plogotlp.NewExportRequestFromLogs(s.logTick(i, ts)))
		return err
	}
	_, err := s.client.Export(ctx, pmetricotlp.NewExportRequestFromMetrics(s.tick(i, ts)))
	return err
}

func (s *seqSender) tick(i int, ts time.Time) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "e2e")
	rm.Resource().Attributes().PutStr("service.instance.id", s.instance)
	for k, v := range s.resource {
		rm.Resource().Attributes().PutStr(k, v)
	}
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName(s.metric)
	g := m.SetEmptyGauge()
	for k := range s.shards {
		dp := g.DataPoints().AppendEmpty()
		dp.Attributes().PutStr("run", s.run)
		dp.Attributes().PutStr("shard", strconv.Itoa(k))
		dp.SetTimestamp(pcommon.NewTimestampFromTime(ts))
		dp.SetDoubleValue(float64(i))
	}
	return md
}

func retryable(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.ResourceExhausted, codes.DeadlineExceeded, codes.Aborted, codes.Canceled:
		return true
	}
	return false
}

// sendNext sends the next tick, retrying until it is acknowledged, refused permanently, or ctx ends.
func (s *seqSender) sendNext(ctx context.Context) error {
	s.mu.Lock()
	i := s.next
	s.next++
	ts := time.Now().Truncate(time.Millisecond)
	if !ts.After(s.lastTS) {
		ts = s.lastTS.Add(time.Millisecond)
	}
	s.lastTS = ts
	s.mu.Unlock()
	backoff := 50 * time.Millisecond
	for {
		s.mu.Lock()
		s.attempts++
		s.mu.Unlock()
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := s.export(cctx, i, ts)
		cancel()
		if err == nil {
			s.mu.Lock()
			s.acked = append(s.acked, i)
			s.mu.Unlock()
			return nil
		}
		if !retryable(err) || ctx.Err() != nil {
			s.mu.Lock()
			s.refused++
			s.mu.Unlock()
			return fmt.Errorf("tick %d: %w", i, err)
		}
		select {
		case <-ctx.Done():
			s.mu.Lock()
			s.refused++
			s.mu.Unlock()
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// sendFor sends ticks every interval until d passes; errors stop nothing and are returned joined at the end.
func (s *seqSender) sendFor(ctx context.Context, d, interval time.Duration) []error {
	var errs []error
	end := time.Now().Add(d)
	for time.Now().Before(end) && ctx.Err() == nil {
		if err := s.sendNext(ctx); err != nil {
			errs = append(errs, err)
		}
		time.Sleep(interval)
	}
	return errs
}

// sendAllFor runs every sender's sendFor in the background, logging their errors; wait() returns when all
// are done.
func sendAllFor(t *testing.T, senders []*seqSender, d, interval time.Duration) (wait func()) {
	var wg sync.WaitGroup
	for _, s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, err := range s.sendFor(context.Background(), d, interval) {
				t.Logf("%s: %v", s.run, err)
			}
		}()
	}
	return wg.Wait
}

// ackedTicks is how many ticks were acknowledged and their sum (to check values, not only counts).
func (s *seqSender) ackedTicks() (n int, sum float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, i := range s.acked {
		sum += float64(i)
	}
	return len(s.acked), sum
}

// ackedList is the tick numbers the collector acknowledged.
func (s *seqSender) ackedList() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.acked...)
}

func (s *seqSender) counts() (sent, refused int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.next, s.refused
}

// every calls fn every interval until stop is called (and returned).
func every(interval time.Duration, fn func()) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for {
			select {
			case <-done:
				return
			case <-time.After(interval):
				fn()
			}
		}
	}()
	return func() { close(done); <-finished }
}

// heartbeat keeps a separate series flowing until stop is closed. The prometheusremotewrite WAL reader ships
// what it read only when its buffer fills or on the first read after truncate_frequency, so the tail of a
// stream waits for the next write; real collectors always have a next write, tests provide one.
func heartbeat(t *testing.T, endpoint, run string) (stop func()) {
	hb := newSeqSender(t, endpoint, run+"-heartbeat", 1)
	hb.metric = "e2e.heartbeat"
	ctx, cancel := context.WithCancel(context.Background())
	stopSending := every(100*time.Millisecond, func() { _ = hb.sendNext(ctx) })
	return func() { cancel(); stopSending() }
}
