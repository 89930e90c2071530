// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"bufio"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/otelcol-sre/otelcol-sre/internal/collectortest"
)

// The gateway's two tiers run from deploy's own config files, as the manifests pass them
// (deploy/kustomize/overlays/gateway: lb.yaml and slo.yaml), plus one override per collector that moves
// what a pod has to loopback: ports on 127.0.0.1, a static resolver instead of the headless Service's DNS,
// AWS endpoints at a local peer. What needs a Kubernetes API (the leader-elected k8s_cluster, pod diagnosis
// and incidents.yaml's pipeline; k8spoddiagnostics_test.go and podincident_test.go cover them) and the
// self-scrape of the pod's :8888 are left out; everything else — processors, SLOs, exporters, WAL, queues,
// batching — is what ships.
var (
	lbTierConfigs  = []string{"gateway-lb.yaml"}
	sloTierConfigs = []string{"gateway-slo.yaml", "amp.yaml", "cloudwatch.yaml"} // not incidents.yaml (Kubernetes only)
)

// notOnLoopback are the components a gateway config uses that need a Kubernetes API or the pod's address.
var notOnLoopback = []string{"k8s_leader_elector", "k8s_cluster", "k8spoddiagnostics", "prometheus/self"}

// deployConfig reads deploy/configs/<name>.
func deployConfig(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(deployConfigPath(name))
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("deploy/configs/%s: %v", name, err)
	}
	return cfg
}

func deployConfigPath(name string) string {
	return filepath.Join(collectortest.RepoRoot(), "deploy", "configs", name)
}

// section walks cfg along keys; nil when a key is missing.
func section(cfg map[string]any, keys ...string) any {
	var cur any = cfg
	for _, k := range keys {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[k]
	}
	return cur
}

// withoutLoopbackless is the list at keys of cfg without the notOnLoopback components and those that no
// file of files configures (they come from a file left out).
func withoutLoopbackless(t *testing.T, cfg map[string]any, files []string, keys ...string) []string {
	t.Helper()
	list, ok := section(cfg, keys...).([]any)
	if !ok {
		t.Fatalf("deploy config has no list at %s", strings.Join(keys, "::"))
	}
	configured := map[string]bool{}
	for _, f := range files {
		for _, kind := range []string{"receivers", "processors", "exporters", "extensions", "connectors"} {
			for id := range asMap(section(deployConfig(t, f), kind)) {
				configured[id] = true
			}
		}
	}
	var out []string
	for _, v := range list {
		if s := v.(string); configured[s] && !slices.Contains(notOnLoopback, s) {
			out = append(out, s)
		}
	}
	return out
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// tierCollector is one gateway collector on loopback: deploy's files plus its override, restartable on the
// same ports and data directory (a pod of a StatefulSet keeps its name and volume).
type tierCollector struct {
	name                    string
	otlp, health, telemetry int
	dataDir, overrideFile   string
	files                   []string
	env                     map[string]string
	proc                    *collectortest.Process
	override                map[string]any
}

func newTierCollector(t *testing.T, name string, files []string, env map[string]string) *tierCollector {
	t.Helper()
	c := &tierCollector{name: name, otlp: collectortest.FreePort(t), health: collectortest.FreePort(t),
		telemetry: collectortest.FreePort(t), dataDir: t.TempDir(), env: map[string]string{},
		overrideFile: filepath.Join(t.TempDir(), name+"-loopback.yaml")}
	for _, f := range files {
		c.files = append(c.files, deployConfigPath(f))
	}
	c.files = append(c.files, c.overrideFile)
	for k, v := range env {
		c.env[k] = v
	}
	c.env["K8S_POD_IP"] = "127.0.0.1"
	c.env["K8S_POD_NAME"] = name
	c.env["K8S_POD_NAMESPACE"] = "otelcol-sre"
	c.env["OTELCOL_SRE_DATA_DIR"] = c.dataDir
	c.override = map[string]any{
		"extensions": map[string]any{"health_check": map[string]any{"endpoint": c.addr(c.health)}},
		"service": map[string]any{
			"telemetry": map[string]any{"metrics": map[string]any{"readers": []any{map[string]any{
				"pull": map[string]any{"exporter": map[string]any{"prometheus": map[string]any{
					"host": "127.0.0.1", "port": c.telemetry}}}}}}},
		},
	}
	return c
}

func (*tierCollector) addr(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }

// set puts v at keys in the override.
func (c *tierCollector) set(v any, keys ...string) {
	m := c.override
	for _, k := range keys[:len(keys)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
	m[keys[len(keys)-1]] = v
}

func (c *tierCollector) writeOverride(t *testing.T) {
	t.Helper()
	b, err := yaml.Marshal(c.override)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.overrideFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func (c *tierCollector) start(t *testing.T) {
	t.Helper()
	c.writeOverride(t)
	c.proc = collectortest.StartConfigs(t, c.files, c.env, "http://"+c.addr(c.health)+"/")
}

// reload rewrites the override and has the running collector re-read its config (SIGHUP), as a config
// change or a DNS answer does without restarting the pod.
func (c *tierCollector) reload(t *testing.T) {
	t.Helper()
	c.writeOverride(t)
	if err := syscall.Kill(c.proc.Pid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
}

// selfMetric sums the collector's own metric name over the series whose labels contain every one of
// labels (`receiver="otlp"`).
func (c *tierCollector) selfMetric(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	return scrapeSum(t, "http://"+c.addr(c.telemetry)+"/metrics", name, labels...)
}

// scrapeSum reads a Prometheus text exposition at url and sums metric name over the series whose labels
// contain every one of labels.
func scrapeSum(t *testing.T, url, name string, labels ...string) float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("scraping %s: %v", url, err)
	}
	defer resp.Body.Close()
	sum := 0.0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		if slices.ContainsFunc(labels, func(l string) bool { return !strings.Contains(line, l) }) {
			continue
		}
		if v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64); err == nil {
			sum += v
		}
	}
	return sum
}

