// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package agentremotewriteexporter

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// watcherReplayMessage is what Prometheus' WAL watcher (tsdb/wlog.Watcher.Run, v0.312.0) logs right after
// it fixed its start time. The watcher sends only samples timestamped after that moment; the exporter sends
// the others itself (replay.go).
const watcherReplayMessage = "Replaying WAL"

// startSignal is a slog handler around the engine's logger that closes started when the WAL watcher
// logs watcherReplayMessage, whatever the collector's log level, and keeps the time of the latest such
// record (no earlier than the watcher's start: the watcher restarts, with a new start, after an error);
// every other record passes through.
type startSignal struct {
	next    slog.Handler
	once    *sync.Once
	started chan struct{}
	at      *atomic.Int64 // Unix ms of the latest watcherReplayMessage record, 0 before
}

func newStartSignal(next slog.Handler) *startSignal {
	return &startSignal{next: next, once: &sync.Once{}, started: make(chan struct{}), at: &atomic.Int64{}}
}

// startedAt is the latest watcher start seen, in Unix ms (0: none yet).
func (s *startSignal) startedAt() int64 { return s.at.Load() }

func (s *startSignal) Enabled(context.Context, slog.Level) bool { return true }

func (s *startSignal) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == watcherReplayMessage {
		t := r.Time
		if t.IsZero() {
			t = time.Now()
		}
		s.at.Store(t.UnixMilli())
		s.once.Do(func() { close(s.started) })
	}
	if !s.next.Enabled(ctx, r.Level) {
		return nil
	}
	return s.next.Handle(ctx, r)
}

func (s *startSignal) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &startSignal{next: s.next.WithAttrs(attrs), once: s.once, started: s.started, at: s.at}
}

func (s *startSignal) WithGroup(name string) slog.Handler {
	return &startSignal{next: s.next.WithGroup(name), once: s.once, started: s.started, at: s.at}
}
