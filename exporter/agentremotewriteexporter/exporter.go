// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package agentremotewriteexporter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"path/filepath"
	"sync"
	"time"

	prw "github.com/open-telemetry/opentelemetry-collector-contrib/pkg/translator/prometheusremotewrite"
	"github.com/prometheus/client_golang/prometheus"
	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	promconfig "github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/storage/remote"
	"github.com/prometheus/prometheus/tsdb/agent"
	"github.com/prometheus/prometheus/util/compression"
	"github.com/prometheus/sigv4"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"
	"go.uber.org/zap/exp/zapslog"

	"github.com/otelcol-sre/otelcol-sre/exporter/agentremotewriteexporter/internal/metadata"
)

// The reason attribute of exporter_agent_remote_write_samples_rejected.
var (
	reasonOutOfOrder  = attribute.NewSet(attribute.String("reason", "out_of_order"))
	reasonInvalid     = attribute.NewSet(attribute.String("reason", "invalid"))
	reasonTranslation = attribute.NewSet(attribute.String("reason", "translation"))
)

// flushDeadline bounds how long Shutdown waits for the queue manager to send what it holds; what it does
// not send stays in the WAL.
const flushDeadline = 10 * time.Second

// notifyInterval: the WAL watcher reads when a commit notifies it, and otherwise only every 15 s; a
// notification sent before it listens (right after start) is lost, so the exporter also notifies it on
// this tick. A read that finds nothing new is cheap.
const notifyInterval = time.Second

func notifyEvery(rs *remote.Storage, d time.Duration, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			rs.Notify()
		}
	}
}

// watcherStartTimeout bounds how long start waits for the WAL watcher (it starts within milliseconds).
const watcherStartTimeout = 30 * time.Second

// agentExporter appends translated samples to Prometheus' agent-mode WAL; Prometheus' remote storage tails
// that WAL and sends it through its queue manager.
type agentExporter struct {
	cfg       *Config
	logger    *zap.Logger
	settings  prw.Settings
	telemetry *metadata.TelemetryBuilder
	reg       *prometheus.Registry // the engine's own metrics, read by the telemetry callbacks

	mu       sync.RWMutex // guards the fields below: pushes share it (agent appenders are concurrent); start, shutdown and the queue's start own it
	remote   *remote.Storage
	db       *agent.DB
	relay    *relay
	resend   *resender
	signal   *startSignal
	late     *lateSender // nil until the queue manager started
	cancel   context.CancelFunc
	caughtUp chan struct{} // closed when catchUp returned
	queueUp  chan struct{} // closed when the queue manager's watcher started
	stop     chan struct{} // ends the notifier
	done     chan struct{}
	warned   warnOnce
}

func newExporter(set exporter.Settings, cfg *Config) (*agentExporter, error) {
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	e := &agentExporter{
		cfg:       cfg,
		logger:    set.Logger,
		telemetry: tb,
		reg:       prometheus.NewRegistry(),
		settings: prw.Settings{
			Namespace:           cfg.Namespace,
			ExternalLabels:      cfg.ExternalLabels,
			DisableTargetInfo:   !cfg.TargetInfo.Enabled,
			DisableScopeInfo:    cfg.DisableScopeInfo,
			TranslationStrategy: cfg.TranslationStrategy,
		},
	}
	if err := e.registerEngineTelemetry(); err != nil {
		return nil, err
	}
	return e, nil
}

