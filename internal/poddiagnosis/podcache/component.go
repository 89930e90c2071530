// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package podcache

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/otelcol-sre/otelcol-sre/internal/poddiagnosis/diagnosis"
	"github.com/otelcol-sre/otelcol-sre/internal/poddiagnosis/kubeclient"
)

// ComponentConfig is the configuration every pod-diagnosis component (the
// processor, the receiver) shares: how to reach the API server, which pods to
// cache and how to diagnose them. Components embed it with
// `mapstructure:",squash"`, so its keys sit at the top of their config.
type ComponentConfig struct {
	// APIConfig: auth_type (serviceAccount, kubeConfig, none), context,
	// kube_api_qps, kube_api_burst — as in k8sattributesprocessor.
	kubeclient.APIConfig `mapstructure:",squash"`

	// Filter selects the pods to cache.
	Filter FilterConfig `mapstructure:"filter"`
	// Events configures the optional Warning event informer.
	Events EventsConfig `mapstructure:"events"`
	// Thresholds are the ages after which slow states count as stuck.
	Thresholds ThresholdsConfig `mapstructure:"thresholds"`
	// MaxMessageLength cuts k8s.pod.diagnosis.message (bytes, 0 = no limit).
	MaxMessageLength int `mapstructure:"max_message_length"`
	// RediagnoseInterval re-evaluates every cached pod (age rules change with
	// time alone).
	RediagnoseInterval time.Duration `mapstructure:"rediagnose_interval"`
	// WaitForSync makes Start wait (up to WaitForSyncTimeout) until the pod
	// cache has listed once.
	WaitForSync        bool          `mapstructure:"wait_for_sync"`
	WaitForSyncTimeout time.Duration `mapstructure:"wait_for_sync_timeout"`
}

// FilterConfig selects the pods to cache.
type FilterConfig struct {
	// NodeFromEnvVar names an environment variable holding the node name
	// (from the downward API's spec.nodeName); only that node's pods are
	// cached. For the DaemonSet agent and the sidecar.
	NodeFromEnvVar string `mapstructure:"node_from_env_var"`
	// Namespaces to watch; empty watches all.
	Namespaces []string `mapstructure:"namespaces"`
	// Labels is a label selector in kubectl -l syntax.
	Labels string `mapstructure:"labels"`
}

// EventsConfig configures the Warning event informer.
type EventsConfig struct {
	// Enabled watches Warning events of pods; they explain ContainerCreating
	// (FailedMount, FailedAttachVolume, FailedCreatePodSandBox), NotReady
	// (Unhealthy) and image pull failures (Failed). Needs list/watch on events.
	Enabled bool `mapstructure:"enabled"`
	// Reasons are the event reasons kept (others are dropped at the informer).
	Reasons []string `mapstructure:"reasons"`
	// Window ignores events last seen longer ago.
	Window time.Duration `mapstructure:"window"`
	// MaxPerPod bounds the events read per pod (newest first).
	MaxPerPod int `mapstructure:"max_per_pod"`
}

// ThresholdsConfig are the ages after which slow states count as stuck.
type ThresholdsConfig struct {
	// Scheduling: Unschedulable, SchedulingGated or not yet scheduled.
	Scheduling time.Duration `mapstructure:"scheduling"`
	// Startup: ContainerCreating and init containers still running.
	Startup time.Duration `mapstructure:"startup"`
	// NotReady: running but not Ready.
	NotReady time.Duration `mapstructure:"not_ready"`
	// Terminating: still present this long after deletionTimestamp.
	Terminating time.Duration `mapstructure:"terminating"`
	// RestartWindow: restarts older than this are forgotten.
	RestartWindow time.Duration `mapstructure:"restart_window"`
}

// DefaultComponentConfig returns the defaults documented in the components'
// READMEs.
func DefaultComponentConfig() ComponentConfig {
	d := diagnosis.DefaultOptions()
	return ComponentConfig{
		APIConfig: kubeclient.APIConfig{AuthType: kubeclient.AuthTypeServiceAccount},
		Events: EventsConfig{
			Enabled:   true,
			Reasons:   append([]string(nil), diagnosis.DefaultEventReasons...),
			Window:    d.EventWindow,
			MaxPerPod: diagnosis.DefaultMaxEventsPerPod,
		},
		Thresholds: ThresholdsConfig{
			Scheduling:    d.SchedulingTimeout,
			Startup:       d.StartupTimeout,
			NotReady:      d.NotReadyTimeout,
			Terminating:   d.TerminatingTimeout,
			RestartWindow: d.RestartWindow,
		},
		MaxMessageLength:   d.MaxMessageLength,
		RediagnoseInterval: 30 * time.Second,
		WaitForSyncTimeout: 10 * time.Second,
	}
}

