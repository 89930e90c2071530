// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package k8spoddiagnosticsprocessor

import (
	"context"
	"fmt"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"
	"k8s.io/client-go/kubernetes"

	"github.com/otelcol-sre/otelcol-sre/internal/poddiagnosis/kubeclient"
	"github.com/otelcol-sre/otelcol-sre/internal/poddiagnosis/podcache"
	"github.com/otelcol-sre/otelcol-sre/processor/k8spoddiagnosticsprocessor/internal/metadata"
)

// ClientProvider builds the Kubernetes client for a processor configuration
// at Start. Tests pass a fake clientset, or a client for a test control
// plane (for example one bound to the shipped ClusterRole); the default
// connects as auth_type says.
type ClientProvider func(*Config) (kubernetes.Interface, error)

// NewFactory returns the factory of the k8spoddiagnostics processor.
func NewFactory() processor.Factory {
	return NewFactoryWithRegistry(func(cfg *Config) (kubernetes.Interface, error) {
		return kubeclient.New(cfg.APIConfig)
	}, podcache.Shared())
}

// NewFactoryWithClientProvider returns a factory whose processors get their
// Kubernetes client from provider instead of from auth_type, and share their
// caches only among themselves.
func NewFactoryWithClientProvider(provider ClientProvider) processor.Factory {
	return NewFactoryWithRegistry(provider, podcache.NewRegistry())
}

// NewFactoryWithRegistry returns a factory whose processors get their
// Kubernetes client from provider and share caches through reg (with the
// pod-diagnosis receivers that use reg too).
func NewFactoryWithRegistry(provider ClientProvider, reg *podcache.Registry) processor.Factory {
	f := &factory{provider: provider, shared: newSharedDiagnostics(reg)}
	return processor.NewFactory(
		metadata.Type,
		createDefaultConfig,
		processor.WithMetrics(f.createMetrics, metadata.MetricsStability),
		processor.WithLogs(f.createLogs, metadata.LogsStability),
		processor.WithTraces(f.createTraces, metadata.TracesStability),
	)
}

func createDefaultConfig() component.Config {
	return &Config{
		ComponentConfig: podcache.DefaultComponentConfig(),
		Association:     AssociationConfig{PodIPAttributes: []string{"k8s.pod.ip"}},
		Attributes: AttributesConfig{
			// None on metrics: a label that changes with the pod's state cuts
			// every series of the pod at each change (see README, Attributes).
			Metrics: []string{},
			Logs:    []string{"status", "stuck", "reason", "container", "message", "since", "hint"},
			Traces:  []string{"status", "stuck", "reason", "container", "message", "since", "hint"},
		},
	}
}

type factory struct {
	provider ClientProvider
	shared   *sharedDiagnostics
}

var capabilities = processorhelper.WithCapabilities(consumer.Capabilities{MutatesData: true})

func (f *factory) createMetrics(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Metrics) (processor.Metrics, error) {
	pd, sig, err := f.shared.acquire(set, cfg.(*Config), f.provider, signalMetrics)
	if err != nil {
		return nil, err
	}
	return processorhelper.NewMetrics(ctx, set, cfg, next, sig.processMetrics, capabilities,
		processorhelper.WithStart(pd.Start), processorhelper.WithShutdown(pd.Shutdown))
}

func (f *factory) createLogs(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Logs) (processor.Logs, error) {
	pd, sig, err := f.shared.acquire(set, cfg.(*Config), f.provider, signalLogs)
	if err != nil {
		return nil, err
	}
	return processorhelper.NewLogs(ctx, set, cfg, next, sig.processLogs, capabilities,
		processorhelper.WithStart(pd.Start), processorhelper.WithShutdown(pd.Shutdown))
}

func (f *factory) createTraces(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Traces) (processor.Traces, error) {
	pd, sig, err := f.shared.acquire(set, cfg.(*Config), f.provider, signalTraces)
	if err != nil {
		return nil, err
	}
	return processorhelper.NewTraces(ctx, set, cfg, next, sig.processTraces, capabilities,
		processorhelper.WithStart(pd.Start), processorhelper.WithShutdown(pd.Shutdown))
}

// sharedDiagnostics maps a processor configuration to its podDiagnostics.
type sharedDiagnostics struct {
	mu       sync.Mutex
	m        map[*Config]*podDiagnostics
	registry *podcache.Registry
}

func newSharedDiagnostics(reg *podcache.Registry) *sharedDiagnostics {
	return &sharedDiagnostics{m: map[*Config]*podDiagnostics{}, registry: reg}
}

func (s *sharedDiagnostics) acquire(set processor.Settings, cfg *Config, provider ClientProvider, kind signalKind) (*podDiagnostics, *signalProcessor, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pd := s.m[cfg]
	if pd == nil {
		tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
		if err != nil {
			return nil, nil, fmt.Errorf("creating the processor's telemetry: %w", err)
		}
		pd = &podDiagnostics{cfg: cfg, logger: set.Logger, provider: provider, tb: tb, registry: s.registry}
		pd.release = func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			delete(s.m, cfg)
		}
		s.m[cfg] = pd
	}
	pd.mu.Lock()
	pd.refs++
	pd.mu.Unlock()
	return pd, newSignalProcessor(pd, kind), nil
}
