// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package testcluster

import (
	"fmt"
	"path/filepath"
	"testing"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// WriteKubeconfig writes a kubeconfig file for cfg (the admin when nil) into
// tb.TempDir() and returns its path. The file holds cfg's Host, CA data and
// bearer token; namespace, when not empty, is its context's namespace.
func (c *Cluster) WriteKubeconfig(tb testing.TB, cfg *rest.Config, namespace string) string {
	tb.Helper()
	if cfg == nil {
		cfg = c.admin
	}
	path := filepath.Join(tb.TempDir(), "kubeconfig")
	if err := writeKubeconfig(path, cfg, namespace); err != nil {
		tb.Fatalf("testcluster: %v", err)
	}
	return path
}

func writeKubeconfig(path string, cfg *rest.Config, namespace string) error {
	const name = "testcluster"
	kc := clientcmdapi.NewConfig()
	kc.Clusters[name] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: cfg.BearerToken}
	kc.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name, Namespace: namespace}
	kc.CurrentContext = name
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		return fmt.Errorf("writing kubeconfig %s: %w", path, err)
	}
	return nil
}