// newSLOReplica is one SLO-tier pod (StatefulSet otelcol-sre-gateway-slo) writing to prom.
func newSLOReplica(t *testing.T, ordinal int, prom *prometheusServer, cwl string) *tierCollector {
	t.Helper()
	c := newTierCollector(t, "otelcol-sre-gateway-slo-"+strconv.Itoa(ordinal), sloTierConfigs, map[string]string{
		"AMP_REMOTE_WRITE_URL":     prom.url() + "/api/v1/write",
		"CLUSTER_NAME":             "e2e",
		"OTEL_RESOURCE_ATTRIBUTES": "k8s.cluster.name=e2e",
	})
	c.env["OTELCOL_SRE_EMF_QUEUE_PORT"] = strconv.Itoa(collectortest.FreePort(t)) // cloudwatch.yaml's loopback queue
	base := deployConfig(t, sloTierConfigs[0])
	c.set(c.addr(c.otlp), "receivers", "otlp", "protocols", "grpc", "endpoint")
	c.set(withoutLoopbackless(t, base, sloTierConfigs, "service", "extensions"), "service", "extensions")
	for _, part := range []string{"receivers", "processors"} {
		c.set(withoutLoopbackless(t, base, sloTierConfigs, "service", "pipelines", "metrics", part), "service", "pipelines", "metrics", part)
	}
	// Every AWS exporter (EMF, CloudWatch Logs, X-Ray) at the loopback peer.
	for _, f := range sloTierConfigs {
		for id := range asMap(section(deployConfig(t, f), "exporters")) {
			if strings.HasPrefix(id, "aws") {
				c.set(cwl, "exporters", id, "endpoint")
			}
		}
	}
	return c
}

// newLBTier is the stateless tier (Deployment otelcol-sre-gateway-lb) routing to the SLO replicas, with
// deploy's option configs (e.g. gateway-tls.yaml) loaded after its own.
func newLBTier(t *testing.T, options ...string) *tierCollector {
	t.Helper()
	c := newTierCollector(t, "otelcol-sre-gateway-lb", append(slices.Clone(lbTierConfigs), options...), map[string]string{"SLO_TIER_HEADLESS_SERVICE": "unused.invalid"})
	base := deployConfig(t, lbTierConfigs[0])
	c.set(c.addr(c.otlp), "receivers", "otlp", "protocols", "grpc", "endpoint")
	c.set(c.addr(collectortest.FreePort(t)), "receivers", "otlp", "protocols", "http", "endpoint")
	c.set(withoutLoopbackless(t, base, lbTierConfigs, "service", "pipelines", "metrics", "receivers"), "service", "pipelines", "metrics", "receivers")
	return c
}

// routeTo points every loadbalancing exporter of the stateless tier at the replicas with the static
// resolver (the shipped DNS resolver disabled).
func (c *tierCollector) routeTo(t *testing.T, replicas ...*tierCollector) {
	t.Helper()
	var hosts []string
	for _, r := range replicas {
		hosts = append(hosts, r.addr(r.otlp))
	}
	c.routeToAddrs(t, hosts...)
}

// routeToAddrs is routeTo for OTLP receivers at host:port addresses.
func (c *tierCollector) routeToAddrs(t *testing.T, addrs ...string) {
	t.Helper()
	var hosts []any
	for _, a := range addrs {
		hosts = append(hosts, a)
	}
	exporters := asMap(section(deployConfig(t, lbTierConfigs[0]), "exporters"))
	n := 0
	for id := range exporters {
		if typ, _, _ := strings.Cut(id, "/"); typ == "loadbalancing" {
			c.set(map[string]any{"dns": map[string]any{"enabled": false}, "static": map[string]any{"hostnames": hosts}},
				"exporters", id, "resolver")
			n++
		}
	}
	if n == 0 {
		t.Fatalf("deploy/configs/%s has no loadbalancing exporter", lbTierConfigs[0])
	}
}
