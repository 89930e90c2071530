// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package podincidentexporter

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otelcol-sre/otelcol-sre/exporter/podincidentexporter/internal/incident"
	"github.com/otelcol-sre/otelcol-sre/exporter/podincidentexporter/internal/metadata"
	"github.com/otelcol-sre/otelcol-sre/internal/storageclient"
)

// stateKey is the storage key of the incident table.
const stateKey = "incidents"

type podIncidentExporter struct {
	cfg    *Config
	set    exporter.Settings
	logger *zap.Logger
	tel    *metadata.TelemetryBuilder
	links  links
	now    func() time.Time

	sinks  []*sink
	byName map[string]*sink

	mu         sync.Mutex
	engine     *incident.Engine
	client     storage.Client
	lastResend map[string]time.Time
	// openReasons are the reasons the open gauge was last recorded for.
	openReasons map[string]bool
	stateFailed bool

	stop chan struct{}
	done chan struct{}
}

func newExporter(set exporter.Settings, cfg *Config, now func() time.Time) (*podIncidentExporter, error) {
	tel, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, fmt.Errorf("creating the pod_incident exporter's telemetry: %w", err)
	}
	l, err := newLinks(cfg.RunbookURL, cfg.DashboardURL)
	if err != nil {
		return nil, err
	}
	e := &podIncidentExporter{cfg: cfg, set: set, logger: set.Logger, tel: tel, links: l, now: now,
		byName: map[string]*sink{}, lastResend: map[string]time.Time{}, openReasons: map[string]bool{}}
	for _, sc := range cfg.Sinks {
		s := &sink{name: sc.Name, cfg: sc, tel: tel, logger: set.Logger, failing: map[string]bool{}}
		e.sinks = append(e.sinks, s)
		e.byName[sc.Name] = s
	}
	return e, nil
}

// settings converts the configuration for the core.
func (c *Config) settings() incident.Settings {
	s := incident.Settings{GroupWait: c.GroupWait, HoldDown: c.Resolve.HoldDown,
		RenotifyInterval: c.Renotify.Interval, RenotifyMax: c.Renotify.Max,
		StormMaxNew: c.Storm.MaxNew, StormWindow: c.Storm.Window,
		Startup: incident.StartupMode(c.Startup), StartupWindow: c.StartupWindow,
		Filter: incident.Filter{
			IncludeNamespaces: c.Filters.Include.Namespaces, ExcludeNamespaces: c.Filters.Exclude.Namespaces,
			IncludeReasons: c.Filters.Include.Reasons, ExcludeReasons: c.Filters.Exclude.Reasons,
			IncludeMessages: compileAll(c.Filters.Include.Messages), ExcludeMessages: compileAll(c.Filters.Exclude.Messages),
		}}
	for _, g := range c.GroupBy {
		s.GroupBy = append(s.GroupBy, incident.GroupKey(g))
	}
	return s
}

// compileAll compiles patterns Validate has checked.
func compileAll(patterns []string) []*regexp.Regexp {
	var out []*regexp.Regexp
	for _, p := range patterns {
		out = append(out, regexp.MustCompile(p))
	}
	return out
}

func (e *podIncidentExporter) start(ctx context.Context, host component.Host) error {
	e.engine = incident.New(e.cfg.settings(), e.now())
	if e.cfg.Storage != nil {
		if err := e.openStorage(ctx, host); err != nil {
			return err
		}
	}
	for _, s := range e.sinks {
		if err := s.start(ctx, host, e.set, e.cfg); err != nil {
			return err
		}
	}
	e.stop, e.done = make(chan struct{}), make(chan struct{})
	go e.loop()
	return nil
}

func (e *podIncidentExporter) openStorage(ctx context.Context, host component.Host) error {
	client, err := storageclient.Open(ctx, host, *e.cfg.Storage, component.KindExporter, e.set.ID, "incidents")
	if err != nil {
		return err
	}
	e.client = client
	data, err := client.Get(ctx, stateKey)
	switch {
	case err != nil:
		e.stateError(ctx, "reading the incident table", err)
	case data != nil:
		if err := e.engine.Restore(data, e.now()); err != nil {
			e.stateError(ctx, "restoring the incident table", err)
		}
	}
	return nil
}

// stateError counts a storage failure and logs the first of a run.
func (e *podIncidentExporter) stateError(ctx context.Context, what string, err error) {
	e.tel.ExporterPodIncidentStateErrors.Add(ctx, 1)
	if !e.stateFailed {
		e.stateFailed = true
		e.logger.Warn(what+" failed; incidents are kept in memory (further failures are only counted)",
			zap.String("storage", e.cfg.Storage.String()), zap.Error(err))
	}
}

func (e *podIncidentExporter) loop() {
	defer close(e.done)
	t := time.NewTicker(e.cfg.TickInterval)
	defer t.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-t.C:
			e.tick(context.Background())
		}
	}
}

