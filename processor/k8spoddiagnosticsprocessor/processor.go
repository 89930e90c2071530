// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package k8spoddiagnosticsprocessor

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"
	"k8s.io/client-go/kubernetes"

	"github.com/otelcol-sre/otelcol-sre/internal/poddiagnosis/podcache"
	"github.com/otelcol-sre/otelcol-sre/processor/k8spoddiagnosticsprocessor/internal/metadata"
)

// podDiagnostics is the state one processor configuration shares across the
// metrics, logs and traces pipelines it is used in: one cache, one set of
// informers, one telemetry builder.
type podDiagnostics struct {
	cfg      *Config
	logger   *zap.Logger
	provider ClientProvider
	tb       *metadata.TelemetryBuilder
	cache    atomic.Pointer[podcache.Cache]

	mu      sync.Mutex
	refs    int
	started bool
	release func()
	// registry shares the cache with the other pod-diagnosis components;
	// releaseCache gives it back.
	registry     *podcache.Registry
	releaseCache func()

	lastWatchLog atomic.Int64
}

// watchLogInterval is the least time between two logged list/watch failures.
const watchLogInterval = time.Minute

// Start acquires the shared cache (the first pod-diagnosis component with
// these settings builds the client and starts the informers); the first
// pipeline to start does it. It waits for the first sync only when
// wait_for_sync is set.
func (pd *podDiagnostics) Start(ctx context.Context, _ component.Host) error {
	pd.mu.Lock()
	defer pd.mu.Unlock()
	if pd.started {
		return nil
	}
	node, err := pd.cfg.NodeName()
	if err != nil {
		return err
	}
	c, release, err := pd.registry.Acquire(&pd.cfg.ComponentConfig, node, func() (kubernetes.Interface, error) {
		cs, err := pd.provider(pd.cfg)
		if err != nil {
			return nil, fmt.Errorf("connecting to the Kubernetes API: %w", err)
		}
		return cs, nil
	}, pd.logger, pd.onWatchError)
	if err != nil {
		return err
	}
	if err := errors.Join(
		pd.tb.RegisterK8sPodDiagnosticsPodsCachedCallback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(int64(c.Stats().Pods))
			return nil
		}),
		pd.tb.RegisterK8sPodDiagnosticsPodsStuckCallback(func(_ context.Context, o metric.Int64Observer) error {
			for reason, n := range c.Stats().StuckByReason {
				o.Observe(int64(n), metric.WithAttributes(attribute.String("reason", reason)))
			}
			return nil
		}),
	); err != nil {
		release()
		return fmt.Errorf("registering the processor's telemetry: %w", err)
	}
	pd.releaseCache = release
	pd.cache.Store(c)
	pd.started = true
	return pd.cfg.AwaitSync(ctx, c)
}

// Shutdown gives the cache back when the last pipeline using this
// configuration shuts down; the last component holding it stops the informers.
func (pd *podDiagnostics) Shutdown(context.Context) error {
	pd.mu.Lock()
	defer pd.mu.Unlock()
	pd.refs--
	if pd.refs > 0 {
		return nil
	}
	if pd.releaseCache != nil {
		pd.releaseCache()
	}
	pd.tb.Shutdown()
	pd.release()
	return nil
}

// onWatchError counts API server failures and logs at most one line per
// minute; the informers retry on their own.
func (pd *podDiagnostics) onWatchError(resource string, err error) {
	pd.tb.K8sPodDiagnosticsWatchErrors.Add(context.Background(), 1, metric.WithAttributes(attribute.String("resource", resource)))
	now := time.Now().UnixNano()
	last := pd.lastWatchLog.Load()
	if now-last < int64(watchLogInterval) || !pd.lastWatchLog.CompareAndSwap(last, now) {
		return
	}
	pd.logger.Warn("Kubernetes list/watch failed; serving the last known diagnoses while the informer retries",
		zap.String("resource", resource), zap.Error(err))
}
