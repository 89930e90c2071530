// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package k8spoddiagnosticsreceiver

import (
	"errors"
	"fmt"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/scraper/scraperhelper"

	"github.com/otelcol-sre/otelcol-sre/internal/poddiagnosis/podcache"
	"github.com/otelcol-sre/otelcol-sre/receiver/k8spoddiagnosticsreceiver/internal/metadata"
)

// Which pods a receiver reports.
const (
	// PodsAll reports every cached pod that has a diagnosis.
	PodsAll = "all"
	// PodsUnscheduled reports only pods that no node has been assigned to:
	// the gateway's share when node agents report the pods of their node.
	PodsUnscheduled = "unscheduled"
)

// Config configures the k8spoddiagnostics receiver.
type Config struct {
	scraperhelper.ControllerConfig `mapstructure:",squash"`
	metadata.MetricsBuilderConfig  `mapstructure:",squash"`
	// ComponentConfig: the API connection, filter, events, thresholds,
	// max_message_length, rediagnose_interval and wait_for_sync, as in the
	// k8spoddiagnostics processor; equal settings share one cache with it.
	podcache.ComponentConfig `mapstructure:",squash"`

	// IncludeMessage puts Kubernetes' message (cut to max_message_length) on
	// k8s.pod.diagnosis; off, the message attribute is empty.
	IncludeMessage bool `mapstructure:"include_message"`
	// Pods: all (default) or unscheduled.
	Pods string `mapstructure:"pods"`
	// LeaderElector names a k8s_leader_elector extension; when set, only the
	// replica holding the lease reports, so N gateway replicas emit one copy.
	LeaderElector *component.ID `mapstructure:"k8s_leader_elector"`
}

// Validate checks the configuration; every error names the field and the fix.
func (cfg *Config) Validate() error {
	errs := []error{cfg.ComponentConfig.Check()}
	switch cfg.Pods {
	case PodsAll, PodsUnscheduled:
	default:
		errs = append(errs, fmt.Errorf("pods: unknown value %q — use %s (every diagnosed pod the cache holds) or %s (pods without a node, the gateway's share)", cfg.Pods, PodsAll, PodsUnscheduled))
	}
	if cfg.Pods == PodsUnscheduled && cfg.Filter.NodeFromEnvVar != "" {
		errs = append(errs, errors.New("pods: unscheduled reports pods without a node, but filter.node_from_env_var caches only one node's pods — drop one of them"))
	}
	if cfg.CollectionInterval <= 0 {
		errs = append(errs, fmt.Errorf("collection_interval: must be positive, got %s — e.g. 30s", cfg.CollectionInterval))
	}
	return errors.Join(errs...)
}
