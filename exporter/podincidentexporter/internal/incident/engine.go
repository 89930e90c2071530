// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package incident

import (
	"cmp"
	"hash/fnv"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Observation is one diagnosed pod at one moment (a k8s.pod.diagnosis point).
type Observation struct {
	PodUID, PodName, Namespace, Node string
	OwnerKind, OwnerName             string
	Status                           string
	Stuck                            bool
	Reason, Container                string
	Message, Hint                    string
}

// Kind is the kind of a notification edge.
type Kind string

// Edge kinds.
const (
	Opened    Kind = "opened"
	Escalated Kind = "escalated"
	Reminder  Kind = "reminder"
	Resolved  Kind = "resolved"
	// Digest folds several per-incident edges into one notification.
	Digest Kind = "digest"
)

// Digest causes.
const (
	CauseStorm   = "storm"
	CauseStartup = "startup"
)

// Edge is one notification. Per-incident edges carry Incident; a Digest
// carries the edges it folds in Items and why in Cause.
type Edge struct {
	Kind     Kind
	At       time.Time
	Incident Incident
	Items    []Edge
	Cause    string
}

// Label is one group_by dimension of an incident and its value.
type Label struct {
	Key   GroupKey
	Value string
}

// Pod is a stuck pod of an incident.
type Pod struct {
	UID, Name, Node      string
	Namespace            string
	OwnerKind, OwnerName string
	Reason, Container    string
	Message, Hint        string
	FirstStuck           time.Time
	LastStuck            time.Time
}

// Incident is the state of one incident, as edges carry it and as it is
// persisted. Namespace, owner, reason and container are the group's values,
// or those of its worst pod for dimensions it is not grouped by.
type Incident struct {
	ID                   string
	Group                []Label
	Namespace            string
	OwnerKind, OwnerName string
	Reason, Container    string
	Message, Hint        string
	Pods                 []Pod
	FirstStuck           time.Time
	OpenedAt             time.Time
	ResolvedAt           time.Time
	LastNotified         time.Time
	NotifiedPods         int
	NotifiedRank         int
	Reminders            int
	// Silent incidents were adopted at start-up in silent mode: they are
	// never announced.
	Silent bool
	// Startup incidents were first seen in the start-up window.
	Startup bool
}

// Open reports whether the incident has been announced (opened) and is not
// resolved.
func (in *Incident) Open() bool { return !in.OpenedAt.IsZero() || in.Silent }

// Engine keeps the incident table. It is not safe for concurrent use.
type Engine struct {
	s          Settings
	start      time.Time
	restoredAt time.Time
	incidents  map[string]*Incident
	// sent holds the times of per-incident edges inside the storm window.
	sent        []time.Time
	folded      []Edge
	lastDigest  time.Time
	startupDone bool
	changed     bool
}

// New returns an engine started at now.
func New(s Settings, now time.Time) *Engine {
	return &Engine{s: s, start: now, incidents: map[string]*Incident{},
		startupDone: s.Startup == StartupNotify || s.StartupWindow <= 0}
}

// Observe records a batch of observations made at now and returns the edges
// due at now.
func (e *Engine) Observe(now time.Time, obs []Observation) []Edge {
	e.advance(now)
	for i := range obs {
		o := &obs[i]
		if !o.Stuck || o.PodUID == "" || !e.s.Filter.Match(o) {
			continue
		}
		e.record(now, o)
	}
	return e.evaluate(now)
}

// Tick returns the edges due at now without new observations.
func (e *Engine) Tick(now time.Time) []Edge { return e.evaluate(now) }

// Changed reports whether the table changed in a way worth persisting
// (incidents or pods added or removed, notifications sent) since the last
// call, and clears the flag.
func (e *Engine) Changed() bool {
	c := e.changed
	e.changed = false
	return c
}

// Open returns the announced, unresolved incidents, ordered by ID.
func (e *Engine) Open() []Incident {
	var out []Incident
	for _, in := range e.sorted() {
		if in.Open() && !in.Silent {
			out = append(out, e.snapshot(in))
		}
	}
	return out
}

func (e *Engine) record(now time.Time, o *Observation) {
	labels := e.labels(o)
	key := groupKey(labels)
	in := e.incidents[key]
	if in == nil {
		in = &Incident{Group: labels, FirstStuck: now, Startup: !e.startupDone}
		in.ID = incidentID(key, now)
		e.incidents[key] = in
		e.changed = true
	}
	reason := family(o.Reason)
	i := slices.IndexFunc(in.Pods, func(p Pod) bool { return p.UID == o.PodUID })
	if i < 0 {
		in.Pods = append(in.Pods, Pod{UID: o.PodUID, FirstStuck: now})
		i = len(in.Pods) - 1
		e.changed = true
	}
	p := &in.Pods[i]
	p.Name, p.Node, p.Namespace, p.OwnerKind, p.OwnerName = o.PodName, o.Node, o.Namespace, o.OwnerKind, o.OwnerName
	p.Reason, p.Container, p.Message, p.Hint = reason, o.Container, o.Message, o.Hint
	p.LastStuck = now
}

// labels are the group values of o in the order of GroupBy.
func (e *Engine) labels(o *Observation) []Label {
	labels := make([]Label, 0, len(e.s.GroupBy))
	for _, k := range e.s.GroupBy {
		var v string
		switch k {
		case ByNamespace:
			v = o.Namespace
		case ByOwner:
			v = ownerOf(o)
		case ByReason:
			v = family(o.Reason)
		case ByContainer:
			v = o.Container
		case ByNode:
			v = o.Node
		}
		labels = append(labels, Label{Key: k, Value: v})
	}
	return labels
}

func ownerOf(o *Observation) string {
	if o.OwnerKind == "" {
		return "Pod/" + o.PodName
	}
	return o.OwnerKind + "/" + o.OwnerName
}

func groupKey(labels []Label) string {
	var b strings.Builder
	for _, l := range labels {
		b.WriteString(l.Value)
		b.WriteByte(0)
	}
	return b.String()
}

// incidentID is unique per occurrence of a group: a group that resolves
// and becomes stuck again gets a new ID.
func incidentID(key string, first time.Time) string {
	h := fnv.New64a()
	h.Write([]byte(key))
	return strconv.FormatUint(h.Sum64(), 16) + "-" + strconv.FormatInt(first.Unix(), 10)
}

// expired reports whether p has had no stuck observation for the hold-down.
// After a restore the hold-down counts from the restore, so pods that are
// still stuck are seen again before they could resolve.
func (e *Engine) expired(p *Pod, now time.Time) bool {
	last := p.LastStuck
	if e.restoredAt.After(last) {
		last = e.restoredAt
	}
	return now.Sub(last) >= e.s.HoldDown
}

// advance closes the start-up window when it has passed.
func (e *Engine) advance(now time.Time) {
	if !e.startupDone && now.Sub(e.start) >= e.s.StartupWindow {
		e.startupDone = true
	}
}

func (e *Engine) evaluate(now time.Time) []Edge {
	e.advance(now)
	var edges []Edge
	var startup []Edge
	for _, in := range e.sorted() {
		// The resolved edge lists the pods the incident had last.
		remaining := slices.DeleteFunc(slices.Clone(in.Pods), func(p Pod) bool { return e.expired(&p, now) })
		if len(remaining) != len(in.Pods) {
			e.changed = true
		}
		if len(remaining) > 0 {
			in.Pods = remaining
		}
		switch {
		case len(remaining) == 0:
			delete(e.incidents, groupKey(in.Group))
			if in.Open() && !in.Silent {
				in.ResolvedAt = now
				edges = append(edges, e.edge(Resolved, now, in))
			}
		case in.Startup && !e.startupDone:
			// Held until the start-up window closes.
		case in.Startup && e.s.Startup == StartupSilent && !in.Open():
			in.Silent = true
			e.changed = true
		case in.Silent:
		case !in.Open():
			if in.Startup && e.s.Startup == StartupDigest {
				startup = append(startup, e.announce(Opened, now, in))
			} else if e.confirmed(in, now) {
				edges = append(edges, e.announce(Opened, now, in))
			}
		case len(in.Pods) >= 2*in.NotifiedPods || e.worst(in) > in.NotifiedRank:
			edges = append(edges, e.announce(Escalated, now, in))
		case e.s.RenotifyInterval > 0 && in.Reminders < e.s.RenotifyMax &&
			now.Sub(in.LastNotified) >= e.s.RenotifyInterval:
			in.Reminders++
			in.LastNotified = now
			e.changed = true
			edges = append(edges, e.edge(Reminder, now, in))
		}
	}
	out := e.guard(now, edges)
	if len(startup) > 0 {
		out = append(out, Edge{Kind: Digest, At: now, Cause: CauseStartup, Items: startup})
	}
	return out
}

// confirmed: a stuck observation at least GroupWait after the first one.
func (e *Engine) confirmed(in *Incident, now time.Time) bool {
	for i := range in.Pods {
		if in.Pods[i].LastStuck.Sub(in.FirstStuck) >= e.s.GroupWait {
			return true
		}
	}
	return e.s.GroupWait <= 0
}

// announce marks in as notified (opened or escalated) at now.
func (e *Engine) announce(k Kind, now time.Time, in *Incident) Edge {
	if k == Opened {
		in.OpenedAt = now
	}
	in.LastNotified = now
	in.NotifiedPods = len(in.Pods)
	in.NotifiedRank = e.worst(in)
	e.changed = true
	return e.edge(k, now, in)
}

func (e *Engine) worst(in *Incident) int {
	w := 0
	for i := range in.Pods {
		w = max(w, rank(in.Pods[i].Reason))
	}
	return w
}

func (e *Engine) edge(k Kind, now time.Time, in *Incident) Edge {
	return Edge{Kind: k, At: now, Incident: e.snapshot(in)}
}

// guard lets at most StormMaxNew per-incident edges through per StormWindow
// and folds the rest into one digest per window.
func (e *Engine) guard(now time.Time, edges []Edge) []Edge {
	if e.s.StormMaxNew <= 0 {
		return edges
	}
	e.sent = slices.DeleteFunc(e.sent, func(t time.Time) bool { return now.Sub(t) >= e.s.StormWindow })
	var out []Edge
	for _, ed := range edges {
		if len(e.sent) < e.s.StormMaxNew && len(e.folded) == 0 {
			e.sent = append(e.sent, now)
			out = append(out, ed)
			continue
		}
		e.folded = append(e.folded, ed)
		e.changed = true
	}
	if len(e.folded) > 0 && (e.lastDigest.IsZero() || now.Sub(e.lastDigest) >= e.s.StormWindow) {
		out = append(out, Edge{Kind: Digest, At: now, Cause: CauseStorm, Items: e.folded})
		e.folded = nil
		e.lastDigest = now
		e.changed = true
	}
	return out
}

// snapshot copies in, its pods ordered by name, with the worst pod's values
// for the dimensions the incident is not grouped by.
func (e *Engine) snapshot(in *Incident) Incident {
	s := *in
	s.Group = slices.Clone(in.Group)
	s.Pods = slices.Clone(in.Pods)
	slices.SortFunc(s.Pods, func(a, b Pod) int { return cmp.Compare(a.Name, b.Name) })
	if len(s.Pods) == 0 {
		return s
	}
	w := &s.Pods[0]
	for i := range s.Pods {
		p := &s.Pods[i]
		if r, wr := rank(p.Reason), rank(w.Reason); r > wr || (r == wr && p.LastStuck.After(w.LastStuck)) {
			w = p
		}
	}
	s.Namespace, s.OwnerKind, s.OwnerName = w.Namespace, w.OwnerKind, w.OwnerName
	s.Reason, s.Container, s.Message, s.Hint = w.Reason, w.Container, w.Message, w.Hint
	return s
}

func (e *Engine) sorted() []*Incident {
	return slices.SortedFunc(maps.Values(e.incidents), func(a, b *Incident) int {
		return cmp.Or(a.FirstStuck.Compare(b.FirstStuck), cmp.Compare(a.ID, b.ID))
	})
}
