// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package agentremotewriteexporter

import (
	"context"
	"log/slog"
	"sync"
)

// watcherReplayMessage is what Prometheus' WAL watcher (tsdb/wlog.Watcher.Run, v0.312.0) logs right after
// it fixed its start time. The watcher sends only samples timestamped after that moment, so the exporter
// accepts data only once it has seen this line (see start).
const watcherReplayMessage = "Replaying WAL"

// startSignal is a slog handler around the engine's logger that closes started when the WAL watcher
// logs watcherReplayMessage, whatever the collector's log level; every other record passes through.
type startSignal struct {
	next    slog.Handler
	once    *sync.Once
	started chan struct{}
}

func newStartSignal(next slog.Handler) *startSignal {
	return &startSignal{next: next, once: &sync.Once{}, started: make(chan struct{})}
}

func (s *startSignal) Enabled(context.Context, slog.Level) bool { return true }

func (s *startSignal) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == watcherReplayMessage {
		s.once.Do(func() { close(s.started) })
	}
	if !s.next.Enabled(ctx, r.Level) {
		return nil
	}
	return s.next.Handle(ctx, r)
}

func (s *startSignal) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &startSignal{next: s.next.WithAttrs(attrs), once: s.once, started: s.started}
}

func (s *startSignal) WithGroup(name string) slog.Handler {
	return &startSignal{next: s.next.WithGroup(name), once: s.once, started: s.started}
}
