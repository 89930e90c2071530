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

	mu     sync.RWMutex // guards db and remote: pushes share it (agent appenders are concurrent), start and shutdown own it
	remote *remote.Storage
	db     *agent.DB
	stop   chan struct{} // ends the notifier
	done   chan struct{}
	warned warnOnce
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
	signal := newStartSignal(zapslog.NewHandler(e.logger.Core()))
	logger := slog.New(signal)
	noLocalData := func() (int64, error) { return math.MaxInt64, nil }
	rs := remote.NewStorage(logger.With("component", "remote"), e.reg, noLocalData, e.cfg.WAL.Directory, flushDeadline, nil, false)
	opts := agent.DefaultOptions()
	opts.WALCompression = compression.Snappy
	opts.TruncateFrequency = e.cfg.WAL.TruncateFrequency
	opts.MinWALTime = e.cfg.WAL.MinTime.Milliseconds()
	opts.MaxWALTime = e.cfg.WAL.MaxTime.Milliseconds()
	// The WAL first: the queue's watcher tails <directory>/wal and retries only every 5 s if it is missing.
	db, err := agent.Open(logger.With("component", "wal"), e.reg, rs, e.cfg.WAL.Directory, opts)
	if err != nil {
		_ = rs.Close()
		return fmt.Errorf("opening the WAL in wal.directory %q: %w", e.cfg.WAL.Directory, err)
	}
	if err := rs.ApplyConfig(&promconfig.Config{RemoteWriteConfigs: []*promconfig.RemoteWriteConfig{rw}}); err != nil {
		_ = db.Close()
		_ = rs.Close()
		return fmt.Errorf("starting the remote-write queue: %w", err)
	}
	db.SetWriteNotified(rs)
	e.mu.Lock()
	e.remote, e.db = rs, db
	e.stop, e.done = make(chan struct{}), make(chan struct{})
	e.mu.Unlock()
	go notifyEvery(rs, notifyInterval, e.stop, e.done)
	// Samples timestamped before the watcher's start are never sent: hold the pipeline until it started.
	select {
	case <-signal.started:
		// The watcher keeps samples with a timestamp strictly after its start, in milliseconds: let the
		// clock pass that millisecond before the first sample can be appended.
		time.Sleep(2 * time.Millisecond)
	case <-time.After(watcherStartTimeout):
		e.logger.Warn("Prometheus' WAL watcher did not report its start; samples older than its start are not sent",
			zap.Duration("waited", watcherStartTimeout))
	}
	return nil
}

// shutdown closes the WAL, then lets the queue manager flush for up to flushDeadline.
func (e *agentExporter) shutdown(context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	var errs []error
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
	e.db, e.remote = nil, nil
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
	app := e.db.Appender(ctx)
	res := appendSeries(app, series)
	if err := app.Commit(); err != nil {
		return fmt.Errorf("writing %d samples to the WAL: %w", res.appended, err)
	}
	e.telemetry.ExporterAgentRemoteWriteSamplesAppended.Add(ctx, int64(res.appended))
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
