// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package k8spoddiagnosticsprocessor

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// listServer is a minimal HTTP API server for benchmarks: it serves one fixed
// set of pods to list and watch (including WatchList initial events) and
// empty lists of anything else, so that our processor and
// k8sattributesprocessor load the same pods through their real clients. The
// real-control-plane tests live with internal/testcluster.
type listServer struct {
	srv  *httptest.Server
	pods []json.RawMessage
}

func newListServer(tb testing.TB, pods []*corev1.Pod) *listServer {
	tb.Helper()
	s := &listServer{}
	for _, p := range pods {
		p = p.DeepCopy()
		p.APIVersion, p.Kind = "v1", "Pod"
		b, err := json.Marshal(p)
		if err != nil {
			tb.Fatal(err)
		}
		s.pods = append(s.pods, b)
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(s.srv.Close)
	return s
}

// kubeconfig writes a kubeconfig for the server and points KUBECONFIG at it.
func (s *listServer) kubeconfig(tb testing.TB) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "kubeconfig")
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: bench, cluster: {server: %q}}]
users: [{name: bench, user: {token: bench}}]
contexts: [{name: bench, context: {cluster: bench, user: bench}}]
current-context: bench
`, s.srv.URL)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		tb.Fatal(err)
	}
	tb.Setenv("KUBECONFIG", path)
}

var listKinds = map[string][2]string{
	"pods":        {"v1", "Pod"},
	"events":      {"v1", "Event"},
	"namespaces":  {"v1", "Namespace"},
	"nodes":       {"v1", "Node"},
	"replicasets": {"apps/v1", "ReplicaSet"},
	"deployments": {"apps/v1", "Deployment"},
}

const listRV = "100"

func (s *listServer) serve(w http.ResponseWriter, r *http.Request) {
	resource := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
	gk, ok := listKinds[resource]
	if !ok {
		http.NotFound(w, r)
		return
	}
	var items []json.RawMessage
	if resource == "pods" {
		items = s.pods
	}
	w.Header().Set("Content-Type", "application/json")
	q := r.URL.Query()
	if q.Get("watch") != "true" && q.Get("watch") != "1" {
		body, _ := json.Marshal(map[string]any{"apiVersion": gk[0], "kind": gk[1] + "List",
			"metadata": map[string]string{"resourceVersion": listRV}, "items": items})
		_, _ = w.Write(body)
		return
	}
	flusher, _ := w.(http.Flusher)
	enc := json.NewEncoder(w)
	if q.Get("sendInitialEvents") == "true" {
		for _, it := range items {
			_ = enc.Encode(map[string]any{"type": "ADDED", "object": it})
		}
		_ = enc.Encode(map[string]any{"type": "BOOKMARK", "object": map[string]any{"apiVersion": gk[0], "kind": gk[1],
			"metadata": map[string]any{"resourceVersion": listRV, "annotations": map[string]string{"k8s.io/initial-events-end": "true"}}}})
	}
	if flusher != nil {
		flusher.Flush()
	}
	<-r.Context().Done()
}
