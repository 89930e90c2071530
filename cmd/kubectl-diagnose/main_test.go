// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/otelcol-sre/otelcol-sre/internal/poddiagnosis/diagnosis"
)

const now = "2026-11-22T12:00:00Z"

var coreTestdata = filepath.Join("..", "..", "internal", "poddiagnosis", "diagnosis", "testdata")

func noCluster(string, string) (kubernetes.Interface, string, error) {
	return nil, "", errors.New("no cluster in this test")
}

func runCLI(t *testing.T, stdin string, newClient clientProvider, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errOut, newClient)
	return code, out.String(), errOut.String()
}

func TestFileText(t *testing.T) {
	code, out, stderr := runCLI(t, "", noCluster, "-f", "testdata/pods.json", "--events", "testdata/events.json", "--now", now)
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, `shop/postgres-0	ContainerCreating	STUCK
  reason:    FailedAttachVolume
  since:     2026-11-22T11:45:00Z (15m0s ago)
  message:   Multi-Attach error for volume "pvc-3f1e2d4c-9a8b-4c7d-8e6f-5a4b3c2d1e0f" Volume is already used by pod(s) postgres-0-old
  hint:      the ReadWriteOnce volume is still attached to another node: wait for (or force) the old pod's deletion there, or use a ReadWriteMany volume
shop/checkout-7d9f8b6c5d-x2k4p	Running	ok
shop/analytics-7a8b9c0d1-f5g6h	Pending	STUCK
  reason:    Unschedulable
  since:     2026-11-22T11:50:00Z (10m0s ago)
  message:   0/5 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 4 Insufficient cpu. preemption: 0/5 nodes are available: 1 Preemption is not helpful for scheduling, 4 No preemption victims found for incoming pod.
  hint:      4 of 5 nodes: Insufficient cpu — lower the pod's resource requests or add node capacity (cluster autoscaler limits, instance types)
`, out)
}

func TestFileJSONKeyedByAttributeNames(t *testing.T) {
	code, out, stderr := runCLI(t, "", noCluster, "-o", "json", "--now", now,
		"-f", filepath.Join(coreTestdata, "pods", "crashloop_oomkilled.json"))
	require.Equal(t, 0, code, stderr)
	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	assert.Equal(t, map[string]any{
		"k8s.pod.name":               "recommender-5c6d7e8f9-k9l8m",
		"k8s.namespace.name":         "shop",
		"k8s.pod.uid":                got["k8s.pod.uid"],
		diagnosis.AttributeStatus:    "CrashLoopBackOff",
		diagnosis.AttributeStuck:     true,
		diagnosis.AttributeReason:    "OOMKilled",
		diagnosis.AttributeContainer: "recommender",
		diagnosis.AttributeMessage:   "OOMKilled (exit code 137)",
		diagnosis.AttributeSince:     "2026-11-22T11:59:00Z",
		diagnosis.AttributeHint:      "container recommender exceeded its memory limit: raise resources.limits.memory or reduce its memory use",
	}, got)
}

func TestFileFromStdinAndNowChangesStuck(t *testing.T) {
	pod, err := os.ReadFile(filepath.Join(coreTestdata, "pods", "creating_within_grace.json"))
	require.NoError(t, err)
	code, out, _ := runCLI(t, string(pod), noCluster, "-f", "-", "--now", now)
	require.Equal(t, 0, code)
	assert.Contains(t, out, "ContainerCreating\tok")
	code, out, _ = runCLI(t, string(pod), noCluster, "--now", "2026-11-22T12:30:00Z", "-f", "-")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "ContainerCreating\tSTUCK")
}

func TestPodFromClusterFakeClientset(t *testing.T) {
	pods, err := DecodePods(mustRead(t, "testdata/pods.json"))
	require.NoError(t, err)
	events, err := DecodeEvents(mustRead(t, "testdata/events.json"))
	require.NoError(t, err)
	cs := fake.NewClientset(&pods[0], &events[0], &events[1], &events[2], &events[3])
	var gotContext string
	provider := func(_, kubeContext string) (kubernetes.Interface, string, error) {
		gotContext = kubeContext
		return cs, "default", nil
	}
	code, out, stderr := runCLI(t, "", provider, "pod", "postgres-0", "-n", "shop", "--context", "prod", "--now", now)
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "prod", gotContext)
	assert.Contains(t, out, "shop/postgres-0\tContainerCreating\tSTUCK")
	assert.Contains(t, out, "reason:    FailedAttachVolume", "the other pod's and Normal events are ignored")

	code, _, stderr = runCLI(t, "", provider, "pod", "postgres-0", "--now", now)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, `getting pod default/postgres-0`, "the kubeconfig context's namespace is the default")
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		code int
		err  string
	}{
		{args: []string{"-o", "yaml", "-f", "testdata/pods.json"}, code: 1, err: `-o: unknown output format "yaml"`},
		{args: []string{"--now", "yesterday", "-f", "testdata/pods.json"}, code: 1, err: "--now: \"yesterday\" is not an RFC 3339 time"},
		{args: []string{"pod", "x", "-f", "testdata/pods.json"}, code: 1, err: "give either -f FILE or pod NAME"},
		{args: []string{"deployment", "x"}, code: 1, err: "usage: kubectl diagnose pod NAME"},
		{args: []string{"pod", "x", "--events", "testdata/events.json"}, code: 1, err: "--events only applies with -f"},
		{args: []string{"-f", "testdata/events.json"}, code: 1, err: "expected a List of Pods, but item 0 is a Event"},
		{args: []string{"-f", "testdata/missing.json"}, code: 1, err: "no such file"},
		{args: []string{"pod", "x"}, code: 1, err: "no cluster in this test"},
		{args: []string{"--bogus"}, code: 2, err: "flag provided but not defined: -bogus"},
		{args: []string{"-h"}, code: 0, err: "Explain why a pod is stuck"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, _, stderr := runCLI(t, "", noCluster, tt.args...)
			assert.Equal(t, tt.code, code)
			assert.Contains(t, stderr, tt.err)
		})
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}
