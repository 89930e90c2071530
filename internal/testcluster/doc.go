// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

// Package testcluster runs a real Kubernetes control plane for tests,
// offline and on loopback only: etcd, kube-apiserver and kube-scheduler built
// from the Go module proxy (see build.sh and tools/go.mod), started as child
// processes on free 127.0.0.1 ports with their data in a temporary directory.
//
// Build the binaries once per machine (cold ≈10 min on 2 cores, then a no-op):
//
//	bash internal/testcluster/build.sh
//
// They land in ${XDG_CACHE_HOME:-$HOME/.cache}/otelcol-sre/kube-<ver>-etcd-<ver>;
// OTELCOL_SRE_KUBE_BIN overrides the directory. Without them, tests that ask
// for a cluster are skipped, or fail under CI (internal/testenv).
//
// One cluster for all tests of a package (≈5 s to start, ≈0.4 GB RSS):
//
//	func TestMain(m *testing.M) { testcluster.Main(m) }
//
//	func TestSomething(t *testing.T) {
//		c := testcluster.Shared(t)
//		ns := c.Namespace(t)
//		c.CreateNode(t, "", corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")})
//		pods := c.Client().CoreV1().Pods(ns)
//		...
//	}
//
// A cluster of its own (for tests that call StopAPIServer): c := testcluster.Start(t).
// Without the testing helpers: New and Stop.
//
// What the cluster is, and is not:
//   - RBAC is enforced. The admin (Config, Client, AdminKubeconfig) is in
//     system:masters; ClientWithClusterRole and ServiceAccountConfig give
//     ServiceAccount identities with real TokenRequest tokens.
//   - The real scheduler runs: a Pod that fits no Node gets PodScheduled=False,
//     reason Unschedulable, message "0/N nodes are available: ...".
//   - No kubelet and no controller-manager run. Nodes exist only as created
//     (CreateNode); simulate kubelet-reported pod state through the status
//     subresource (UpdateStatus); nothing overwrites it. No default
//     ServiceAccount is created in namespaces (the ServiceAccount admission
//     plugin is off, so pods need none). Pods bound to a node delete only with
//     grace period 0; namespaces stay Terminating forever after deletion.
//   - Nodes are cluster-wide: on a Shared cluster every test's scheduler
//     messages count every Node that exists at that time.
package testcluster
