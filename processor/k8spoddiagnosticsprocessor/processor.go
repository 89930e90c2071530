// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package k8spoddiagnosticsprocessor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

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

	lastWatchLog atomic.Int64
}

// watchLogInterval is the least time between two logged list/watch failures.
const watchLogInterval = time.Minute

// Start builds the client and the cache and starts the informers; the first
// pipeline to start does it. It waits for the first sync only when
// wait_for_sync is set.
func (pd *podDiagnostics) Start(ctx context.Context, _ component.Host) error {
	pd.mu.Lock()
	defer pd.mu.Unlock()
	if pd.started {
		return nil
	}
	node := ""
	if env := pd.cfg.Filter.NodeFromEnvVar; env != "" {
		if node = os.Getenv(env); node == "" {
			return fmt.Errorf("filter.node_from_env_var: environment variable %s is empty — set it from the downward API (fieldRef spec.nodeName)", env)
		}
	}
	cs, err := pd.provider(pd.cfg)
	if err != nil {
		return fmt.Errorf("connecting to the Kubernetes API: %w", err)
	}
	c := podcache.New(cs, podcache.Config{
		Namespaces:         pd.cfg.Filter.Namespaces,
		NodeName:           node,
		LabelSelector:      pd.cfg.Filter.Labels,
		Events:             pd.cfg.Events.Enabled,
		EventReasons:       pd.cfg.Events.Reasons,
		MaxEventsPerPod:    pd.cfg.Events.MaxPerPod,
		RediagnoseInterval: pd.cfg.RediagnoseInterval,
		Diagnosis:          pd.cfg.diagnosisOptions(),
		OnWatchError:       pd.onWatchError,
	}, pd.logger)
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
		return fmt.Errorf("registering the processor's telemetry: %w", err)
	}
	// The informers outlive Start's context; Shutdown stops them.
	c.Start(context.Background())
	pd.cache.Store(c)
	pd.started = true
	pd.logger.Info("Pod diagnostics cache started", zap.Stringer("selection", c))
	if pd.cfg.WaitForSync {
		wctx, cancel := context.WithTimeout(ctx, pd.cfg.WaitForSyncTimeout)
		defer cancel()
		if err := c.WaitForSync(wctx); err != nil {
			return fmt.Errorf("wait_for_sync: the pod cache did not sync within %s (%w) — check API server reachability and RBAC (list/watch pods), or raise wait_for_sync_timeout", pd.cfg.WaitForSyncTimeout, err)
		}
	}
	return nil
}

// Shutdown stops the informers when the last pipeline using this
// configuration shuts down.
func (pd *podDiagnostics) Shutdown(context.Context) error {
	pd.mu.Lock()
	defer pd.mu.Unlock()
	pd.refs--
	if pd.refs > 0 {
		return nil
	}
	if c := pd.cache.Load(); c != nil {
		c.Stop()
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