func (e *podIncidentExporter) consume(ctx context.Context, md pmetric.Metrics) error {
	obs := observations(md)
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	e.dispatch(ctx, now, e.engine.Observe(now, obs))
	e.persist(ctx)
	return nil
}

func (e *podIncidentExporter) tick(ctx context.Context) {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	e.dispatch(ctx, now, e.engine.Tick(now))
	e.persist(ctx)
	open := e.engine.Open()
	e.refreshAlertmanagers(ctx, now, open)
	e.recordOpen(ctx, open)
}

// persist writes the table after edges were queued: a crash in between
// re-sends an edge, it never loses one.
func (e *podIncidentExporter) persist(ctx context.Context) {
	if e.client == nil || !e.engine.Changed() {
		return
	}
	data, err := e.engine.Encode()
	if err == nil {
		err = e.client.Set(ctx, stateKey, data)
	}
	if err != nil {
		e.stateError(ctx, "writing the incident table", err)
	}
}

// routeOf returns the sinks of namespace ns.
func (e *podIncidentExporter) routeOf(ns string) []*sink {
	if len(e.cfg.Routes) == 0 {
		return e.sinks
	}
	for _, r := range e.cfg.Routes {
		if len(r.Namespaces) == 0 || slices.Contains(r.Namespaces, ns) {
			out := make([]*sink, 0, len(r.Sinks))
			for _, n := range r.Sinks {
				out = append(out, e.byName[n])
			}
			return out
		}
	}
	return nil
}

// dispatch queues the documents of edges for the sinks their namespaces
// route to; a digest is split so each sink gets the items routed to it.
func (e *podIncidentExporter) dispatch(ctx context.Context, now time.Time, edges []incident.Edge) {
	for _, ed := range edges {
		items := []incident.Edge{ed}
		if ed.Kind == incident.Digest {
			items = ed.Items
		}
		perSink := map[*sink][]IncidentDoc{}
		for i := range items {
			it := &items[i]
			for _, s := range e.routeOf(it.Incident.Namespace) {
				perSink[s] = append(perSink[s], e.links.incidentDoc(e.cfg.Cluster, it.Kind, &it.Incident))
			}
		}
		for _, s := range e.sinks {
			if docs := perSink[s]; len(docs) > 0 {
				s.enqueue(ctx, &Document{Version: DocumentVersion, Kind: string(ed.Kind), Cause: ed.Cause, At: now.UTC(),
					Cluster: e.cfg.Cluster, Incidents: docs})
			}
		}
	}
}

// refreshAlertmanagers re-sends the firing alerts of every Alertmanager
// sink once per resend_interval.
func (e *podIncidentExporter) refreshAlertmanagers(ctx context.Context, now time.Time, open []incident.Incident) {
	for _, s := range e.sinks {
		am := s.cfg.Alertmanager
		if am == nil || now.Sub(e.lastResend[s.name]) < cmp.Or(am.ResendInterval, defaultResendInterval) {
			continue
		}
		e.lastResend[s.name] = now
		var docs []IncidentDoc
		for i := range open {
			if slices.Contains(e.routeOf(open[i].Namespace), s) {
				docs = append(docs, e.links.incidentDoc(e.cfg.Cluster, "firing", &open[i]))
			}
		}
		if len(docs) > 0 {
			s.enqueue(ctx, &Document{Version: DocumentVersion, Kind: kindRefresh, At: now.UTC(), Cluster: e.cfg.Cluster, Incidents: docs})
		}
	}
}

// recordOpen sets the open-incidents gauge per reason, zero for reasons
// that are gone.
func (e *podIncidentExporter) recordOpen(ctx context.Context, open []incident.Incident) {
	counts := map[string]int64{}
	for r := range e.openReasons {
		counts[r] = 0
	}
	for i := range open {
		counts[open[i].Reason]++
	}
	clear(e.openReasons)
	for _, r := range slices.Sorted(maps.Keys(counts)) {
		e.tel.ExporterPodIncidentOpen.Record(ctx, counts[r], metric.WithAttributes(attribute.String("reason", r)))
		if counts[r] > 0 {
			e.openReasons[r] = true
		}
	}
}

func (e *podIncidentExporter) shutdown(ctx context.Context) error {
	if e.stop != nil {
		close(e.stop)
		<-e.done
	}
	var errs []error
	if e.engine != nil {
		e.mu.Lock()
		e.persist(ctx)
		e.mu.Unlock()
	}
	for _, s := range e.sinks {
		errs = append(errs, s.shutdown(ctx))
	}
	if e.client != nil {
		errs = append(errs, e.client.Close(ctx))
	}
	e.tel.Shutdown()
	return errors.Join(errs...)
}
