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

// Every container that remote-writes to AMP enables collectortest.DeployFeatureGates, the gates the
// end-to-end tests run the binary with. amp.yaml's agent_remote_write does not need
// exporter.prometheusremotewritexporter.RetryOn429; it stays so that going back to prometheus_remote_write
// does not bring back the 429 stall.
func TestRemoteWriteContainersEnableDeployFeatureGates(t *testing.T) {
	checkContainersEnable(t, "exporters/agent_remote_write", collectortest.FeatureGatesFlag,
		"gateway-slo and agent-direct's agent")
}

// Every container whose configs run file_log enables stanza.synchronousLogEmitter
// (collectortest.FileLogFeatureGatesFlag): with file_log's retry_on_failure, a checkpoint then never moves
// past lines the persistent queue did not take (deploy/README.md "Nothing lost").
func TestFileLogContainersEnableSynchronousEmitter(t *testing.T) {
	checkContainersEnable(t, "receivers/file_log", collectortest.FileLogFeatureGatesFlag, "the agent and agent-direct's agent")
}

// checkContainersEnable: every container whose configs configure component passes flag; at least two do.
func checkContainersEnable(t *testing.T, component, flag, atLeast string) {
	t.Helper()
	n := 0
	for _, p := range podTemplates(t) {
		for _, c := range p.template.Spec.Containers {
			if !slices.Contains(referencedComponents(t, configArgs(c.Args)), component) {
				continue
			}
			n++
			if !slices.Contains(c.Args, flag) {
				t.Errorf("%s %s container %s runs %s without %s (args %v)", p.overlay, p.workload, c.Name, component, flag, c.Args)
			}
		}
	}
	if n < 2 {
		t.Fatalf("%d containers run %s, want at least %s", n, component, atLeast)
	}
}
