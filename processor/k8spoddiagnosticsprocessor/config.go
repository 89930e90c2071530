// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package k8spoddiagnosticsprocessor

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/otelcol-sre/otelcol-sre/internal/poddiagnosis/diagnosis"
	"github.com/otelcol-sre/otelcol-sre/internal/poddiagnosis/podcache"
)

// Config configures the k8spoddiagnostics processor.
type Config struct {
	// ComponentConfig: the API connection, filter, events, thresholds,
	// max_message_length, rediagnose_interval and wait_for_sync, shared with
	// the k8spoddiagnostics receiver (equal settings share one cache).
	podcache.ComponentConfig `mapstructure:",squash"`

	// Association configures how a resource is matched to a pod.
	Association AssociationConfig `mapstructure:"association"`
	// Attributes selects, per signal, which k8s.pod.diagnosis.* attributes
	// are added.
	Attributes AttributesConfig `mapstructure:"attributes"`
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
	errs := []error{cfg.ComponentConfig.Check()}
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
	return errors.Join(errs...)
}
