// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package k8spoddiagnosticsprocessor

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/xconfmap"
	"go.yaml.in/yaml/v3"
)

// envRef matches ${env:NAME} and ${NAME}; the deploy configs resolve them at
// run time, the test substitutes a valid value.
var envRef = regexp.MustCompile(`\$\{(env:)?[A-Za-z_][A-Za-z0-9_]*\}`)

// TestDeployConfigsValidate: every k8spoddiagnostics section of the
// collector configs in deploy/configs unmarshals into Config and validates.
func TestDeployConfigsValidate(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "deploy", "configs", "*.yaml"))
	require.NoError(t, err)
	found := 0
	for _, file := range files {
		b, err := os.ReadFile(file)
		require.NoError(t, err)
		var doc struct {
			Processors map[string]map[string]any `yaml:"processors"`
		}
		require.NoError(t, yaml.Unmarshal([]byte(envRef.ReplaceAllString(string(b), "placeholder")), &doc), file)
		for id, section := range doc.Processors {
			if id != "k8spoddiagnostics" && !strings.HasPrefix(id, "k8spoddiagnostics/") {
				continue
			}
			found++
			t.Run(filepath.Base(file)+"/"+id, func(t *testing.T) {
				cfg := createDefaultConfig()
				require.NoError(t, confmap.NewFromStringMap(section).Unmarshal(cfg))
				assert.NoError(t, xconfmap.Validate(cfg))
			})
		}
	}
	if found == 0 {
		t.Skip("no k8spoddiagnostics section in deploy/configs")
	}
}
