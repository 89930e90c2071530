// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package deploy_test

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/otelcol-sre/otelcol-sre/internal/collectortest"
)

// featureGateArgs returns the --feature-gates arguments of the containers that run the config set `set`
// (TestCollectorConfigsValidate passes them to `otelcol-sre validate`, which refuses an unknown gate).
func featureGateArgs(t *testing.T, set []string) []string {
	t.Helper()
	var out []string
	for _, c := range containersRunning(t, set) {
		for _, a := range c.Args {
			if strings.HasPrefix(a, "--feature-gates=") && !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	return out
}

// containersRunning returns every rendered container that runs exactly the config set `set`.
func containersRunning(t *testing.T, set []string) []corev1.Container {
	t.Helper()
	var out []corev1.Container
	for _, p := range podTemplates(t) {
		for _, c := range p.template.Spec.Containers {
			if slices.Equal(configArgs(c.Args), set) {
				out = append(out, c)
			}
		}
	}
	return out
}

// Every container whose configs run prometheus_remote_write enables the gates that exporter needs in
// deploy (collectortest.DeployFeatureGates: 429 is retried, not a permanent error that stalls the WAL);
// the end-to-end tests run the binary with the same gates.
func TestRemoteWriteContainersEnableDeployFeatureGates(t *testing.T) {
	n := 0
	for _, p := range podTemplates(t) {
		for _, c := range p.template.Spec.Containers {
			if !slices.Contains(referencedComponents(t, configArgs(c.Args)), "exporters/prometheus_remote_write") {
				continue
			}
			n++
			if !slices.Contains(c.Args, collectortest.FeatureGatesFlag) {
				t.Errorf("%s %s container %s runs prometheus_remote_write without %s (args %v)",
					p.overlay, p.workload, c.Name, collectortest.FeatureGatesFlag, c.Args)
			}
		}
	}
	if n < 2 {
		t.Fatalf("%d containers run prometheus_remote_write, want at least gateway-slo and agent-direct's agent", n)
	}
}
