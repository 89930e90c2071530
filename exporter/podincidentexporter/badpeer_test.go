// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package podincidentexporter

import (
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
)

// garbagePeer accepts TCP connections and answers bytes that are not HTTP.
func garbagePeer(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("\x00\x01garbage that is not HTTP\r\n\r\n"))
			c.Close()
		}
	}()
	return l.Addr().String()
}

// TestBadPeers: a peer that hangs, one that answers garbage and one that
// answers 400. Consuming never waits for them; every failed attempt is
// counted by class and each sink logs its problem once.
func TestBadPeers(t *testing.T) {
	release := make(chan struct{})
	hang := httptestServer(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-release }))
	t.Cleanup(func() { close(release) }) // runs before the server's Close
	garbage := garbagePeer(t)
	reject := httptestServer(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "no such channel", http.StatusBadRequest)
	}))
	cfg := fastConfig(webhookSink("hang", "http://"+hang+"/"), webhookSink("garbage", "http://"+garbage+"/"),
		webhookSink("reject", "http://"+reject+"/"))
	cfg.Storm.MaxNew = 0
	cfg.Timeout = 200 * time.Millisecond
	cfg.QueueConfig.Get().QueueSize = 5
	h := start(t, cfg, componenttest.NewNopHost())

	begin := time.Now()
	for i := range 20 {
		h.consume(t, stuckPod(fmt.Sprintf("ns-%d", i), "web", fmt.Sprintf("web-%d", i), "OOMKilled"))
	}
	t.Logf("20 batches with 60 notifications for 3 bad peers consumed in %s", time.Since(begin))

	count := func(sink, class string) int64 {
		var n int64
		for k, v := range h.counter(t, "otelcol_exporter_pod_incident_notifications_failed") {
			if k == fmt.Sprintf("class=%s,kind=opened,sink=%s", class, sink) {
				n += v
			}
		}
		return n
	}
	// A queue of 5 fills at once: the rest of each sink's notifications are
	// counted as queue_full right away.
	require.Eventually(t, func() bool {
		return count("reject", classRejected)+count("reject", classQueueFull) == 20 &&
			count("garbage", classNetwork) >= 1 && count("hang", classNetwork) >= 1 && count("hang", classQueueFull) >= 1
	}, 20*time.Second, 50*time.Millisecond)
	assert.Empty(t, h.counter(t, "otelcol_exporter_pod_incident_notifications_sent"))

	perSink := map[string]int{}
	for _, e := range h.logs.FilterMessageSnippet("notification delivery failing").All() {
		perSink[e.ContextMap()["sink"].(string)+"/"+e.ContextMap()["class"].(string)]++
	}
	assert.Equal(t, map[string]int{"hang/network": 1, "hang/queue_full": 1, "garbage/network": 1, "garbage/queue_full": 1,
		"reject/rejected": 1, "reject/queue_full": 1}, perSink, "each problem of each sink logged once")
}
