// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package diagnosis

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// FuzzDiagnose feeds arbitrary Pod objects (as the API server or a user's
// file would hand them over, JSON) and event lists through the lean view and
// Diagnose: nothing may panic, whatever is missing or contradictory.
func FuzzDiagnose(f *testing.F) {
	pods, _ := filepath.Glob(filepath.Join("testdata", "pods", "*.json"))
	for _, file := range pods {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		events, _ := os.ReadFile(filepath.Join("testdata", "events", filepath.Base(file)))
		f.Add(b, events, int64(0), 40)
	}
	f.Fuzz(func(t *testing.T, podJSON, eventsJSON []byte, nowOffset int64, maxMessage int) {
		var p corev1.Pod
		if json.Unmarshal(podJSON, &p) != nil {
			return
		}
		var evs corev1.EventList
		_ = json.Unmarshal(eventsJSON, &evs)
		lean := FromPod(&p, maxMessage, nil)
		var le []Event
		for i := range evs.Items {
			le = append(le, FromEvent(&evs.Items[i], maxMessage, nil))
		}
		o := DefaultOptions()
		o.MaxMessageLength = maxMessage
		d := Diagnose(&lean, le, testNow.Add(time.Duration(nowOffset)), o)
		if maxMessage > 0 && len(d.Message) > maxMessage {
			t.Fatalf("message of %d bytes exceeds the limit %d", len(d.Message), maxMessage)
		}
		if d.Stuck && d.Reason == "" {
			t.Fatalf("stuck without a reason: %+v", d)
		}
	})
}

// FuzzParseSchedulingMessage: the scheduler's text is free-form; parsing must
// never panic and counts never go negative.
func FuzzParseSchedulingMessage(f *testing.F) {
	for _, s := range []string{
		"0/5 nodes are available: 1 node(s) had untolerated taint {a: b}, 4 Insufficient cpu. preemption: 0/5 nodes are available: 5 No preemption victims found for incoming pod.",
		"0/3 nodes are available: 2 node(s) had taint {dedicated: gpu, team: ml}, that the pod didn't tolerate, 1 Insufficient memory.",
		`0/4 nodes are available: persistentvolumeclaim "x" not found.`,
		"0/1 nodes are available: ",
		"/ nodes are available: {{{",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		sf, ok := ParseSchedulingMessage(msg)
		if !ok {
			return
		}
		for _, r := range sf.Reasons {
			if r.Count < 0 {
				t.Fatalf("negative count in %q", msg)
			}
		}
		_ = sf.Hint()
	})
}
