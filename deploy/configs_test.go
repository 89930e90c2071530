// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package deploy_test

import (
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/otelcol-sre/otelcol-sre/internal/collectortest"
	"github.com/otelcol-sre/otelcol-sre/internal/testenv"
)

// collectorBinary is the otelcol-sre binary `make build` produced (OTELCOL_SRE_BINARY, as `make test`
// sets it, else ../bin/otelcol-sre). Without it the test skips, or fails in CI (internal/testenv).
func collectorBinary(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("OTELCOL_SRE_BINARY")
	if bin == "" {
		bin = filepath.Join("..", "bin", "otelcol-sre")
	}
	if _, err := os.Stat(bin); err != nil {
		testenv.Unavailable(t, "no collector binary (%s): run `make build` or set OTELCOL_SRE_BINARY", bin)
	}
	return bin
}

// configSets returns the config file lists the manifests start collectors with (from the rendered
// containers' args), each once; the operator sidecar runs sidecar.yaml.
func configSets(t *testing.T) [][]string {
	t.Helper()
	var sets [][]string
	for _, p := range podTemplates(t) {
		for _, c := range p.template.Spec.Containers {
			if args := configArgs(c.Args); len(args) > 0 && !slices.ContainsFunc(sets, func(s []string) bool { return slices.Equal(s, args) }) {
				sets = append(sets, args)
			}
		}
	}
	return sets
}

// referencedComponents lists "kind/type" of the components the merged files configure.
func referencedComponents(t *testing.T, files []string) []string {
	t.Helper()
	seen := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join("configs", f))
		if err != nil {
			t.Fatal(err)
		}
		var cfg map[string]any
		if err := yaml.Unmarshal(b, &cfg); err != nil {
			t.Fatalf("configs/%s: %v", f, err)
		}
		for _, kind := range []string{"receivers", "processors", "exporters", "extensions", "connectors"} {
			section, _ := cfg[kind].(map[string]any)
			for id := range section {
				typ, _, _ := strings.Cut(id, "/")
				seen[kind+"/"+typ] = true
			}
		}
	}
	return slices.Sorted(func(yield func(string) bool) {
		for k := range seen {
			if !yield(k) {
				return
			}
		}
	})
}

