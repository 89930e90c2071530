// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package incident

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

// fuzzReasons mixes stuck reasons of every rank, the two image-pull reasons that are one family, and a
// reason the diagnosis never writes.
var fuzzReasons = []string{"ImagePullBackOff", "ErrImagePull", "CrashLoopBackOff", "OOMKilled", "Unschedulable", "Evicted", "NotReady", "Whatever"}

// scriptRun is what the engine emitted over a script from the fuzzer, in which every 3 bytes are one step.
//
//	byte 0: seconds the clock advances (0-255)
//	byte 1: bits 0-3 the pod (16 pods), bit 4 stuck, bit 5 tick only (no observation),
//	        bit 6 restart (Encode, a new engine, Restore), bit 7 the pod observed twice in the batch
//	byte 2: bits 0-2 the reason, bits 3-4 the owner (4 Deployments), bit 5 a second namespace
type scriptRun struct {
	edges    []Edge // flattened: digest items in place of their digest, in emission order
	restarts int
}

func (tl *scriptRun) emit(edges []Edge) {
	for _, ed := range edges {
		if ed.Kind == Digest {
			tl.emit(ed.Items)
			continue
		}
		tl.edges = append(tl.edges, ed)
	}
}

func runScript(t *testing.T, steps []byte) *scriptRun {
	t.Helper()
	now := t0
	e := New(DefaultSettings(), now)
	tl := &scriptRun{}
	for i := 0; i+2 < len(steps); i += 3 {
		step, pod, detail := steps[i], steps[i+1], steps[i+2]
		now = now.Add(time.Duration(step) * time.Second)
		if pod&0x40 != 0 {
			data, err := e.Encode()
			if err != nil {
				t.Fatalf("step %d: encoding: %v", i/3, err)
			}
			e = New(DefaultSettings(), now)
			if err := e.Restore(data, now); err != nil {
				t.Fatalf("step %d: restoring what Encode wrote: %v", i/3, err)
			}
			again, err := e.Encode()
			if err != nil || !bytes.Equal(again, data) {
				t.Fatalf("step %d: Encode after Restore differs (%v):\n%s\n%s", i/3, err, data, again)
			}
			tl.restarts++
			continue
		}
		if pod&0x20 != 0 {
			tl.emit(e.Tick(now))
			continue
		}
		ns := "shop"
		if detail&0x20 != 0 {
			ns = "pay"
		}
		uid := fmt.Sprintf("%s-%d", ns, pod&0x0f)
		o := Observation{PodUID: uid, PodName: "web-" + uid, Namespace: ns, OwnerKind: "Deployment",
			OwnerName: fmt.Sprintf("web%d", detail>>3&0x03), Stuck: pod&0x10 != 0, Reason: fuzzReasons[int(detail&0x07)%len(fuzzReasons)],
			Container: "app", Message: "message"}
		batch := []Observation{o}
		if pod&0x80 != 0 {
			batch = append(batch, o)
		}
		tl.emit(e.Observe(now, batch))
	}
	// Long after everything: every incident resolves.
	for range 3 {
		now = now.Add(10 * time.Minute)
		tl.emit(e.Tick(now))
	}
	if open := e.Open(); len(open) > 0 {
		t.Fatalf("%d incidents still open 30 minutes after the last observation", len(open))
	}
	return tl
}

// checkOncePerIncident: whatever the steps and however often the collector restarts, an incident is
// opened at most once, resolved at most once, resolved only after it was opened, and every other edge
// falls between the two.
func checkOncePerIncident(t *testing.T, tl *scriptRun) {
	t.Helper()
	opened, resolved := map[string]bool{}, map[string]bool{}
	for i, ed := range tl.edges {
		id := ed.Incident.ID
		switch {
		case ed.Kind == Opened && (opened[id] || resolved[id]):
			t.Fatalf("edge %d: %s opened again (restarts so far %d)", i, id, tl.restarts)
		case ed.Kind == Resolved && resolved[id]:
			t.Fatalf("edge %d: %s resolved twice", i, id)
		case ed.Kind != Opened && !opened[id]:
			t.Fatalf("edge %d: %s %s before it was opened", i, ed.Kind, id)
		case ed.Kind != Opened && resolved[id]:
			t.Fatalf("edge %d: %s %s after it was resolved", i, ed.Kind, id)
		}
		opened[id] = opened[id] || ed.Kind == Opened
		resolved[id] = resolved[id] || ed.Kind == Resolved
	}
	for id := range opened {
		if !resolved[id] {
			t.Fatalf("%s opened and never resolved", id)
		}
	}
}

// stormRestartSteps: past the start-up window, 12 groups open at once (10 notified, 2 in an immediate
// digest), 4 more 10 s later are folded until the storm window ends, and the collector restarts inside it.
func stormRestartSteps() []byte {
	s := []byte{70, 0x20, 0}
	burst := func(first, n int) {
		for g := first; g < first+n; g++ {
			s = append(s, 0, byte(0x10|g%16), byte(g%8|(g/8%4)<<3|(g/16)<<5))
		}
	}
	burst(0, 12)
	s = append(s, 30, 0x20, 0)
	burst(0, 12)
	s = append(s, 10, 0x20, 0)
	burst(12, 4)
	s = append(s, 30, 0x20, 0)
	burst(0, 16)
	return append(s, 5, 0x40, 0)
}

// Found with FuzzTimeline's invariants on this constructed script (not by random mutation): notifications
// the storm guard folded were lost at a restart, and their incidents were later resolved without ever being
// announced. The guard's state is now part of the table.
func TestFoldedNotificationsSurviveRestart(t *testing.T) {
	run := runScript(t, stormRestartSteps())
	checkOncePerIncident(t, run)
	if run.restarts != 1 || len(run.edges) < 2*14 {
		t.Fatalf("%d restarts, %d edges: the script no longer folds 14 incidents", run.restarts, len(run.edges))
	}
}

// FuzzTimeline runs the engine (default settings) through scripted timelines (the first 400 steps) of up
// to 16 pods of 4 Deployments in 2 namespaces, with restarts through Encode/Restore, and checks the edge
// invariants.
func FuzzTimeline(f *testing.F) {
	for _, seed := range [][]byte{
		// A pod stuck for 2 minutes, then healthy for 6: opened, resolved.
		{0, 0x10, 0, 30, 0x10, 0, 30, 0x10, 0, 30, 0x10, 0, 30, 0x10, 0, 255, 0x20, 0, 255, 0x20, 0},
		// The same with a restart while it is open.
		{0, 0x10, 0, 30, 0x10, 0, 30, 0x10, 0, 10, 0x40, 0, 20, 0x10, 0, 30, 0x10, 0, 255, 0x20, 0, 255, 0x20, 0},
		// A crash loop that flaps, another Deployment in the other namespace joining, duplicates in a batch.
		{0, 0x92, 0x02, 30, 0x12, 0x2a, 60, 0x02, 0x02, 30, 0x92, 0x2a, 200, 0x12, 0x02, 30, 0x40, 0, 30, 0x13, 0x0b},
		stormRestartSteps(),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, steps []byte) {
		checkOncePerIncident(t, runScript(t, steps[:min(len(steps), 3*400)]))
	})
}