// Check validates the shared part of a component's configuration; every
// error names the field and the fix. (Not named Validate: the component's
// own Validate calls it, and the collector would otherwise run it twice.)
func (cfg *ComponentConfig) Check() error {
	errs := []error{cfg.APIConfig.Validate()}
	if cfg.Filter.NodeFromEnvVar != "" && strings.ContainsAny(cfg.Filter.NodeFromEnvVar, "$={} ") {
		errs = append(errs, fmt.Errorf("filter.node_from_env_var: %q must be the bare name of an environment variable, e.g. K8S_NODE_NAME (not ${env:...})", cfg.Filter.NodeFromEnvVar))
	}
	for i, ns := range cfg.Filter.Namespaces {
		if msgs := validation.IsDNS1123Label(ns); len(msgs) > 0 {
			errs = append(errs, fmt.Errorf("filter.namespaces[%d]: %q is not a namespace name (%s) — list plain namespace names", i, ns, strings.Join(msgs, "; ")))
		}
	}
	if _, err := labels.Parse(cfg.Filter.Labels); err != nil {
		errs = append(errs, fmt.Errorf("filter.labels: %q is not a label selector (%w) — use kubectl -l syntax, e.g. app.kubernetes.io/part-of=shop,tier!=batch", cfg.Filter.Labels, err))
	}
	for i, r := range cfg.Events.Reasons {
		if strings.TrimSpace(r) == "" {
			errs = append(errs, fmt.Errorf("events.reasons[%d]: empty reason — remove it or name an event reason such as FailedMount", i))
		}
	}
	errs = append(errs,
		nonNegative("events.window", cfg.Events.Window),
		nonNegative("thresholds.scheduling", cfg.Thresholds.Scheduling),
		nonNegative("thresholds.startup", cfg.Thresholds.Startup),
		nonNegative("thresholds.not_ready", cfg.Thresholds.NotReady),
		nonNegative("thresholds.terminating", cfg.Thresholds.Terminating),
		nonNegative("thresholds.restart_window", cfg.Thresholds.RestartWindow),
	)
	if cfg.Events.MaxPerPod < 0 {
		errs = append(errs, fmt.Errorf("events.max_per_pod: must not be negative, got %d — %d is the default", cfg.Events.MaxPerPod, diagnosis.DefaultMaxEventsPerPod))
	}
	if cfg.MaxMessageLength < 0 {
		errs = append(errs, fmt.Errorf("max_message_length: must not be negative, got %d — use 0 for no limit or e.g. %d", cfg.MaxMessageLength, diagnosis.DefaultOptions().MaxMessageLength))
	}
	if cfg.RediagnoseInterval <= 0 {
		errs = append(errs, fmt.Errorf("rediagnose_interval: must be positive, got %s — ages are re-evaluated on this tick; 30s is the default", cfg.RediagnoseInterval))
	}
	if cfg.WaitForSync && cfg.WaitForSyncTimeout <= 0 {
		errs = append(errs, fmt.Errorf("wait_for_sync_timeout: must be positive when wait_for_sync is true, got %s — e.g. 10s", cfg.WaitForSyncTimeout))
	}
	return errors.Join(errs...)
}

func nonNegative(field string, d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("%s: must not be negative, got %s — use a duration such as 5m", field, d)
	}
	return nil
}

// DiagnosisOptions converts the thresholds for the core.
func (cfg *ComponentConfig) DiagnosisOptions() diagnosis.Options {
	return diagnosis.Options{
		MaxMessageLength:   cfg.MaxMessageLength,
		SchedulingTimeout:  cfg.Thresholds.Scheduling,
		StartupTimeout:     cfg.Thresholds.Startup,
		NotReadyTimeout:    cfg.Thresholds.NotReady,
		TerminatingTimeout: cfg.Thresholds.Terminating,
		RestartWindow:      cfg.Thresholds.RestartWindow,
		EventWindow:        cfg.Events.Window,
	}
}

// NodeName resolves filter.node_from_env_var ("" when not set).
func (cfg *ComponentConfig) NodeName() (string, error) {
	env := cfg.Filter.NodeFromEnvVar
	if env == "" {
		return "", nil
	}
	node := os.Getenv(env)
	if node == "" {
		return "", fmt.Errorf("filter.node_from_env_var: environment variable %s is empty — set it from the downward API (fieldRef spec.nodeName)", env)
	}
	return node, nil
}

// CacheConfig is the cache's configuration for node (see NodeName).
func (cfg *ComponentConfig) CacheConfig(node string) Config {
	return Config{
		Namespaces:         cfg.Filter.Namespaces,
		NodeName:           node,
		LabelSelector:      cfg.Filter.Labels,
		Events:             cfg.Events.Enabled,
		EventReasons:       cfg.Events.Reasons,
		MaxEventsPerPod:    cfg.Events.MaxPerPod,
		RediagnoseInterval: cfg.RediagnoseInterval,
		Diagnosis:          cfg.DiagnosisOptions(),
	}
}

// AwaitSync waits, when wait_for_sync is set, until c has listed once.
func (cfg *ComponentConfig) AwaitSync(ctx context.Context, c *Cache) error {
	if !cfg.WaitForSync {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, cfg.WaitForSyncTimeout)
	defer cancel()
	if err := c.WaitForSync(wctx); err != nil {
		return fmt.Errorf("wait_for_sync: the pod cache did not sync within %s (%w) — check API server reachability and RBAC (list/watch pods), or raise wait_for_sync_timeout", cfg.WaitForSyncTimeout, err)
	}
	return nil
}
