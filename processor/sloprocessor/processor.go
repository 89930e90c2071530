// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package sloprocessor

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otelcol-sre/otelcol-sre/internal/storageclient"
	"github.com/otelcol-sre/otelcol-sre/processor/sloprocessor/internal/metadata"
)

// stateKey is the storage key of the processor's state.
const stateKey = "slo_state"

type sloProcessor struct {
	cfg    *Config
	set    processor.Settings
	logger *zap.Logger
	next   consumer.Metrics
	tel    *metadata.TelemetryBuilder
	now    func() time.Time

	mu sync.Mutex // guards ev
	ev *Evaluator

	// Owned by the timer goroutine (and shutdown after it stopped).
	reported        [numReasons]int64
	reportedCounted int64
	lastPersist     time.Time
	client          storage.Client
	warnedConsume   bool

	stop chan struct{}
	done chan struct{}
}

var reasonAttrs = func() (out [numReasons]metric.AddOption) {
	for r := range numReasons {
		out[r] = metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", r.String())))
	}
	return out
}()

func newSLOProcessor(set processor.Settings, cfg *Config, next consumer.Metrics, now func() time.Time) (*sloProcessor, error) {
	ev, err := NewEvaluator(cfg, set.TelemetrySettings, now())
	if err != nil {
		return nil, err
	}
	ev.ZeroStartEvents = true
	tel, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, fmt.Errorf("creating the slo processor's telemetry: %w", err)
	}
	return &sloProcessor{cfg: cfg, set: set, logger: set.Logger, next: next, tel: tel, now: now, ev: ev}, nil
}

func (p *sloProcessor) processMetrics(ctx context.Context, md pmetric.Metrics) (pmetric.Metrics, error) {
	now := p.now()
	p.mu.Lock()
	p.ev.Consume(ctx, now, md)
	p.mu.Unlock()
	return md, nil
}

func (p *sloProcessor) start(ctx context.Context, host component.Host) error {
	if p.cfg.Storage != nil {
		if err := p.openStorage(ctx, host); err != nil {
			return err
		}
	}
	p.stop, p.done = make(chan struct{}), make(chan struct{})
	go p.run()
	return nil
}

func (p *sloProcessor) openStorage(ctx context.Context, host component.Host) error {
	client, err := storageclient.Open(ctx, host, *p.cfg.Storage, component.KindProcessor, p.set.ID, "")
	if err != nil {
		return err
	}
	p.client = client
	b, err := client.Get(ctx, stateKey)
	if err != nil {
		p.tel.ProcessorSloStatePersistErrors.Add(ctx, 1)
		p.logger.Error("Cannot read SLO state; windows start empty", zap.Error(err))
		return nil
	}
	if b == nil {
		p.logger.Info("No SLO state stored yet; windows start empty and coverage shows them warming up")
		return nil
	}
	p.mu.Lock()
	restored, skipped, err := p.ev.RestoreState(b)
	p.mu.Unlock()
	if err != nil {
		p.tel.ProcessorSloStatePersistErrors.Add(ctx, 1)
		p.logger.Error("Stored SLO state is unreadable; the SLOs not yet restored start empty", zap.Error(err),
			zap.Strings("restored", restored))
		return nil
	}
	p.logger.Info("Restored SLO state", zap.Strings("restored", restored),
		zap.Strings("changed_or_removed", skipped))
	return nil
}

// run evaluates at every multiple of evaluation_interval (whole minutes with
// the default), where the windows' slots end and rules and dashboards read,
// so that every emitted window holds exactly (T-w, T].
func (p *sloProcessor) run() {
	defer close(p.done)
	interval := p.cfg.EvaluationInterval
	t := time.NewTimer(untilNextTick(p.now(), interval))
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			now := p.now()
			p.evaluate(context.Background(), now.Truncate(interval))
			t.Reset(untilNextTick(p.now(), interval))
		}
	}
}

// untilNextTick is the time from now to the next multiple of interval.
func untilNextTick(now time.Time, interval time.Duration) time.Duration {
	return now.Truncate(interval).Add(interval).Sub(now)
}

// evaluate emits the SLO metrics as of the tick at and the processor's own
// telemetry, and persists state when due.
func (p *sloProcessor) evaluate(ctx context.Context, now time.Time) {
	p.mu.Lock()
	md := p.ev.Evaluate(now)
	stats := p.ev.Stats()
	dropped, counted := p.ev.Dropped, p.ev.Counted
	var state []byte
	if p.client != nil && now.Sub(p.lastPersist) >= p.cfg.PersistInterval {
		state = p.ev.AppendState(nil)
	}
	p.mu.Unlock()

	for r := range numReasons {
		if d := dropped[r] - p.reported[r]; d > 0 {
			p.tel.ProcessorSloPointsDropped.Add(ctx, d, reasonAttrs[r])
		}
	}
	p.reported = dropped
	p.tel.ProcessorSloPointsCounted.Add(ctx, counted-p.reportedCounted)
	p.reportedCounted = counted
	p.tel.ProcessorSloSeriesTracked.Record(ctx, int64(stats.Series))
	p.tel.ProcessorSloGroups.Record(ctx, int64(stats.Groups))
	p.tel.ProcessorSloStateBytes.Record(ctx, stats.StateBytes)

	if md.DataPointCount() > 0 {
		if err := p.next.ConsumeMetrics(ctx, md); err != nil {
			if !p.warnedConsume {
				p.logger.Warn("The next consumer refused SLO metrics (logged once)", zap.Error(err))
				p.warnedConsume = true
			}
		}
	}
	if state != nil {
		p.persist(ctx, now, state)
	}
}

func (p *sloProcessor) persist(ctx context.Context, now time.Time, state []byte) {
	if err := p.client.Set(ctx, stateKey, state); err != nil {
		p.tel.ProcessorSloStatePersistErrors.Add(ctx, 1)
		p.logger.Warn("Cannot write SLO state", zap.Error(err))
		return
	}
	p.lastPersist = now
}

func (p *sloProcessor) shutdown(ctx context.Context) error {
	if p.stop != nil {
		close(p.stop)
		<-p.done
	}
	var err error
	if p.client != nil {
		p.mu.Lock()
		state := p.ev.AppendState(nil)
		p.mu.Unlock()
		if setErr := p.client.Set(ctx, stateKey, state); setErr != nil {
			err = fmt.Errorf("writing SLO state at shutdown: %w", setErr)
		}
		err = errors.Join(err, p.client.Close(ctx))
	}
	p.tel.Shutdown()
	return err
}