// remoteWriteConfig is the Prometheus remote_write section the exporter's config stands for.
func (c *Config) remoteWriteConfig() (*promconfig.RemoteWriteConfig, error) {
	u, err := url.Parse(c.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("endpoint: %w", err)
	}
	rw := promconfig.DefaultRemoteWriteConfig
	rw.URL = &commoncfg.URL{URL: u}
	rw.Name = "agent_remote_write"
	rw.RemoteTimeout = model.Duration(c.Timeout)
	rw.Headers = c.Headers
	rw.SendExemplars = c.SendExemplars
	rw.SendNativeHistograms = c.SendNativeHistograms
	// Metadata goes through the scrape manager in Prometheus; the agent appender drops it (see README).
	rw.MetadataConfig.Send = false
	q := c.QueueConfig
	rw.QueueConfig = promconfig.QueueConfig{
		Capacity:          q.Capacity,
		MinShards:         q.MinShards,
		MaxShards:         q.MaxShards,
		MaxSamplesPerSend: q.MaxSamplesPerSend,
		BatchSendDeadline: model.Duration(q.BatchSendDeadline),
		MinBackoff:        model.Duration(q.MinBackoff),
		MaxBackoff:        model.Duration(q.MaxBackoff),
		RetryOnRateLimit:  q.RetryOnHTTP429,
		SampleAgeLimit:    model.Duration(q.SampleAgeLimit),
	}
	if c.SigV4 != nil {
		rw.SigV4Config = &sigv4.SigV4Config{Region: c.SigV4.Region, ServiceName: c.SigV4.Service, RoleARN: c.SigV4.RoleARN}
	}
	return &rw, nil
}

func (e *agentExporter) start(_ context.Context, _ component.Host) error {
	rw, err := e.cfg.remoteWriteConfig()
	if err != nil {
		return err
	}
	rl, err := newRelay(e.cfg, filepath.Join(e.cfg.WAL.Directory, sentLogFile), e.logger)
	if err != nil {
		return err
	}
	// Series older than the WAL can hold have nothing left to send.
	rl.forget(time.Now().Add(-e.cfg.WAL.MaxTime).UnixMilli())
	relayURL, err := rl.start()
	if err != nil {
		_ = rl.close()
		return fmt.Errorf("listening for the queue manager on loopback: %w", err)
	}
	// The queue manager writes to the relay, which adds the headers and the signature.
	u, _ := url.Parse(relayURL)
	rw.URL = &commoncfg.URL{URL: u}
	rw.Headers, rw.SigV4Config = nil, nil
	rw.RemoteTimeout = model.Duration(e.cfg.Timeout + relayTimeoutMargin)

	signal := newStartSignal(zapslog.NewHandler(e.logger.Core()))
	logger := slog.New(signal)
	noLocalData := func() (int64, error) { return math.MaxInt64, nil }
	rs := remote.NewStorage(logger.With("component", "remote"), e.reg, noLocalData, e.cfg.WAL.Directory, flushDeadline, nil, false)
	opts := agent.DefaultOptions()
	opts.WALCompression = compression.Snappy
	opts.TruncateFrequency = e.cfg.WAL.TruncateFrequency
	opts.MinWALTime = e.cfg.WAL.MinTime.Milliseconds()
	opts.MaxWALTime = e.cfg.WAL.MaxTime.Milliseconds()
	db, err := agent.Open(logger.With("component", "wal"), e.reg, rs, e.cfg.WAL.Directory, opts)
	if err != nil {
		_ = rs.Close()
		_ = rl.close()
		return fmt.Errorf("opening the WAL in wal.directory %q: %w", e.cfg.WAL.Directory, err)
	}
	db.SetWriteNotified(rs)
	q := e.cfg.QueueConfig
	rsnd := &resender{relay: rl, minBackoff: q.MinBackoff, maxBackoff: q.MaxBackoff, logger: e.logger}
	ctx, cancel := context.WithCancel(context.Background())
	e.mu.Lock()
	e.remote, e.db, e.relay, e.resend, e.signal = rs, db, rl, rsnd, signal
	e.cancel = cancel
	e.stop, e.done = make(chan struct{}), make(chan struct{})
	e.caughtUp, e.queueUp = make(chan struct{}), make(chan struct{})
	caughtUp, queueUp := e.caughtUp, e.queueUp
	e.mu.Unlock()
	go notifyEvery(rs, notifyInterval, e.stop, e.done)
	go e.catchUp(ctx, rw, logger)
	// Usually the WAL is sent (or empty) within moments: start with the queue manager running. A long
	// backlog, or an endpoint that is down, goes on in the background while appends are accepted.
	select {
	case <-queueUp:
	case <-caughtUp:
	case <-time.After(startWait):
		e.logger.Info("still resending the WAL's unsent samples; the queue manager starts when they are sent", zap.Duration("waited", startWait))
	}
	return nil
}

