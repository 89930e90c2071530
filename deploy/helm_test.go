// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package deploy_test

import (
	"maps"
	"slices"
	"strings"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/otelcol-sre/otelcol-sre/deploy/internal/gen"
	"github.com/otelcol-sre/otelcol-sre/deploy/internal/render"
)

// chartPrefix names, in rendered(t), the chart rendered for one overlay's variant with userValues: the
// checks that hold for every overlay (strict decoding, security context, RBAC, probes, GOMEMLIMIT,
// validate, server-side dry-run) then hold for the chart as a user sets it, too.
const chartPrefix = "chart:"

// overlayOf is the overlay a rendered(t) key stands for: itself, or the overlay a chart render reproduces.
func overlayOf(name string) string { return strings.TrimPrefix(name, chartPrefix) }

// userValues are values a user changes, other than the overlays' defaults: a digest, other resources
// (so GOMEMLIMIT is computed, not copied), another SLO tier size, and the sidecar in the release namespace.
var userValues = map[string]any{
	"image": map[string]any{"digest": "sha256:5a3841bca7ee48985d5b6fca2354ff6ba63778637124907fb612d4a7f75a13a3"},
	"agent": map[string]any{"resources": map[string]any{
		"requests": map[string]any{"cpu": "200m", "memory": "300Mi"}, "limits": map[string]any{"memory": "640Mi"}}},
	"gateway": map[string]any{
		"lb": map[string]any{"resources": map[string]any{
			"requests": map[string]any{"cpu": "1", "memory": "1Gi"}, "limits": map[string]any{"memory": "1536Mi"}}},
		"slo": map[string]any{"replicas": 3, "storage": "20Gi", "resources": map[string]any{
			"requests": map[string]any{"cpu": "1", "memory": "2Gi"}, "limits": map[string]any{"memory": "3Gi"}}},
	},
	"sidecar": map[string]any{"serviceAccount": "demo-app", "resources": map[string]any{
		"requests": map[string]any{"cpu": "25m", "memory": "48Mi"}, "limits": map[string]any{"memory": "96Mi"}}},
}

// overlayValues are the values under which the chart renders v's overlay exactly: settings.env as
// values, the variant's switches, the namespace created, the sidecar where the overlay puts it.
func overlayValues(t *testing.T, v gen.ChartVariant) map[string]any {
	t.Helper()
	out := gen.SettingsValues(settingsEnv(t))
	gen.MergeValues(out, v.Values)
	gen.MergeValues(out, map[string]any{
		"namespace": map[string]any{"create": true},
		"sidecar":   map[string]any{"namespace": "demo", "serviceAccount": "demo-app"},
	})
	return out
}

// chartRenders renders the chart for every variant with userValues on top of its overlay's values.
func chartRenders(t *testing.T) (map[string][]*unstructured.Unstructured, error) {
	out := map[string][]*unstructured.Unstructured{}
	for _, v := range gen.ChartVariants {
		vals := overlayValues(t, v)
		gen.MergeValues(vals, userValues)
		delete(vals["sidecar"].(map[string]any), "namespace")
		objs, err := render.Chart(gen.ChartDir, "otelcol-sre", vals)
		if err != nil {
			return nil, err
		}
		out[chartPrefix+v.Overlay] = objs
	}
	return out, nil
}

func objectKey(o *unstructured.Unstructured) string {
	return o.GetAPIVersion() + " " + o.GetKind() + " " + o.GetNamespace() + "/" + o.GetName()
}

// With an overlay's values the chart renders exactly that overlay's objects (less the ones the
// generator says it leaves out), field for field; the settings ConfigMap even gets kustomize's hash.
func TestChartRendersEachOverlay(t *testing.T) {
	for _, v := range gen.ChartVariants {
		t.Run(v.Overlay, func(t *testing.T) {
			want := map[string]map[string]any{}
			for _, o := range rendered(t)[v.Overlay] {
				if _, omit := v.Omit[o.GetKind()+"/"+o.GetName()]; !omit {
					want[objectKey(o)] = o.Object
				}
			}
			objs, err := render.Chart(gen.ChartDir, "otelcol-sre", overlayValues(t, v))
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]map[string]any{}
			for _, o := range objs {
				if _, dup := got[objectKey(o)]; dup {
					t.Errorf("the chart renders %s twice", objectKey(o))
				}
				got[objectKey(o)] = o.Object
			}
			for _, k := range slices.Sorted(maps.Keys(want)) {
				if diff := gocmp.Diff(want[k], got[k]); diff != "" {
					t.Errorf("%s (-overlay +chart):\n%s", k, diff)
				}
			}
			for k := range got {
				if _, ok := want[k]; !ok {
					t.Errorf("the chart renders %s, which overlay %s does not", k, v.Overlay)
				}
			}
		})
	}
}

// Every overlay is reproduced by the chart or left out with a reason: a new overlay (mode or option) is
// a decision, not an omission.
func TestChartCoversEveryOverlay(t *testing.T) {
	for _, o := range render.Overlays {
		inChart := slices.ContainsFunc(gen.ChartVariants, func(v gen.ChartVariant) bool { return v.Overlay == o })
		_, leftOut := gen.ChartLeavesOut[o]
		if inChart == leftOut {
			t.Errorf("overlay %s: add it to gen.ChartVariants (with the values that select it) or to gen.ChartLeavesOut (with the reason)", o)
		}
	}
}

