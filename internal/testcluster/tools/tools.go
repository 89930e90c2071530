//go:build tools

// Package tools pins the real Kubernetes control-plane binaries that
// internal/testcluster runs in tests. It is a separate module so that
// k8s.io/kubernetes and etcd never enter the root module's dependency graph.
// ../build.sh builds the binaries from here.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
