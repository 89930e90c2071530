// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package diagnosis

import (
	"strconv"
	"strings"
)

// SchedulingFailure is the parsed form of the scheduler's FitError message,
// e.g. "0/5 nodes are available: 2 Insufficient cpu, 3 node(s) had untolerated
// taint {dedicated: infra}. preemption: 0/5 nodes are available: 5 No
// preemption victims found for incoming pod."
type SchedulingFailure struct {
	// Nodes is N of "0/N nodes are available".
	Nodes int
	// Reasons is the histogram, in the scheduler's order. A PreFilter message
	// without counts ("pod has unbound immediate PersistentVolumeClaims")
	// is one reason that applies to all nodes.
	Reasons []NodeReason
	// PostFilter is the text the PostFilter plugins appended after the
	// histogram, usually "preemption: 0/N nodes are available: ...".
	PostFilter string
}

// NodeReason is one entry of the scheduler's histogram.
type NodeReason struct {
	Count int
	Text  string
}

const schedPrefixTail = " nodes are available: "

// ParseSchedulingMessage parses the scheduler's "0/N nodes are available: ..."
// message leniently: old ("had taint {..}, that the pod didn't tolerate") and
// new ("had untolerated taint {..}") wordings, taints containing commas,
// PreFilter messages without counts and the "preemption:" suffix. It returns
// false when msg is not in that shape.
func ParseSchedulingMessage(msg string) (SchedulingFailure, bool) {
	var f SchedulingFailure
	slash := strings.IndexByte(msg, '/')
	if slash <= 0 {
		return f, false
	}
	rest := msg[slash+1:]
	tail := strings.Index(rest, schedPrefixTail)
	if tail <= 0 {
		return f, false
	}
	n, err := strconv.Atoi(rest[:tail])
	if err != nil || n < 0 {
		return f, false
	}
	f.Nodes = n
	// FitError: "0/N nodes are available:" + " <PreFilter message or
	// histogram>." + " <PostFilter message>".
	body, post := splitFirstSentence(rest[tail+len(schedPrefixTail):])
	f.PostFilter = post
	for _, item := range splitTopLevel(body) {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		count, text, ok := leadingCount(item)
		switch {
		case ok:
			f.Reasons = append(f.Reasons, NodeReason{Count: count, Text: text})
		case len(f.Reasons) > 0 && f.Reasons[len(f.Reasons)-1].Count > 0 && !startsPreFilter(item):
			// Old wording: "1 node(s) had taint {a: b}, that the pod didn't
			// tolerate" — the tail belongs to the previous entry.
			last := &f.Reasons[len(f.Reasons)-1]
			last.Text += ", " + item
		default:
			f.Reasons = append(f.Reasons, NodeReason{Count: n, Text: item})
		}
	}
	return f, true
}

// splitFirstSentence cuts s after its first ". " outside braces, brackets and
// parentheses (taints and quoted names contain dots but not ". ").
func splitFirstSentence(s string) (first, rest string) {
	if i := topLevelIndex(s, ". "); i >= 0 {
		return strings.TrimSpace(s[:i]), strings.TrimSpace(s[i+2:])
	}
	return strings.TrimSuffix(strings.TrimSpace(s), "."), ""
}

// startsPreFilter tells whether a count-less item reads like a standalone
// PreFilter message rather than the continuation of the previous entry.
func startsPreFilter(item string) bool {
	return !strings.HasPrefix(item, "that ")
}

// splitTopLevel splits s on ", " outside braces, brackets and parentheses.
func splitTopLevel(s string) []string {
	var out []string
	for {
		i := topLevelIndex(s, ", ")
		if i < 0 {
			return append(out, s)
		}
		out = append(out, s[:i])
		s = s[i+2:]
	}
}

// topLevelIndex returns the index of the first sep in s that is outside
// braces, brackets and parentheses, or -1.
func topLevelIndex(s, sep string) int {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '{', '[', '(':
			depth++
		case '}', ']', ')':
			if depth > 0 {
				depth--
			}
		default:
			if depth == 0 && strings.HasPrefix(s[i:], sep) {
				return i
			}
		}
	}
	return -1
}

func leadingCount(item string) (int, string, bool) {
	sp := strings.IndexByte(item, ' ')
	if sp <= 0 {
		return 0, "", false
	}
	n, err := strconv.Atoi(item[:sp])
	if err != nil || n < 0 {
		return 0, "", false
	}
	return n, item[sp+1:], true
}

// Dominant returns the reason that rules out the most nodes (the first one on
// a tie) and false when there is none.
func (f SchedulingFailure) Dominant() (NodeReason, bool) {
	best, ok := NodeReason{}, false
	for _, r := range f.Reasons {
		if !ok || r.Count > best.Count {
			best, ok = r, true
		}
	}
	return best, ok
}

// schedulingHints maps a fragment of a scheduler reason to what to do about it.
// The first matching fragment wins.
var schedulingHints = []struct{ fragment, hint string }{
	{"Insufficient ", "lower the pod's resource requests or add node capacity (cluster autoscaler limits, instance types)"},
	{"Too many pods", "the nodes are at their pod limit (max-pods / ENI IP limit): add nodes or raise the limit"},
	{"taint", "add a toleration for the taint to the pod, or schedule onto nodes without it"},
	{"volume node affinity conflict", "the pod's volume is bound to another zone than the eligible nodes: use a WaitForFirstConsumer StorageClass or schedule in the volume's zone"},
	{"didn't match Pod's node affinity/selector", "fix the pod's nodeSelector/node affinity or label nodes to match"},
	{"node affinity", "fix the pod's nodeSelector/node affinity or label nodes to match"},
	{"anti-affinity", "pod anti-affinity rules exclude the nodes: relax them or add nodes"},
	{"pod affinity", "no node runs the pods this pod must be co-located with: check the pod affinity rules"},
	{"topology spread constraints", "topology spread constraints cannot be met: relax maxSkew/whenUnsatisfiable or add nodes in the missing zones"},
	{"unbound immediate PersistentVolumeClaims", "the pod's PersistentVolumeClaim is not bound: check its StorageClass and provisioner"},
	{"persistentvolumeclaim", "the pod's PersistentVolumeClaim is missing: create it or fix the claim name"},
	{"didn't have free ports", "the requested hostPort is taken on every node: drop hostPort or add nodes"},
	{"unschedulable", "the nodes are cordoned (unschedulable): uncordon them or add nodes"},
	{"volume", "a volume constraint rules the nodes out (attach limits, zone): check the pod's volumes"},
}

// Hint returns one actionable sentence for the failure.
func (f SchedulingFailure) Hint() string {
	r, ok := f.Dominant()
	if !ok {
		return "the scheduler found no fitting node: see the message for the constraints that failed"
	}
	for _, h := range schedulingHints {
		if strings.Contains(r.Text, h.fragment) {
			return strconv.Itoa(r.Count) + " of " + strconv.Itoa(f.Nodes) + " nodes: " + r.Text + " — " + h.hint
		}
	}
	return strconv.Itoa(r.Count) + " of " + strconv.Itoa(f.Nodes) + " nodes: " + r.Text + " — fix that constraint or add a node that meets it"
}