// With its defaults (and the required settings) the chart installs the agent and the gateway: the
// union of the two overlays, without the Namespace (helm install --create-namespace makes it).
func TestChartDefaults(t *testing.T) {
	objs, err := render.Chart(gen.ChartDir, "otelcol-sre", gen.SettingsValues(settingsEnv(t)))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, overlay := range []string{"agent", "gateway"} {
		for _, o := range rendered(t)[overlay] {
			if o.GetKind() != "Namespace" {
				want[objectKey(o)] = true
			}
		}
	}
	got := map[string]bool{}
	for _, o := range objs {
		got[objectKey(o)] = true
	}
	if !maps.Equal(got, want) {
		t.Errorf("default chart objects:\n got  %v\n want %v", slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
	}
}

// What a user gets wrong fails the install with the value to set.
func TestChartRefusesIncompleteValues(t *testing.T) {
	settings := gen.SettingsValues(settingsEnv(t))
	for _, tc := range []struct {
		name string
		vals map[string]any
		want string
	}{
		{"no cluster name", map[string]any{"clusterName": ""}, "clusterName: set the EKS cluster name"},
		{"no workspace", map[string]any{"amp": map[string]any{"workspaceID": ""}}, "amp.workspaceID: set"},
		{"no IRSA role", map[string]any{"irsaRoleArn": ""}, "irsaRoleArn: set the IAM role ARN"},
		{"memory limit in G", map[string]any{"gateway": map[string]any{"slo": map[string]any{"resources": map[string]any{"limits": map[string]any{"memory": "2G"}}}}},
			`gateway.slo.resources.limits.memory "2G": set a whole number of Mi or Gi`},
		{"direct with container insights", map[string]any{"agent": map[string]any{"direct": true, "containerInsights": true}}, "no overlay ships this combination"},
		{"sidecar without its ServiceAccount", map[string]any{"sidecar": map[string]any{"enabled": true}}, "sidecar.serviceAccount: set"},
		{"tls with lambda", map[string]any{"tls": map[string]any{"enabled": true}, "gateway": map[string]any{"lambda": map[string]any{"enabled": true}}}, "no overlay ships this combination"},
		{"misspelt value", map[string]any{"gateway": map[string]any{"slo": map[string]any{"replica": 3}}}, "at '/gateway/slo': additional properties 'replica' not allowed"},
		{"image tag as a number is fine, a replica count as text is not", map[string]any{"image": map[string]any{"tag": 2}, "gateway": map[string]any{"slo": map[string]any{"replicas": "3"}}}, "at '/gateway/slo/replicas': got string, want integer"},
		{"nothing enabled", map[string]any{"agent": map[string]any{"enabled": false}, "gateway": map[string]any{"enabled": false}}, "nothing to install"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vals := map[string]any{}
			gen.MergeValues(vals, settings)
			gen.MergeValues(vals, tc.vals)
			_, err := render.Chart(gen.ChartDir, "otelcol-sre", vals)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// tls without cert-manager: the gateway-tls overlay less exactly its cert-manager objects (the Secret
// they would write is the user's, from cmd/gateway-certs).
func TestChartTLSWithoutCertManager(t *testing.T) {
	i := slices.IndexFunc(gen.ChartVariants, func(v gen.ChartVariant) bool { return v.Overlay == "gateway-tls" })
	if i < 0 {
		t.Fatal("no gateway-tls variant")
	}
	vals := overlayValues(t, gen.ChartVariants[i])
	gen.MergeValues(vals, map[string]any{"tls": map[string]any{"certManager": false}})
	objs, err := render.Chart(gen.ChartDir, "otelcol-sre", vals)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, o := range objs {
		got[objectKey(o)] = true
	}
	want, certManager := map[string]bool{}, 0
	for _, o := range rendered(t)["gateway-tls"] {
		if o.GroupVersionKind().Group == "cert-manager.io" {
			certManager++
			continue
		}
		want[objectKey(o)] = true
	}
	if certManager == 0 || !maps.Equal(got, want) {
		t.Errorf("tls.certManager=false: got %v, want the overlay less its %d cert-manager objects: %v", slices.Sorted(maps.Keys(got)), certManager, slices.Sorted(maps.Keys(want)))
	}
}

// The AMP remote-write URL follows region and workspace unless set.
func TestChartRemoteWriteURL(t *testing.T) {
	vals := gen.SettingsValues(map[string]string{"CLUSTER_NAME": "c", "AWS_REGION": "eu-west-1", "AMP_WORKSPACE_ID": "ws-1", "IRSA_ROLE_ARN": "arn:aws:iam::1:role/r"})
	objs, err := render.Chart(gen.ChartDir, "observability", vals)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.GetKind() == "ConfigMap" && strings.HasPrefix(o.GetName(), "otelcol-sre-settings-") {
			got, _, _ := unstructured.NestedString(o.Object, "data", "AMP_REMOTE_WRITE_URL")
			if want := "https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1/api/v1/remote_write"; got != want {
				t.Errorf("AMP_REMOTE_WRITE_URL %q, want %q", got, want)
			}
			if o.GetNamespace() != "observability" {
				t.Errorf("settings in namespace %q, want the release namespace", o.GetNamespace())
			}
			return
		}
	}
	t.Fatal("no settings ConfigMap")
}

// `helm lint` (in-process, helm's own linter) finds nothing to warn about with the settings set.
func TestChartLints(t *testing.T) {
	linter := lint.All(gen.ChartDir, gen.SettingsValues(settingsEnv(t)), "otelcol-sre", false)
	for _, m := range linter.Messages {
		if m.Severity >= support.WarningSev {
			t.Error(m.Error())
		} else {
			t.Log(m.Error())
		}
	}
}
