// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package podincidentexporter

import (
	"encoding/json"
	"testing"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/otelcol-sre/otelcol-sre/exporter/podincidentexporter/internal/incident"
)

var fuzzT0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// FuzzDiagnosisToMessages: whatever a k8s.pod.diagnosis point carries (names, reason and Kubernetes' message
// are untrusted text: any bytes, any length) and however many pods share an incident, every notification
// renders a Slack message within Block Kit's limits, a webhook document that is valid JSON, and
// Alertmanager alerts with valid label names. Digests are forced with a storm guard of one.
func FuzzDiagnosisToMessages(f *testing.F) {
	f.Add("shop", "web", "ImagePullBackOff", "app", `Back-off pulling image "registry.example/web:v2-typo"`, uint8(3), false)
	f.Add("pay", "", "CrashLoopBackOff", "", "panic: \x00\xff ```` *bold* <!channel>", uint8(70), true)
	f.Add("", "a.b-c", "Weird Reason", "c", string(make([]byte, 5000)), uint8(0), true)
	f.Fuzz(func(t *testing.T, ns, owner, reason, container, message string, nPods uint8, storm bool) {
		var pods []pod
		for i := range 1 + int(nPods)%80 {
			p := stuckPod(ns, owner, owner+"-"+string(rune('a'+i%26))+string(rune('a'+i/26)), reason)
			p.container, p.message, p.hint = container, message, message
			pods = append(pods, p)
		}
		s := incident.DefaultSettings()
		s.GroupWait, s.Startup, s.StormMaxNew = 0, incident.StartupNotify, 0
		if storm {
			s.StormMaxNew = 1
		}
		e := incident.New(s, fuzzT0)
		edges := e.Observe(fuzzT0, observations(diagnosisMetrics(pods...)))
		edges = append(edges, e.Tick(fuzzT0.Add(time.Hour))...)
		edges = append(edges, e.Tick(fuzzT0.Add(2*time.Hour))...)
		for _, ed := range edges {
			checkRendered(t, ed)
		}
	})
}

func checkRendered(t *testing.T, ed incident.Edge) {
	t.Helper()
	items := []incident.Edge{ed}
	if ed.Kind == incident.Digest {
		items = ed.Items
	}
	doc := &Document{Version: DocumentVersion, Kind: string(ed.Kind), Cause: ed.Cause, At: ed.At, Cluster: "fuzz"}
	for i := range items {
		doc.Incidents = append(doc.Incidents, links{}.incidentDoc(doc.Cluster, items[i].Kind, &items[i].Incident))
	}
	body, err := json.Marshal(doc)
	if err != nil || !json.Valid(body) {
		t.Fatalf("webhook document of %s: %v", ed.Kind, err)
	}
	raw, err := json.Marshal(renderSlack(doc, defaultSlackMaxPods))
	if err != nil {
		t.Fatalf("slack message of %s: %v", ed.Kind, err)
	}
	var msg map[string]any
	if err := json.Unmarshal(raw, &msg); err != nil {
		t.Fatal(err)
	}
	if v := blockKitViolations(msg); len(v) > 0 {
		t.Fatalf("slack message of %s breaks Block Kit's limits: %v", ed.Kind, v)
	}
	if text, _ := msg["text"].(string); !utf8.ValidString(text) && utf8.ValidString(doc.Incidents[0].Message) {
		t.Fatalf("slack fallback text is not valid UTF-8")
	}
	for _, a := range renderAlerts(doc, ed.At, defaultResendInterval, nil) {
		for k := range a.Labels {
			if !labelNameRegexp.MatchString(k) {
				t.Fatalf("alert label name %q", k)
			}
		}
		if _, err := json.Marshal(a); err != nil {
			t.Fatalf("alert: %v", err)
		}
	}
}

// FuzzObservations: arbitrary OTLP metrics (any shape, any attribute types) never make observations panic.
func FuzzObservations(f *testing.F) {
	seed, err := (&pmetric.ProtoMarshaler{}).MarshalMetrics(diagnosisMetrics(stuckPod("shop", "web", "web-1", "OOMKilled")))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Fuzz(func(_ *testing.T, data []byte) {
		md, err := (&pmetric.ProtoUnmarshaler{}).UnmarshalMetrics(data)
		if err != nil {
			return
		}
		e := incident.New(incident.DefaultSettings(), fuzzT0)
		e.Observe(fuzzT0, observations(md))
	})
}
