// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

// Package kubeclient connects to the Kubernetes API with the same options as
// the contrib Kubernetes components (auth_type serviceAccount, kubeConfig or
// none; context; kube_api_qps; kube_api_burst), whose k8sconfig package is
// internal to the contrib module and cannot be imported.
package kubeclient

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// AuthType is how the processor authenticates to the API server.
type AuthType string

const (
	// AuthTypeNone talks to KUBERNETES_SERVICE_HOST:PORT without credentials.
	AuthTypeNone AuthType = "none"
	// AuthTypeServiceAccount uses the pod's service account token.
	AuthTypeServiceAccount AuthType = "serviceAccount"
	// AuthTypeKubeConfig uses $KUBECONFIG or ~/.kube/config, like kubectl.
	AuthTypeKubeConfig AuthType = "kubeConfig"
)

// APIConfig holds the connection options.
type APIConfig struct {
	// AuthType is serviceAccount (default), kubeConfig or none.
	AuthType AuthType `mapstructure:"auth_type"`
	// Context overrides the kubeconfig's current context (kubeConfig only).
	Context string `mapstructure:"context"`
	// KubeAPIQPS limits requests per second; 0 keeps client-go's default (5).
	KubeAPIQPS float32 `mapstructure:"kube_api_qps"`
	// KubeAPIBurst limits request bursts; 0 keeps client-go's default (10).
	KubeAPIBurst int `mapstructure:"kube_api_burst"`
}

// Validate checks the options; errors name the field and the fix.
func (c APIConfig) Validate() error {
	var errs []error
	switch c.AuthType {
	case AuthTypeNone, AuthTypeServiceAccount, AuthTypeKubeConfig:
	default:
		errs = append(errs, fmt.Errorf("auth_type: unknown value %q — use serviceAccount (in cluster), kubeConfig (kubectl's credentials) or none", c.AuthType))
	}
	if c.Context != "" && c.AuthType != AuthTypeKubeConfig {
		errs = append(errs, fmt.Errorf("context: set to %q but auth_type is %q — context only applies to auth_type kubeConfig", c.Context, c.AuthType))
	}
	if c.KubeAPIQPS < 0 {
		errs = append(errs, fmt.Errorf("kube_api_qps: must not be negative, got %v — use 0 for client-go's default", c.KubeAPIQPS))
	}
	if c.KubeAPIBurst < 0 {
		errs = append(errs, fmt.Errorf("kube_api_burst: must not be negative, got %d — use 0 for client-go's default", c.KubeAPIBurst))
	}
	return errors.Join(errs...)
}

// RestConfig builds the client configuration.
func RestConfig(c APIConfig) (*rest.Config, error) {
	var rc *rest.Config
	switch c.AuthType {
	case AuthTypeKubeConfig:
		overrides := &clientcmd.ConfigOverrides{CurrentContext: c.Context}
		cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(clientcmd.NewDefaultClientConfigLoadingRules(), overrides).ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("loading kubeconfig (auth_type kubeConfig): %w", err)
		}
		rc = cfg
	case AuthTypeServiceAccount:
		cfg, err := rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("loading the in-cluster service account (auth_type serviceAccount): %w", err)
		}
		rc = cfg
	case AuthTypeNone:
		host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
		if host == "" || port == "" {
			return nil, errors.New("auth_type none needs KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT in the environment")
		}
		rc = &rest.Config{Host: "https://" + net.JoinHostPort(host, port)}
		rc.Insecure = true
	default:
		return nil, fmt.Errorf("auth_type: unknown value %q", c.AuthType)
	}
	// The API server is in-cluster: never route it through a system proxy.
	rc.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		if t, ok := rt.(*http.Transport); ok {
			t.Proxy = nil
		}
		return rt
	}
	if c.KubeAPIQPS > 0 {
		rc.QPS = c.KubeAPIQPS
	}
	if c.KubeAPIBurst > 0 {
		rc.Burst = c.KubeAPIBurst
	}
	rc.UserAgent = "otelcol-sre/k8spoddiagnosticsprocessor"
	return rc, nil
}

// New returns a clientset for c.
func New(c APIConfig) (kubernetes.Interface, error) {
	rc, err := RestConfig(c)
	if err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("creating the Kubernetes client: %w", err)
	}
	return cs, nil
}
