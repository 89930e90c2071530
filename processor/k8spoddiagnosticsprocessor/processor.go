// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package k8spoddiagnosticsprocessor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otelcol-sre/otelcol-sre/processor/k8spoddiagnosticsprocessor/internal/metadata"
	"github.com/otelcol-sre/otelcol-sre/processor/k8spoddiagnosticsprocessor/internal/podcache"
)

// Resource attributes the association reads.
const (
	attrPodUID       = "k8s.pod.uid"
	attrPodName      = "k8s.pod.name"
	attrNamespace    = "k8s.namespace.name"
	watchLogInterval = time.Minute
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

// sharedDiagnostics maps a processor configuration to its podDiagnostics.
type sharedDiagnostics struct {
	mu sync.Mutex
	m  map[*Config]*podDiagnostics
}

func newSharedDiagnostics() *sharedDiagnostics {
	return &sharedDiagnostics{m: map[*Config]*podDiagnostics{}}
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
		pd = &podDiagnostics{cfg: cfg, logger: set.Logger, provider: provider, tb: tb}
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
		MaxMessageLength:   pd.cfg.MaxMessageLength,
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

// outcome of matching one resource.
type outcome int

const (
	outcomeAnnotated outcome = iota
	outcomeUnmatched
	outcomeUnidentified
	outcomeCount
)

// lookup finds the diagnosis of the pod a resource belongs to: by UID, then
// name + namespace, then pod IP attributes, then the connection's peer IP.
func (pd *podDiagnostics) lookup(ctx context.Context, c *podcache.Cache, attrs pcommon.Map) (*podcache.Result, outcome) {
	identified := false
	if uid, ok := str(attrs, attrPodUID); ok && uid != "" {
		identified = true
		if r, ok := c.ByUID(uid); ok {
			return r, outcomeAnnotated
		}
	}
	if name, ok := str(attrs, attrPodName); ok && name != "" {
		if ns, ok := str(attrs, attrNamespace); ok && ns != "" {
			identified = true
			if r, ok := c.ByName(ns, name); ok {
				return r, outcomeAnnotated
			}
		}
	}
	for _, key := range pd.cfg.Association.PodIPAttributes {
		if ip, ok := str(attrs, key); ok && ip != "" {
			identified = true
			if r, ok := c.ByIP(ip); ok {
				return r, outcomeAnnotated
			}
		}
	}
	if pd.cfg.Association.FromConnection {
		if ip := peerIP(ctx); ip != "" {
			identified = true
			if r, ok := c.ByIP(ip); ok {
				return r, outcomeAnnotated
			}
		}
	}
	if identified {
		return nil, outcomeUnmatched
	}
	return nil, outcomeUnidentified
}

// str returns a string attribute; other types are rendered as text.
func str(m pcommon.Map, key string) (string, bool) {
	v, ok := m.Get(key)
	if !ok {
		return "", false
	}
	if v.Type() == pcommon.ValueTypeStr {
		return v.Str(), true
	}
	return v.AsString(), true
}

// peerIP returns the IP of the client that sent the data, if the receiver
// recorded it.
func peerIP(ctx context.Context) string {
	switch a := client.FromContext(ctx).Addr.(type) {
	case nil:
		return ""
	case *net.TCPAddr:
		return a.IP.String()
	case *net.UDPAddr:
		return a.IP.String()
	case *net.IPAddr:
		return a.IP.String()
	default:
		host, _, err := net.SplitHostPort(a.String())
		if err != nil {
			return a.String()
		}
		return host
	}
}
