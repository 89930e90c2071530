// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package kubeclient

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  APIConfig
		err  string
	}{
		{name: "service account", cfg: APIConfig{AuthType: AuthTypeServiceAccount}},
		{name: "kubeconfig with context", cfg: APIConfig{AuthType: AuthTypeKubeConfig, Context: "prod"}},
		{name: "unknown auth type", cfg: APIConfig{AuthType: "tls"}, err: `auth_type: unknown value "tls"`},
		{name: "context without kubeconfig", cfg: APIConfig{AuthType: AuthTypeNone, Context: "x"}, err: "context only applies to auth_type kubeConfig"},
		{name: "negative qps", cfg: APIConfig{AuthType: AuthTypeNone, KubeAPIQPS: -1}, err: "kube_api_qps: must not be negative"},
		{name: "negative burst", cfg: APIConfig{AuthType: AuthTypeNone, KubeAPIBurst: -1}, err: "kube_api_burst: must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.err == "" {
				assert.NoError(t, err)
				return
			}
			assert.ErrorContains(t, err, tt.err)
		})
	}
}

func TestRestConfigKubeConfig(t *testing.T) {
	kubeconfig := filepath.Join(t.TempDir(), "config")
	require.NoError(t, os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters:
- name: a
  cluster: {server: "https://127.0.0.1:6443", insecure-skip-tls-verify: true}
- name: b
  cluster: {server: "https://127.0.0.1:7443", insecure-skip-tls-verify: true}
users:
- name: u
  user: {token: secret}
contexts:
- name: ctx-a
  context: {cluster: a, user: u}
- name: ctx-b
  context: {cluster: b, user: u}
current-context: ctx-a
`), 0o600))
	t.Setenv("KUBECONFIG", kubeconfig)

	rc, err := RestConfig(APIConfig{AuthType: AuthTypeKubeConfig, KubeAPIQPS: 50, KubeAPIBurst: 100})
	require.NoError(t, err)
	assert.Equal(t, "https://127.0.0.1:6443", rc.Host)
	assert.Equal(t, float32(50), rc.QPS)
	assert.Equal(t, 100, rc.Burst)

	rc, err = RestConfig(APIConfig{AuthType: AuthTypeKubeConfig, Context: "ctx-b"})
	require.NoError(t, err)
	assert.Equal(t, "https://127.0.0.1:7443", rc.Host)

	_, err = New(APIConfig{AuthType: AuthTypeKubeConfig})
	assert.NoError(t, err)
}

func TestRestConfigNoneNeedsServiceEnv(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	t.Setenv("KUBERNETES_SERVICE_PORT", "")
	_, err := RestConfig(APIConfig{AuthType: AuthTypeNone})
	assert.ErrorContains(t, err, "KUBERNETES_SERVICE_HOST")

	t.Setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
	t.Setenv("KUBERNETES_SERVICE_PORT", "443")
	rc, err := RestConfig(APIConfig{AuthType: AuthTypeNone})
	require.NoError(t, err)
	assert.Equal(t, "https://10.0.0.1:443", rc.Host)
}

func TestRestConfigServiceAccountOutsideCluster(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	_, err := RestConfig(APIConfig{AuthType: AuthTypeServiceAccount})
	assert.ErrorContains(t, err, "auth_type serviceAccount")
}