// startWait: how long start waits for the resend of the WAL's unsent samples and the queue manager's start.
const startWait = 5 * time.Second

// relayTimeoutMargin: the queue manager waits this much longer than the relay waits for the endpoint, so
// that it gets the relay's answer rather than its own timeout.
const relayTimeoutMargin = 5 * time.Second

// sentLogFile, in wal.directory, holds per series the newest timestamp the endpoint answered for.
const sentLogFile = "sent-log"

// catchUpRoundTimeout bounds the last round, during which appends are held.
const catchUpRoundTimeout = 10 * time.Second

// catchUp resends what the WAL holds beyond the sent log, then starts the queue manager (see replay.go):
// rounds while appends go on, until a round finds at most one request's worth; then, appends held, a last
// round and the queue manager's start, so that nothing falls between the replay and the watcher's start.
func (e *agentExporter) catchUp(ctx context.Context, rw *promconfig.RemoteWriteConfig, logger *slog.Logger) {
	defer close(e.caughtUp)
	q := e.cfg.QueueConfig
	workers := max(q.MinShards, min(q.MaxShards, replayWorkers))
	rd := newWALReader(filepath.Join(e.cfg.WAL.Directory, "wal"), logger.With("component", "replay"))
	defer rd.close()
	total := 0
	backoff := q.MinBackoff
	for ctx.Err() == nil {
		n, err := replayRound(ctx, rd, e.resend, workers, q.MaxSamplesPerSend)
		total += n
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			e.logger.Warn("resending the WAL's unsent samples", zap.Error(err))
			time.Sleep(backoff)
			backoff = min(2*backoff, q.MaxBackoff)
			continue
		}
		if n > q.MaxSamplesPerSend {
			continue
		}
		if e.startQueue(ctx, rd, rw, workers, &total) {
			break
		}
	}
	if total > 0 {
		e.logger.Info("resent the samples the WAL held beyond what the endpoint had answered for",
			zap.Int("samples", total), zap.Int64("refused", e.resend.refused.Load()))
	}
}

// startQueue holds appends, runs a last round and starts the queue manager; false if the round did not
// finish in time (appends are released and the rounds go on).
func (e *agentExporter) startQueue(ctx context.Context, rd *walReader, rw *promconfig.RemoteWriteConfig, workers int, total *int) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.db == nil {
		return true // shut down
	}
	rctx, cancel := context.WithTimeout(ctx, catchUpRoundTimeout)
	n, err := replayRound(rctx, rd, e.resend, workers, e.cfg.QueueConfig.MaxSamplesPerSend)
	cancel()
	*total += n
	if err != nil {
		return false
	}
	if err := e.remote.ApplyConfig(&promconfig.Config{RemoteWriteConfigs: []*promconfig.RemoteWriteConfig{rw}}); err != nil {
		e.logger.Error("starting the remote-write queue; samples stay in the WAL until the next start", zap.Error(err))
		return true
	}
	select {
	case <-e.signal.started:
		// The watcher keeps samples timestamped strictly after its start millisecond: let it pass.
		time.Sleep(2 * time.Millisecond)
	case <-time.After(watcherStartTimeout):
		e.logger.Warn("Prometheus' WAL watcher did not report its start", zap.Duration("waited", watcherStartTimeout))
	case <-ctx.Done():
	}
	e.late = startLateSender(ctx, e.resend)
	close(e.queueUp)
	return true
}

