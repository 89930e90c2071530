// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package podincidentexporter

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/otelcol-sre/otelcol-sre/exporter/podincidentexporter/internal/metadata"
)

// sink is one destination with its own delivery queue. Documents travel
// through exporterhelper as log records whose body is the document's JSON,
// so the persistent queue and the retry sender are exporterhelper's own.
type sink struct {
	name string
	cfg  SinkConfig
	// send delivers one document; it is set at start.
	send   func(ctx context.Context, doc *Document) error
	queue  exporter.Logs
	tel    *metadata.TelemetryBuilder
	logger *zap.Logger

	mu sync.Mutex
	// failing holds the failure classes already logged since the last
	// success: each problem is logged once, every attempt is counted.
	failing map[string]bool
}

// start builds the sink's HTTP client and its queue.
func (s *sink) start(ctx context.Context, host component.Host, set exporter.Settings, cfg *Config) error {
	var client *http.Client
	var err error
	switch {
	case s.cfg.Slack != nil:
		client = &http.Client{Timeout: cfg.Timeout, Transport: http.DefaultTransport}
		url, maxPods := string(s.cfg.Slack.WebhookURL), cmp.Or(s.cfg.Slack.MaxPods, defaultSlackMaxPods)
		s.send = func(ctx context.Context, doc *Document) error {
			return postJSON(ctx, client, url, renderSlack(doc, maxPods))
		}
	case s.cfg.Webhook != nil:
		if client, err = s.cfg.Webhook.ToClient(ctx, host.GetExtensions(), set.TelemetrySettings); err != nil {
			return fmt.Errorf("sinks %s: webhook client: %w", s.name, err)
		}
		url := s.cfg.Webhook.Endpoint
		s.send = func(ctx context.Context, doc *Document) error { return postJSON(ctx, client, url, doc) }
	case s.cfg.Alertmanager != nil:
		am := s.cfg.Alertmanager
		if client, err = am.ToClient(ctx, host.GetExtensions(), set.TelemetrySettings); err != nil {
			return fmt.Errorf("sinks %s: alertmanager client: %w", s.name, err)
		}
		url := strings.TrimSuffix(am.Endpoint, "/") + alertsPath
		resend := cmp.Or(am.ResendInterval, defaultResendInterval)
		s.send = func(ctx context.Context, doc *Document) error {
			return postJSON(ctx, client, url, renderAlerts(doc, time.Now(), resend, am.Labels))
		}
	}
	qs := set
	qs.ID = component.NewIDWithName(set.ID.Type(), queueName(set.ID, s.name))
	// exporterhelper logs every dropped request; the sink logs each
	// problem once and counts every attempt.
	qs.Logger = s.logger.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
		return zapcore.NewSamplerWithOptions(c, time.Hour, 1, 0)
	}))
	s.queue, err = exporterhelper.NewLogs(ctx, qs, cfg, s.push,
		exporterhelper.WithQueue(cfg.QueueConfig),
		exporterhelper.WithRetry(cfg.BackOffConfig),
		exporterhelper.WithTimeout(exporterhelper.TimeoutConfig{Timeout: cfg.Timeout}))
	if err != nil {
		return fmt.Errorf("sinks %s: queue: %w", s.name, err)
	}
	return s.queue.Start(ctx, host)
}

// queueName names a sink's queue (and its persistent queue's storage
// client): the exporter's name and the sink's.
func queueName(id component.ID, sinkName string) string {
	if id.Name() == "" {
		return sinkName
	}
	return id.Name() + "." + sinkName
}

func postJSON(ctx context.Context, client *http.Client, url string, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return consumererror.NewPermanent(&deliveryError{classRender, err})
	}
	return post(ctx, client, url, body)
}

// enqueue hands doc to the sink's queue; it never blocks on the peer.
func (s *sink) enqueue(ctx context.Context, doc *Document) {
	body, err := json.Marshal(doc)
	if err != nil {
		s.failed(ctx, doc.Kind, classRender, err)
		return
	}
	ld := plog.NewLogs()
	lr := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.Body().SetStr(string(body))
	lr.Attributes().PutStr("kind", doc.Kind)
	if err := s.queue.ConsumeLogs(ctx, ld); err != nil {
		s.failed(ctx, doc.Kind, classQueueFull, err)
	}
}

// push is the queue's consumer: it delivers the documents of ld.
func (s *sink) push(ctx context.Context, ld plog.Logs) error {
	var errs []error
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		sls := rls.At(i).ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			lrs := sls.At(j).LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				errs = append(errs, s.deliver(ctx, lrs.At(k).Body().Str()))
			}
		}
	}
	return errors.Join(errs...)
}

func (s *sink) deliver(ctx context.Context, body string) error {
	var doc Document
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		s.failed(ctx, "unknown", classRender, err)
		return nil
	}
	err := s.send(ctx, &doc)
	if err == nil {
		s.tel.ExporterPodIncidentNotificationsSent.Add(ctx, 1, metric.WithAttributes(
			attribute.String("sink", s.name), attribute.String("kind", doc.Kind)))
		s.mu.Lock()
		if len(s.failing) > 0 {
			s.logger.Info("notification delivery recovered", zap.String("sink", s.name))
			clear(s.failing)
		}
		s.mu.Unlock()
		return nil
	}
	s.failed(ctx, doc.Kind, classOf(err), err)
	if consumererror.IsPermanent(err) {
		// Counted and logged; retrying cannot help.
		return nil
	}
	return err
}

// failed counts a failed attempt and logs its class once until the sink
// delivers again.
func (s *sink) failed(ctx context.Context, kind, class string, err error) {
	s.tel.ExporterPodIncidentNotificationsFailed.Add(ctx, 1, metric.WithAttributes(
		attribute.String("sink", s.name), attribute.String("kind", kind), attribute.String("class", class)))
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failing[class] {
		return
	}
	s.failing[class] = true
	s.logger.Warn("notification delivery failing; further failures of this class are only counted until a delivery succeeds",
		zap.String("sink", s.name), zap.String("class", class), zap.Error(err))
}

func (s *sink) shutdown(ctx context.Context) error {
	if s.queue == nil {
		return nil
	}
	return s.queue.Shutdown(ctx)
}
