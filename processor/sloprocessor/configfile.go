// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package sloprocessor

import (
	"fmt"
	"os"

	"go.opentelemetry.io/collector/confmap"
)

// LoadConfigFile reads the slo processor's configuration from path: the
// keys under processors: slo: on their own, or a collector config whose
// processors.<id> holds them.
func LoadConfigFile(path, id string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the config: %w", err)
	}
	retrieved, err := confmap.NewRetrievedFromYAML(b)
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", path, err)
	}
	raw, err := retrieved.AsRaw()
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", path, err)
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: want the keys of processors: slo: (evaluation_interval, slos, ...) at the top", path)
	}
	if procs, ok := m["processors"].(map[string]any); ok {
		if m, ok = procs[id].(map[string]any); !ok {
			return nil, fmt.Errorf("%s: no processors.%s — name the slo processor with --processor", path, id)
		}
	}
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	if err := confmap.NewFromStringMap(m).Unmarshal(cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}