// replayWorkers: requests in flight while resending (within queue_config's shard bounds).
const replayWorkers = 8

// shutdown stops resending, closes the WAL, then lets the queue manager flush for up to flushDeadline;
// what is not sent stays in the WAL for the next start.
func (e *agentExporter) shutdown(context.Context) error {
	e.mu.Lock()
	if e.cancel != nil {
		e.cancel()
	}
	caughtUp := e.caughtUp
	e.mu.Unlock()
	if caughtUp != nil {
		<-caughtUp
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var errs []error
	if e.late != nil {
		e.late.stop()
		e.late = nil
	}
	if e.stop != nil {
		close(e.stop)
		<-e.done
		e.stop = nil
	}
	if e.db != nil {
		errs = append(errs, e.db.Close())
	}
	if e.remote != nil {
		errs = append(errs, e.remote.Close())
	}
	if e.relay != nil {
		errs = append(errs, e.relay.close())
	}
	e.db, e.remote, e.relay = nil, nil, nil
	e.telemetry.Shutdown()
	return errors.Join(errs...)
}

// pushMetrics translates md exactly as prometheus_remote_write does and appends it to the WAL in one
// commit. Samples the WAL refuses (out of order, invalid) and points the translation cannot express are
// counted and logged once per kind; only a failed commit (disk) is returned, so the caller retries.
func (e *agentExporter) pushMetrics(ctx context.Context, md pmetric.Metrics) error {
	series, translateErr := prw.FromMetrics(md, e.settings)
	if translateErr != nil {
		e.warned.log(e.logger, "translation", "some data points cannot be translated to Prometheus series and are dropped", translateErr)
		e.telemetry.ExporterAgentRemoteWriteSamplesRejected.Add(ctx, 1, metric.WithAttributeSet(reasonTranslation))
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.db == nil {
		return errors.New("agent_remote_write: not started or already shut down")
	}
	// Before the queue manager runs, catchUp sends everything; after, the watcher skips what is timestamped
	// at or before its start, and the late sender takes it.
	lateUpTo := int64(math.MinInt64)
	if e.late != nil {
		lateUpTo = e.signal.startedAt()
	}
	app := e.db.Appender(ctx)
	res := appendSeries(app, series, lateUpTo)
	if err := app.Commit(); err != nil {
		return fmt.Errorf("writing %d samples to the WAL: %w", res.appended, err)
	}
	e.telemetry.ExporterAgentRemoteWriteSamplesAppended.Add(ctx, int64(res.appended))
	if len(res.late) > 0 {
		e.late.offer(res.late)
	}
	if res.outOfOrder > 0 {
		e.telemetry.ExporterAgentRemoteWriteSamplesRejected.Add(ctx, int64(res.outOfOrder), metric.WithAttributeSet(reasonOutOfOrder))
		e.warned.log(e.logger, "out_of_order", "samples older than (or as old as) the last one of their series are dropped", res.firstErr)
	}
	if res.invalid > 0 {
		e.telemetry.ExporterAgentRemoteWriteSamplesRejected.Add(ctx, int64(res.invalid), metric.WithAttributeSet(reasonInvalid))
		e.warned.log(e.logger, "invalid", "invalid samples or series are dropped", res.firstErr)
	}
	return nil
}

// warnOnce logs the first occurrence of each kind of dropped data (the counters carry the rest).
type warnOnce struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (w *warnOnce) log(logger *zap.Logger, kind, msg string, err error) {
	w.mu.Lock()
	first := !w.seen[kind]
	if w.seen == nil {
		w.seen = map[string]bool{}
	}
	w.seen[kind] = true
	w.mu.Unlock()
	if first {
		logger.Warn(msg+" (logged once; see otelcol_exporter_agent_remote_write_samples_rejected)", zap.String("reason", kind), zap.Error(err))
	}
}
