// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package k8spoddiagnosticsprocessor

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/otelcol-sre/otelcol-sre/internal/poddiagnosis/diagnosis"
	"github.com/otelcol-sre/otelcol-sre/internal/poddiagnosis/kubeclient"
)

// Config configures the k8spoddiagnostics processor.
type Config struct {
	// APIConfig: auth_type (serviceAccount, kubeConfig, none), context,
	// kube_api_qps, kube_api_burst — as in k8sattributesprocessor.
	kubeclient.APIConfig `mapstructure:",squash"`

	// Filter selects the pods to cache.
	Filter FilterConfig `mapstructure:"filter"`
	// Events configures the optional Warning event informer.
	Events EventsConfig `mapstructure:"events"`
	// Association configures how a resource is matched to a pod.
	Association AssociationConfig `mapstructure:"association"`
	// Attributes selects, per signal, which k8s.pod.diagnosis.* attributes
	// are added.
	Attributes AttributesConfig `mapstructure:"attributes"`
	// Thresholds are the ages after which slow states count as stuck.
	Thresholds ThresholdsConfig `mapstructure:"thresholds"`
	// MaxMessageLength cuts k8s.pod.diagnosis.message (bytes, 0 = no limit).
	MaxMessageLength int `mapstructure:"max_message_length"`
	// RediagnoseInterval re-evaluates every cached pod (age rules change with
	// time alone).
	RediagnoseInterval time.Duration `mapstructure:"rediagnose_interval"`
	// WaitForSync makes Start wait (up to WaitForSyncTimeout) until the pod
	// cache has listed once. Off: data flows from the first moment and
	// resources are annotated as soon as their pod is known.
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

// AssociationConfig: a resource is matched by k8s.pod.uid, then by
// k8s.pod.name + k8s.namespace.name, then by the pod IP found in
// PodIPAttributes, then (optionally) by the connection's peer IP.
type AssociationConfig struct {
	// PodIPAttributes are resource attributes holding a pod IP, tried in
	// order. Only non-terminal, non-hostNetwork pods are matched by IP.
	// Empty disables IP association.
	PodIPAttributes []string `mapstructure:"pod_ip_attributes"`
	// FromConnection matches by the peer IP of the connection that sent the
	// data (as k8sattributesprocessor's `from: connection`); the receiver
	// must set include_metadata.
	FromConnection bool `mapstructure:"from_connection"`
}

// AttributesConfig selects attributes per signal, by short name: status,
// stuck, reason, container, message, since, hint.
type AttributesConfig struct {
	Metrics []string `mapstructure:"metrics"`
	Logs    []string `mapstructure:"logs"`
	Traces  []string `mapstructure:"traces"`
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

// attributeNames maps the short names of the config to attribute keys.
var attributeNames = map[string]string{
	"status":    diagnosis.AttributeStatus,
	"stuck":     diagnosis.AttributeStuck,
	"reason":    diagnosis.AttributeReason,
	"container": diagnosis.AttributeContainer,
	"message":   diagnosis.AttributeMessage,
	"since":     diagnosis.AttributeSince,
	"hint":      diagnosis.AttributeHint,
}

const attributeChoices = "status, stuck, reason, container, message, since, hint"

// Validate checks the configuration; every error names the field and the fix.
func (cfg *Config) Validate() error {
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
		errs = append(errs, fmt.Errorf("events.max_per_pod: must not be negative, got %d — 8 is the default", cfg.Events.MaxPerPod))
	}
	for i, a := range cfg.Association.PodIPAttributes {
		if a == "" {
			errs = append(errs, fmt.Errorf("association.pod_ip_attributes[%d]: empty attribute name — name a resource attribute such as k8s.pod.ip", i))
		}
	}
	for _, sig := range []struct {
		field string
		names []string
	}{{"attributes.metrics", cfg.Attributes.Metrics}, {"attributes.logs", cfg.Attributes.Logs}, {"attributes.traces", cfg.Attributes.Traces}} {
		for i, n := range sig.names {
			if _, ok := attributeNames[n]; !ok {
				hint := "use one of " + attributeChoices
				if short, found := strings.CutPrefix(n, "k8s.pod.diagnosis."); found {
					hint = "use the short name " + strconv.Quote(short)
				}
				errs = append(errs, fmt.Errorf("%s[%d]: unknown attribute %q — %s", sig.field, i, n, hint))
			}
		}
	}
	if cfg.MaxMessageLength < 0 {
		errs = append(errs, fmt.Errorf("max_message_length: must not be negative, got %d — use 0 for no limit or e.g. 512", cfg.MaxMessageLength))
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

// diagnosisOptions converts the thresholds for the core.
func (cfg *Config) diagnosisOptions() diagnosis.Options {
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
