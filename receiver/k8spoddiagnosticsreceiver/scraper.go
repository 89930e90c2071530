// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package k8spoddiagnosticsreceiver

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver"
	"go.uber.org/zap"
	"k8s.io/client-go/kubernetes"

	"github.com/otelcol-sre/otelcol-sre/internal/poddiagnosis/diagnosis"
	"github.com/otelcol-sre/otelcol-sre/internal/poddiagnosis/podcache"
	"github.com/otelcol-sre/otelcol-sre/receiver/k8spoddiagnosticsreceiver/internal/metadata"
)

// leaderElection is what the k8s_leader_elector extension offers its users
// (its LeaderElection interface, without importing the extension's module).
type leaderElection interface {
	SetCallBackFuncs(onStartLeading func(context.Context), onStopLeading func())
}

type diagnosisScraper struct {
	cfg      *Config
	logger   *zap.Logger
	provider ClientProvider
	registry *podcache.Registry
	now      func() time.Time
	mb       *metadata.MetricsBuilder

	cache   *podcache.Cache
	release func()
	// leading is true while this replica may report: always without a
	// leader elector, while it holds the lease with one.
	leading atomic.Bool
}

func newDiagnosisScraper(cfg *Config, set receiver.Settings, provider ClientProvider, reg *podcache.Registry, now func() time.Time) *diagnosisScraper {
	return &diagnosisScraper{cfg: cfg, logger: set.Logger, provider: provider, registry: reg, now: now,
		mb: metadata.NewMetricsBuilder(cfg.MetricsBuilderConfig, set)}
}

func (s *diagnosisScraper) start(ctx context.Context, host component.Host) error {
	if id := s.cfg.LeaderElector; id != nil {
		ext, ok := host.GetExtensions()[*id]
		if !ok {
			return fmt.Errorf("k8s_leader_elector: extension %s is not configured — add it under extensions and service.extensions", id)
		}
		le, ok := ext.(leaderElection)
		if !ok {
			return fmt.Errorf("k8s_leader_elector: extension %s is not a k8s_leader_elector", id)
		}
		le.SetCallBackFuncs(func(context.Context) {
			s.leading.Store(true)
			s.logger.Info("Leading: reporting pod diagnoses")
		}, func() {
			s.leading.Store(false)
			s.logger.Info("Lost the lease: another replica reports pod diagnoses")
		})
	} else {
		s.leading.Store(true)
	}
	node, err := s.cfg.NodeName()
	if err != nil {
		return err
	}
	c, release, err := s.registry.Acquire(&s.cfg.ComponentConfig, node, func() (kubernetes.Interface, error) {
		cs, err := s.provider(s.cfg)
		if err != nil {
			return nil, fmt.Errorf("connecting to the Kubernetes API: %w", err)
		}
		return cs, nil
	}, s.logger, nil)
	if err != nil {
		return err
	}
	s.cache, s.release = c, release
	return s.cfg.AwaitSync(ctx, c)
}

func (s *diagnosisScraper) shutdown(context.Context) error {
	if s.release != nil {
		s.release()
	}
	return nil
}

// scrape reports every diagnosed pod once: one k8s.pod.diagnosis point and,
// when the state's start is known, one k8s.pod.diagnosis.duration point.
// Healthy pods have no diagnosis and are not reported, so the series of a pod
// that recovers (or is deleted) goes stale.
func (s *diagnosisScraper) scrape(context.Context) (pmetric.Metrics, error) {
	if s.cache == nil || !s.leading.Load() {
		return pmetric.NewMetrics(), nil
	}
	now := s.now()
	ts := pcommon.NewTimestampFromTime(now)
	s.cache.Each(func(p *diagnosis.Pod, r *podcache.Result) {
		if !reported(p, r, s.cfg.Pods) {
			return
		}
		message := ""
		if s.cfg.IncludeMessage {
			message = r.Message
		}
		s.mb.RecordK8sPodDiagnosisDataPoint(ts, 1, r.Status, r.Stuck, r.Reason, r.Container, message)
		if !r.Since.IsZero() {
			s.mb.RecordK8sPodDiagnosisDurationDataPoint(ts, now.Sub(r.Since).Seconds(), r.Reason)
		}
		s.mb.EmitForResource(metadata.WithResource(s.resource(p)))
	})
	return s.mb.Emit(), nil
}

// reported tells whether a pod has a diagnosis this receiver reports.
func reported(p *diagnosis.Pod, r *podcache.Result, pods string) bool {
	if r.Reason == "" && !r.Stuck {
		return false
	}
	return pods != PodsUnscheduled || p.NodeName == ""
}

func (s *diagnosisScraper) resource(p *diagnosis.Pod) pcommon.Resource {
	rb := s.mb.NewResourceBuilder()
	rb.SetK8sPodUID(p.UID)
	rb.SetK8sPodName(p.Name)
	rb.SetK8sNamespaceName(p.Namespace)
	if p.NodeName != "" {
		rb.SetK8sNodeName(p.NodeName)
	}
	switch kind, name := p.OwnerKindName(); kind {
	case "Deployment":
		rb.SetK8sDeploymentName(name)
	case "ReplicaSet":
		rb.SetK8sReplicasetName(name)
	case "StatefulSet":
		rb.SetK8sStatefulsetName(name)
	case "DaemonSet":
		rb.SetK8sDaemonsetName(name)
	case "Job":
		rb.SetK8sJobName(name)
	}
	return rb.Emit()
}
