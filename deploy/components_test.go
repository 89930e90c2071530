// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package deploy_test

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/xconfmap"
	"sigs.k8s.io/yaml"

	"github.com/otelcol-sre/otelcol-sre/exporter/podincidentexporter"
	"github.com/otelcol-sre/otelcol-sre/processor/k8spoddiagnosticsprocessor"
	"github.com/otelcol-sre/otelcol-sre/processor/sloprocessor"
	"github.com/otelcol-sre/otelcol-sre/receiver/ethtoolreceiver"
)

// envRef matches ${env:NAME} and ${NAME}; the pods resolve them at run time, the test puts a placeholder
// (a URL for NAME_URL, e.g. the Slack webhook from its Secret).
var envRef = regexp.MustCompile(`\$\{(env:)?[A-Za-z_][A-Za-z0-9_]*\}`)

func envPlaceholder(ref []byte) []byte {
	if bytes.HasSuffix(ref, []byte("_URL}")) {
		return []byte("https://placeholder.invalid/")
	}
	return []byte("placeholder")
}

// readConfigWithPlaceholders reads a config file with every environment reference replaced by a placeholder.
func readConfigWithPlaceholders(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(envRef.ReplaceAllFunc(b, envPlaceholder), &cfg); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return cfg
}

// Without the binary: every section of deploy/configs that configures one of our components unmarshals
// into that component's Config (unknown keys rejected) and passes its Validate; each of the components
// deploy runs is found at least once.
func TestOurComponentSectionsValidate(t *testing.T) {
	ours := map[string]struct {
		kind    string
		factory component.Factory
		must    bool // deploy/configs must configure it
	}{
		"ethtool":           {"receivers", ethtoolreceiver.NewFactory(), true},
		"k8spoddiagnostics": {"processors", k8spoddiagnosticsprocessor.NewFactory(), true},
		"slo":               {"processors", sloprocessor.NewFactory(), true},
		"pod_incident":      {"exporters", podincidentexporter.NewFactory(), false},
	}
	files, err := filepath.Glob(filepath.Join("configs", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]int{}
	for _, file := range files {
		cfg := readConfigWithPlaceholders(t, file)
		for typ, c := range ours {
			sections, _ := cfg[c.kind].(map[string]any)
			for id, v := range sections {
				if t, _, _ := strings.Cut(id, "/"); t != typ {
					continue
				}
				section, _ := v.(map[string]any)
				found[typ]++
				t.Run(filepath.Base(file)+"/"+id, func(t *testing.T) {
					def := c.factory.CreateDefaultConfig()
					if err := confmap.NewFromStringMap(section).Unmarshal(def); err != nil {
						t.Fatalf("unmarshal: %v", err)
					}
					if err := xconfmap.Validate(def); err != nil {
						t.Errorf("validate: %v", err)
					}
				})
			}
		}
	}
	for typ, c := range ours {
		if c.must && found[typ] == 0 {
			t.Errorf("no %s section in deploy/configs", typ)
		}
	}
}
