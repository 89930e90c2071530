// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package podincidentexporter

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configopaque"
)

// slackStandIn is a loopback stand-in for a Slack incoming webhook (no real
// Slack is reachable here). It checks every request against Block Kit's
// limits, answers the first throttled requests with 429 and Retry-After as
// Slack does past about one message per second, then "ok".
type slackStandIn struct {
	mu        sync.Mutex
	throttle  int
	accepted  []slackMessage
	violation []string
}

func (s *slackStandIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var m slackMessage
	var raw map[string]any
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(&raw); err != nil {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	b, _ := json.Marshal(raw)
	_ = json.Unmarshal(b, &m)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.throttle > 0 {
		s.throttle--
		w.Header().Set("Retry-After", "1")
		http.Error(w, "rate_limited", http.StatusTooManyRequests)
		return
	}
	if v := blockKitViolations(raw); len(v) > 0 {
		s.violation = append(s.violation, v...)
		http.Error(w, "invalid_blocks", http.StatusBadRequest)
		return
	}
	s.accepted = append(s.accepted, m)
	_, _ = w.Write([]byte("ok"))
}

// blockKitViolations checks the limits of
// https://api.slack.com/reference/block-kit/blocks on the raw JSON.
func blockKitViolations(msg map[string]any) []string {
	var v []string
	bad := func(format string, a ...any) { v = append(v, fmt.Sprintf(format, a...)) }
	text := func(o any) (string, string) {
		m, _ := o.(map[string]any)
		t, _ := m["type"].(string)
		s, _ := m["text"].(string)
		return t, s
	}
	blocks, _ := msg["blocks"].([]any)
	if len(blocks) == 0 || len(blocks) > 50 {
		bad("%d blocks, want 1..50", len(blocks))
	}
	for i, bl := range blocks {
		b, _ := bl.(map[string]any)
		switch b["type"] {
		case "header":
			if t, s := text(b["text"]); t != "plain_text" || utf8.RuneCountInString(s) > 150 || s == "" {
				bad("block %d: header %s text of %d characters", i, t, utf8.RuneCountInString(s))
			}
		case "section":
			fields, _ := b["fields"].([]any)
			if b["text"] == nil && len(fields) == 0 {
				bad("block %d: section without text or fields", i)
			}
			if b["text"] != nil {
				if t, s := text(b["text"]); (t != "mrkdwn" && t != "plain_text") || s == "" || utf8.RuneCountInString(s) > 3000 {
					bad("block %d: section %s text of %d characters", i, t, utf8.RuneCountInString(s))
				}
			}
			if len(fields) > 10 {
				bad("block %d: %d fields", i, len(fields))
			}
			for _, f := range fields {
				if _, s := text(f); s == "" || utf8.RuneCountInString(s) > 2000 {
					bad("block %d: field of %d characters", i, utf8.RuneCountInString(s))
				}
			}
		case "context":
			els, _ := b["elements"].([]any)
			if len(els) == 0 || len(els) > 10 {
				bad("block %d: context with %d elements", i, len(els))
			}
			for _, e := range els {
				if t, s := text(e); t != "mrkdwn" || s == "" {
					bad("block %d: context element %v", i, e)
				}
			}
		case "actions":
			els, _ := b["elements"].([]any)
			for _, e := range els {
				m, _ := e.(map[string]any)
				if t, s := text(m["text"]); m["type"] != "button" || t != "plain_text" || s == "" || utf8.RuneCountInString(s) > 75 {
					bad("block %d: button %v", i, e)
				}
			}
		default:
			bad("block %d: unexpected type %v", i, b["type"])
		}
	}
	return v
}

func (s *slackStandIn) messages() []slackMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]slackMessage(nil), s.accepted...)
}

// TestSlackStandIn: a 200-pod incident with a 10 kB Kubernetes message and
// a storm digest of 60 incidents fit Block Kit's limits; the 429s are
// waited out (Retry-After) and counted, nothing is lost.
func TestSlackStandIn(t *testing.T) {
	standIn := &slackStandIn{throttle: 3}
	srv := httptestServer(t, standIn)
	cfg := fastConfig(SinkConfig{Name: "slack", Slack: &SlackConfig{WebhookURL: configopaque.String("http://" + srv + "/services/T/B/X"), MaxPods: 10}})
	cfg.Cluster = "prod-eu"
	cfg.Storm = StormConfig{MaxNew: 1, Window: time.Hour}
	cfg.RunbookURL = "https://runbooks.example.com/{{.Reason}}"
	cfg.BackOffConfig.MaxElapsedTime = 30 * time.Second
	h := start(t, cfg, componenttest.NewNopHost())

	long := strings.Repeat(`Failed to pull image "registry.example/web:v2" <rpc error> & `, 200)
	var big []pod
	for i := range 200 {
		p := stuckPod("shop", "web", fmt.Sprintf("web-%03d", i), "ImagePullBackOff")
		p.message = long
		big = append(big, p)
	}
	for i := range 60 {
		big = append(big, stuckPod(fmt.Sprintf("team-%02d", i), "api", fmt.Sprintf("api-%02d", i), "CrashLoopBackOff"))
	}
	h.consume(t, big[:200]...)
	h.consume(t, big...)
	// opened (the first incident), a digest of the other 60; then a digest
	// of the 61 resolutions once the storm window allows (not in this test).
	require.Eventually(t, func() bool { return len(standIn.messages()) >= 2 }, 20*time.Second, 50*time.Millisecond)
	msgs := standIn.messages()
	assert.Empty(t, standIn.violation)
	opened := msgs[0]
	assert.Contains(t, opened.Text, "[prod-eu] shop/Deployment web: ImagePullBackOff (200 pods)")
	var all []string
	for _, b := range opened.Blocks {
		if b.Text != nil {
			all = append(all, b.Text.Text)
		}
	}
	joined := strings.Join(all, "\n")
	assert.Contains(t, joined, "```Failed to pull image \"registry.example/web:v2\"", "message verbatim in a code block")
	assert.Contains(t, joined, "&lt;rpc error&gt; &amp;", "mrkdwn control characters escaped")
	assert.Contains(t, joined, "… and 190 more")
	assert.Contains(t, joined, ":bulb: fix the image reference")
	assert.Contains(t, msgs[1].Text, "60 incident notifications folded by the storm guard")
	assert.Len(t, msgs[1].Blocks, 50, "header + 48 items + \"K more\"")
	failed := h.counter(t, "otelcol_exporter_pod_incident_notifications_failed")
	var throttled int64
	for k, v := range failed {
		if strings.Contains(k, "class=throttled") {
			throttled += v
		}
	}
	assert.Equal(t, int64(3), throttled, "every 429 counted")
	warnings := h.logs.FilterMessageSnippet("notification delivery failing").All()
	assert.Len(t, warnings, 1, "the throttling is logged once")
}
