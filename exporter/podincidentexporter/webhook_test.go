// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package podincidentexporter

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"

	"github.com/otelcol-sre/otelcol-sre/internal/storageclient/storageclienttest"
)

func TestWebhookOpenedOnceResolvedOnce(t *testing.T) {
	hook := newRecorder(t, nil)
	h := start(t, fastConfig(webhookSink("hook", hook.srv.URL)), componenttest.NewNopHost())
	for range 3 {
		h.consume(t, stuckPod("shop", "web", "web-1", "ImagePullBackOff"), stuckPod("shop", "web", "web-2", "ErrImagePull"))
	}
	require.Eventually(t, func() bool { return len(hook.documents(t)) == 2 }, 10*time.Second, 20*time.Millisecond)
	docs := hook.documents(t)
	assert.Equal(t, []string{"opened", "resolved"}, kindsOf(docs))
	opened := docs[0]
	assert.Equal(t, DocumentVersion, opened.Version)
	require.Len(t, opened.Incidents, 1)
	in := opened.Incidents[0]
	assert.Equal(t, map[string]string{"namespace": "shop", "owner": "Deployment/web", "reason": "ImagePullBackOff", "container": "app"}, in.Group)
	assert.Equal(t, "Deployment", in.OwnerKind)
	assert.Equal(t, 2, in.PodCount)
	assert.Equal(t, "web-1", in.Pods[0].Name)
	assert.Equal(t, "fix the image reference", in.Hint)
	assert.Equal(t, in.ID, docs[1].Incidents[0].ID, "resolved names the incident it opened")
	assert.NotNil(t, docs[1].Incidents[0].ResolvedAt)
	// Nothing more arrives.
	time.Sleep(300 * time.Millisecond)
	assert.Len(t, hook.documents(t), 2)
	assert.Equal(t, map[string]int64{"kind=opened,sink=hook": 1, "kind=resolved,sink=hook": 1},
		h.counter(t, "otelcol_exporter_pod_incident_notifications_sent"))
}

func TestRoutesByNamespace(t *testing.T) {
	shop, rest := newRecorder(t, nil), newRecorder(t, nil)
	cfg := fastConfig(webhookSink("shop", shop.srv.URL), webhookSink("rest", rest.srv.URL))
	cfg.Routes = []RouteConfig{{Namespaces: []string{"shop"}, Sinks: []string{"shop"}}, {Sinks: []string{"rest"}}}
	h := start(t, cfg, componenttest.NewNopHost())
	h.consume(t, stuckPod("shop", "web", "web-1", "OOMKilled"), stuckPod("pay", "api", "api-1", "OOMKilled"))
	require.Eventually(t, func() bool { return len(shop.documents(t)) == 2 && len(rest.documents(t)) == 2 }, 5*time.Second, 20*time.Millisecond, "shop %v rest %v logs %v", kindsOf(shop.documents(t)), kindsOf(rest.documents(t)), h.logs.All())
	assert.Equal(t, "shop", shop.documents(t)[0].Incidents[0].Namespace)
	assert.Equal(t, "pay", rest.documents(t)[0].Incidents[0].Namespace)
}

// TestRestartNeitherRenotifiesNorForgets: the peer is down while the
// incident opens; the collector restarts; the queued "opened" is delivered
// from the persistent queue, the restored table sends no second "opened",
// and the "resolved" arrives. Without storage the restart would open the
// incident again.
func TestRestartNeitherRenotifiesNorForgets(t *testing.T) {
	var down atomic.Bool
	down.Store(true)
	hook := newRecorder(t, func(w http.ResponseWriter, _ []byte) bool {
		if down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return false
		}
		return true
	})
	dir := t.TempDir()
	run := func(steps func(h *harness)) {
		id, ext := storageclienttest.FileStorage(t, dir)
		cfg := fastConfig(webhookSink("hook", hook.srv.URL))
		cfg.Resolve.HoldDown = 2 * time.Second
		cfg.Storage = &id
		cfg.QueueConfig.Get().StorageID = &id
		cfg.BackOffConfig.MaxElapsedTime = time.Minute
		h := startUntil(t, cfg, storageclienttest.Host{id: ext})
		steps(h)
		require.NoError(t, h.e.shutdown(context.Background()))
		require.NoError(t, ext.Shutdown(context.Background()))
	}
	web := stuckPod("shop", "web", "web-1", "ImagePullBackOff")
	run(func(h *harness) {
		h.consume(t, web)
		require.Eventually(t, func() bool {
			return h.counter(t, "otelcol_exporter_pod_incident_notifications_failed")["class=server_error,kind=opened,sink=hook"] > 0
		}, 10*time.Second, 20*time.Millisecond)
	})
	assert.Empty(t, hook.documents(t))
	down.Store(false)
	run(func(h *harness) {
		h.consume(t, web)
		require.Eventually(t, func() bool { return len(hook.documents(t)) == 2 }, 15*time.Second, 20*time.Millisecond)
	})
	assert.Equal(t, []string{"opened", "resolved"}, kindsOf(hook.documents(t)))
}