// Every config set the manifests run passes `otelcol-sre validate` with the environment the pods get.
func TestCollectorConfigsValidate(t *testing.T) {
	bin := collectorBinary(t)
	have := collectortest.Components(t, bin)
	env := append(os.Environ(), podEnv(t, t.TempDir())...)
	outsidePod := writeOutsidePod(t)
	for _, set := range configSets(t) {
		t.Run(strings.Join(set, "+"), func(t *testing.T) {
			requireComponents(t, have, set)
			args := validateArgs(t, set, "configs", outsidePod)
			env := append(slices.Clone(env), secretEnvPlaceholders(t, set)...)
			cmd := exec.Command(bin, args...)
			cmd.Env = env
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("otelcol-sre %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		})
	}
}

// secretEnvPlaceholders: NAME=https://placeholder.invalid/NAME for each variable the containers running
// this config set take from a Secret (the Slack webhook URL of components/incidents-slack); the
// shipped sets without such a container validate without them.
func secretEnvPlaceholders(t *testing.T, set []string) []string {
	t.Helper()
	var out []string
	for _, c := range containersRunning(t, set) {
		for _, e := range c.Env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				if kv := e.Name + "=https://placeholder.invalid/" + e.Name; !slices.Contains(out, kv) {
					out = append(out, kv)
				}
			}
		}
	}
	return out
}

// podEnv is the environment the manifests give a collector container (settings.env, downward API),
// with dataDir as its volume; AWS credentials are dummies and the instance metadata is never asked.
func podEnv(t *testing.T, dataDir string) []string {
	t.Helper()
	env := []string{
		"AWS_EC2_METADATA_DISABLED=true", "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
		"K8S_NODE_NAME=node-1", "K8S_NODE_IP=127.0.0.1", "K8S_POD_NAME=otelcol-sre-0", "K8S_POD_NAMESPACE=otelcol-sre",
		"K8S_POD_UID=00000000-0000-0000-0000-000000000001", "K8S_POD_IP=127.0.0.1",
		"GATEWAY_ENDPOINT=127.0.0.1:4317", "SLO_TIER_HEADLESS_SERVICE=localhost",
		"OTELCOL_SRE_DATA_DIR=" + dataDir, "OTELCOL_SRE_HOST_ROOT=/",
	}
	for k, v := range settingsEnv(t) {
		env = append(env, k+"="+v)
	}
	return env
}

// kubelet_stats with auth_type serviceAccount reads the pod's ServiceAccount CA when it is created,
// which `validate` does; outside a pod, validate that receiver with the kubelet's read-only mode.
// writeOutsidePod writes that override into a new directory and returns the file's path.
func writeOutsidePod(t *testing.T) string {
	t.Helper()
	outsidePod := filepath.Join(t.TempDir(), "validate-outside-pod.yaml")
	if err := os.WriteFile(outsidePod, []byte("receivers:\n  kubelet_stats:\n    auth_type: none\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return outsidePod
}

// requireComponents fails t unless the binary's components (have) include every one the set uses.
func requireComponents(t *testing.T, have map[string]bool, set []string) {
	t.Helper()
	var missing []string
	for _, c := range referencedComponents(t, set) {
		if !have[c] {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("the distribution has no %v, which these configs use: add them to builder-config.yaml and run `make generate build`", missing)
	}
}

// validateArgs is `validate` of the set as its containers run it: the files from confDir, the feature
// gates of those containers, and outsidePod when the set runs kubelet_stats.
func validateArgs(t *testing.T, set []string, confDir, outsidePod string) []string {
	t.Helper()
	args := []string{"validate"}
	for _, f := range set {
		args = append(args, "--config="+path.Join(confDir, f))
	}
	args = append(args, featureGateArgs(t, set)...)
	if slices.Contains(referencedIDs(t, set), "receivers/kubelet_stats") {
		args = append(args, "--config="+outsidePod)
	}
	return args
}

// Without the binary, at least every config is YAML without duplicate keys, and its pipelines only
// name components it configures (after merging the files of its set, as the collector does).
func TestCollectorConfigsParse(t *testing.T) {
	files, err := filepath.Glob("configs/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var cfg map[string]any
		if err := yaml.UnmarshalStrict(b, &cfg); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	for _, set := range configSets(t) {
		defined := map[string]bool{}
		for _, c := range referencedIDs(t, set) {
			defined[c] = true
		}
		for _, ref := range pipelineRefs(t, set) {
			// A connector is listed as a receiver or an exporter of pipelines.
			kind, id, _ := strings.Cut(ref, "/")
			if !defined[ref] && !((kind == "receivers" || kind == "exporters") && defined["connectors/"+id]) {
				t.Errorf("%v: the service uses %s, which no file of the set configures", set, ref)
			}
		}
	}
}

// referencedIDs lists "kind/id" of every configured component of the merged files.
func referencedIDs(t *testing.T, files []string) []string {
	t.Helper()
	var out []string
	for _, f := range files {
		cfg := readConfig(t, f)
		for _, kind := range []string{"receivers", "processors", "exporters", "extensions", "connectors"} {
			section, _ := cfg[kind].(map[string]any)
			for id := range section {
				out = append(out, kind+"/"+id)
			}
		}
	}
	return out
}

// pipelineRefs lists "kind/id" of what service.extensions and the pipelines use, after merging the
// files in order (a later file's lists replace an earlier file's, as the collector merges them).
func pipelineRefs(t *testing.T, files []string) []string {
	t.Helper()
	extensions := []any{}
	pipelines := map[string]map[string][]any{}
	for _, f := range files {
		svc, _ := readConfig(t, f)["service"].(map[string]any)
		if e, ok := svc["extensions"].([]any); ok {
			extensions = e
		}
		ps, _ := svc["pipelines"].(map[string]any)
		for name, p := range ps {
			if pipelines[name] == nil {
				pipelines[name] = map[string][]any{}
			}
			for kind, list := range p.(map[string]any) {
				pipelines[name][kind], _ = list.([]any)
			}
		}
	}
	var out []string
	for _, e := range extensions {
		out = append(out, "extensions/"+e.(string))
	}
	for _, p := range pipelines {
		for kind, list := range p {
			for _, id := range list {
				out = append(out, kind+"/"+id.(string))
			}
		}
	}
	return out
}

func readConfig(t *testing.T, file string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("configs", file))
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("configs/%s: %v", file, err)
	}
	return cfg
}
