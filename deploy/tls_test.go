// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package deploy_test

import (
	"net"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/otelcol-sre/otelcol-sre/internal/gatewaycerts"
)

// The `tls` option's pieces fit together (deploy/README.md "Secure install"); the collectors talking over
// TLS with these files is test/e2e TestGatewayTLS.
const (
	serverTLSConfig = "gateway-tls.yaml"
	clientTLSConfig = "gateway-client-tls.yaml"
)

// tlsFile is a file a TLS config reads: ${env:OTELCOL_SRE_TLS_DIR:-<dir>}/<key>.
var tlsFile = regexp.MustCompile(`\$\{env:OTELCOL_SRE_TLS_DIR:-([^}]+)\}/([a-z.]+)`)

// tlsFiles returns the directory (the default of OTELCOL_SRE_TLS_DIR) and the file names a config reads.
func tlsFiles(t *testing.T, config string) (string, []string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("configs", config))
	if err != nil {
		t.Fatal(err)
	}
	dir, files := "", []string{}
	for _, m := range tlsFile.FindAllStringSubmatch(string(b), -1) {
		if dir != "" && m[1] != dir {
			t.Fatalf("%s reads from %s and %s", config, dir, m[1])
		}
		dir = m[1]
		if !slices.Contains(files, m[2]) {
			files = append(files, m[2])
		}
	}
	if dir == "" {
		t.Fatalf("%s reads no ${env:OTELCOL_SRE_TLS_DIR:-...} file", config)
	}
	return dir, files
}

// In the -tls overlays every collector that sends to the gateway (the operator's injected one included)
// loads the client config and finds ca.crt of the ConfigMap otelcol-sre-gateway-ca where it reads it, and names the gateway by a name the gateway's
// certificate has; the stateless tier loads the server config and finds the Secret the Certificate writes.
func TestTLSOptionFitsTogether(t *testing.T) {
	var cert *Certificate
	for _, o := range rendered(t)["gateway-tls"] {
		if o.GetKind() == "Certificate" && o.GetName() == "otelcol-sre-gateway" {
			obj, err := decodeStrict(o)
			if err != nil {
				t.Fatal(err)
			}
			cert = obj.(*Certificate)
		}
	}
	if cert == nil {
		t.Fatal("gateway-tls renders no Certificate otelcol-sre-gateway")
	}
	if !slices.Equal(cert.Spec.DNSNames, gatewaycerts.ServiceDNSNames) {
		t.Errorf("Certificate dnsNames %v, want gatewaycerts.ServiceDNSNames %v (cmd/gateway-certs issues those)", cert.Spec.DNSNames, gatewaycerts.ServiceDNSNames)
	}

	serverDir, serverFiles := tlsFiles(t, serverTLSConfig)
	clientDir, clientFiles := tlsFiles(t, clientTLSConfig)
	c := installCluster(t, "gateway-tls", "agent-tls", "sidecar-tls", "sidecar-operator-tls")
	servers, clients := 0, 0
	for _, p := range c.pods {
		if cr := c.collectors[p.namespace+"/"+p.annotations["sidecar.opentelemetry.io/inject"]]; cr != nil && c.sendsTo(p, "otelcol-sre-gateway-lb", "otelcol-sre") {
			// The operator injects the collector: its config and volumes are the OpenTelemetryCollector's.
			clients++
			tlsCfg, _ := yaml.Marshal(cr.Spec.Config.Exporters["otlp_grpc/gateway"])
			if !strings.Contains(string(tlsCfg), "ca_file: ${env:OTELCOL_SRE_TLS_DIR:-"+clientDir+"}/ca.crt") || strings.Contains(string(tlsCfg), "insecure: true") {
				t.Errorf("%s: the injected collector's gateway exporter does not verify the gateway:\n%s", p.name, tlsCfg)
			}
			checkTLSMount(t, clusterPod{name: p.name + " (injected)", spec: corev1.PodSpec{Volumes: cr.Spec.Volumes}},
				corev1.Container{VolumeMounts: cr.Spec.VolumeMounts}, clientDir, clientFiles, caConfigMap)
			continue
		}
		for _, ctr := range p.spec.Containers {
			if ctr.Name != "otelcol-sre" {
				continue
			}
			configs := configArgs(ctr.Args)
			switch {
			case slices.Contains(configs, "gateway-lb.yaml"):
				servers++
				if !slices.Contains(configs, serverTLSConfig) {
					t.Errorf("%s does not load %s", p.name, serverTLSConfig)
				}
				checkTLSMount(t, p, ctr, serverDir, serverFiles, func(v corev1.VolumeSource) (string, []corev1.KeyToPath) {
					if v.Secret == nil || v.Secret.SecretName != cert.Spec.SecretName {
						return "", nil
					}
					return v.Secret.SecretName, v.Secret.Items
				})
			case c.sendsTo(p, "otelcol-sre-gateway-lb", "otelcol-sre"):
				clients++
				if !slices.Contains(configs, clientTLSConfig) {
					t.Errorf("%s sends to the gateway without %s", p.name, clientTLSConfig)
				}
				checkTLSMount(t, p, ctr, clientDir, clientFiles, caConfigMap)
				for _, e := range ctr.Env {
					if e.Name != "GATEWAY_ENDPOINT" {
						continue
					}
					host, _, err := net.SplitHostPort(e.Value)
					if err != nil || !slices.Contains(cert.Spec.DNSNames, host) {
						t.Errorf("%s: GATEWAY_ENDPOINT %s: its host is not one of the certificate's names %v (%v)", p.name, e.Value, cert.Spec.DNSNames, err)
					}
				}
			}
		}
	}
	if servers != 1 || clients != 3 {
		t.Errorf("found %d TLS servers and %d clients, want the stateless tier, and the agent and both sidecars", servers, clients)
	}
}

// caConfigMap accepts the ConfigMap with the gateway's CA certificate.
func caConfigMap(v corev1.VolumeSource) (string, []corev1.KeyToPath) {
	if v.ConfigMap == nil || v.ConfigMap.Name != "otelcol-sre-gateway-ca" {
		return "", nil
	}
	return v.ConfigMap.Name, v.ConfigMap.Items
}

// checkTLSMount: ctr mounts, read-only at dir, a volume of the kind source accepts, projecting exactly the
// files the config reads.
func checkTLSMount(t *testing.T, p clusterPod, ctr corev1.Container, dir string, files []string, source func(corev1.VolumeSource) (string, []corev1.KeyToPath)) {
	t.Helper()
	for _, m := range ctr.VolumeMounts {
		if path.Clean(m.MountPath) != path.Clean(dir) {
			continue
		}
		for _, v := range p.spec.Volumes {
			if v.Name != m.Name {
				continue
			}
			name, items := source(v.VolumeSource)
			if name == "" {
				t.Errorf("%s: volume %s at %s is not the expected Secret or ConfigMap", p.name, v.Name, dir)
				return
			}
			var projected []string
			for _, it := range items {
				if it.Key != it.Path {
					t.Errorf("%s: %s key %s projected as %s", p.name, name, it.Key, it.Path)
				}
				projected = append(projected, it.Path)
			}
			if !slices.Equal(slices.Sorted(slices.Values(projected)), slices.Sorted(slices.Values(files))) {
				t.Errorf("%s: %s projects %v, the config reads %v", p.name, name, projected, files)
			}
			if !m.ReadOnly {
				t.Errorf("%s: %s mounted writable", p.name, name)
			}
			return
		}
	}
	t.Errorf("%s: nothing mounted at %s, where the TLS config reads %v", p.name, dir, files)
}
