// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package incident

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-sre/otelcol-sre/internal/poddiagnosis/diagnosis"
)

// The timelines below script Kubernetes pods (the diagnosis core's lean view,
// as the informer cache holds them), diagnose them with the real diagnosis
// core and its default thresholds at every scrape, and feed what the
// k8s.pod.diagnosis series would carry to the engine.

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

const scrape = 30 * time.Second

type owned struct {
	pod              *diagnosis.Pod
	ownerKind, owner string
}

// cluster is the scripted state of the pods.
type cluster struct {
	pods map[string]*owned
	seq  int
}

func newCluster() *cluster { return &cluster{pods: map[string]*owned{}} }

// add creates a pod of owner (kind/name) in ns on node, built by mk.
func (c *cluster) add(ns, owner, node string, created time.Time, mk func(p *diagnosis.Pod)) *diagnosis.Pod {
	c.seq++
	kind, name, _ := strings.Cut(owner, "/")
	p := &diagnosis.Pod{Namespace: ns, Name: fmt.Sprintf("%s-%d", name, c.seq), UID: fmt.Sprintf("uid-%d", c.seq),
		NodeName: node, Phase: "Pending", RestartPolicy: "Always", Created: diagnosis.NewTime(created)}
	mk(p)
	c.pods[p.UID] = &owned{pod: p, ownerKind: kind, owner: name}
	return p
}

func (c *cluster) remove(match func(p *diagnosis.Pod) bool) {
	maps.DeleteFunc(c.pods, func(_ string, o *owned) bool { return match(o.pod) })
}

func (c *cluster) each(match func(p *diagnosis.Pod) bool, f func(p *diagnosis.Pod)) {
	for _, o := range c.pods {
		if match(o.pod) {
			f(o.pod)
		}
	}
}

// observe is one scrape of the receiver: a point per pod with a diagnosis.
func (c *cluster) observe(now time.Time) []Observation {
	var obs []Observation
	for _, uid := range slices.Sorted(maps.Keys(c.pods)) {
		o := c.pods[uid]
		d := diagnosis.Diagnose(o.pod, nil, now, diagnosis.DefaultOptions())
		if d.Reason == "" {
			continue
		}
		obs = append(obs, Observation{PodUID: uid, PodName: o.pod.Name, Namespace: o.pod.Namespace, Node: o.pod.NodeName,
			OwnerKind: o.ownerKind, OwnerName: o.owner, Status: d.Status, Stuck: d.Stuck, Reason: d.Reason,
			Container: d.Container, Message: d.Message, Hint: d.Hint})
	}
	return obs
}

func scheduled(p *diagnosis.Pod) {
	p.Conditions = append(p.Conditions, diagnosis.Condition{Type: "PodScheduled", Status: "True", LastTransition: p.Created})
}

func imagePullBackOff(p *diagnosis.Pod) {
	scheduled(p)
	p.Containers = []diagnosis.Container{{Name: "app", HasStatus: true, Waiting: &diagnosis.Waiting{Reason: "ImagePullBackOff",
		Message: `Back-off pulling image "registry.example/web:v2-typo"`}}}
}

func running(since time.Time) func(p *diagnosis.Pod) {
	return func(p *diagnosis.Pod) {
		p.Phase = "Running"
		p.Conditions = []diagnosis.Condition{
			{Type: "PodScheduled", Status: "True", LastTransition: p.Created},
			{Type: "Ready", Status: "True", LastTransition: diagnosis.NewTime(since)},
		}
		p.Containers = []diagnosis.Container{{Name: "app", HasStatus: true, Ready: true, Started: true, Running: true,
			RunningSince: diagnosis.NewTime(since)}}
	}
}

// crashLooping: the container waits in CrashLoopBackOff after exiting at exited.
func crashLooping(exited time.Time) func(p *diagnosis.Pod) {
	return func(p *diagnosis.Pod) {
		p.Phase = "Running"
		p.Conditions = []diagnosis.Condition{
			{Type: "PodScheduled", Status: "True", LastTransition: p.Created},
			{Type: "Ready", Status: "False", LastTransition: diagnosis.NewTime(exited),
				Detail: &diagnosis.ConditionDetail{Reason: "ContainersNotReady", Message: "containers with unready status: [app]"}},
		}
		p.Containers = []diagnosis.Container{{Name: "app", HasStatus: true, RestartCount: 3,
			Waiting:        &diagnosis.Waiting{Reason: "CrashLoopBackOff", Message: "back-off 40s restarting failed container=app"},
			LastTerminated: &diagnosis.Terminated{Reason: "Error", ExitCode: 1, FinishedAt: diagnosis.NewTime(exited)}}}
	}
}

// restartedRunning: the container runs again after exiting at exited, not
// ready yet.
func restartedRunning(exited time.Time) func(p *diagnosis.Pod) {
	return func(p *diagnosis.Pod) {
		crashLooping(exited)(p)
		p.Containers[0].Waiting = nil
		p.Containers[0].Running = true
		p.Containers[0].RunningSince = diagnosis.NewTime(exited.Add(time.Second))
	}
}

func unschedulable(p *diagnosis.Pod) {
	p.Conditions = []diagnosis.Condition{{Type: "PodScheduled", Status: "False", LastTransition: p.Created,
		Detail: &diagnosis.ConditionDetail{Reason: "Unschedulable",
			Message: "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."}}}
}

func createConfigError(p *diagnosis.Pod) {
	scheduled(p)
	p.Containers = []diagnosis.Container{{Name: "app", HasStatus: true, Waiting: &diagnosis.Waiting{
		Reason: "CreateContainerConfigError", Message: `secret "db-credentials" not found`}}}
}

// nodeLost marks a running pod as deleted by the taint manager of an
// unreachable node at evicted (grace 30 s).
func nodeLost(evicted time.Time) func(p *diagnosis.Pod) {
	return func(p *diagnosis.Pod) {
		p.Deletion = diagnosis.NewTime(evicted.Add(30 * time.Second))
		p.DeletionGraceSecond = 30
		p.Conditions = append(p.Conditions, diagnosis.Condition{Type: "DisruptionTarget", Status: "True",
			LastTransition: diagnosis.NewTime(evicted),
			Detail:         &diagnosis.ConditionDetail{Reason: "DeletionByTaintManager", Message: "Taint manager: deleting due to NoExecute taint"}})
	}
}

func byOwner(name string) func(p *diagnosis.Pod) bool {
	return func(p *diagnosis.Pod) bool { return strings.HasPrefix(p.Name, name+"-") }
}

// step is a scripted change at an offset from t0.
type step struct {
	at time.Duration
	do func(c *cluster, now time.Time)
}

// restartAt, when not zero, encodes the engine's table at that offset and
// continues with a new engine restored from it (a collector restart).
type timeline struct {
	name      string
	settings  func(s *Settings)
	steps     []step
	until     time.Duration
	restartAt time.Duration
	// want counts edges by kind; digest items count under their own kind
	// and under "digest item".
	want map[string]int
	// wantIncidents is the number of distinct incidents notified.
	wantIncidents int
}

type result struct {
	edges  []Edge
	counts map[string]int
	// firstStuck is when a pod of a group was first observed stuck.
	firstStuck map[string]time.Time
	// latency from the first stuck observation of a group to its opened
	// notification.
	latency map[string]time.Duration
	ids     map[string]bool
}

func run(t *testing.T, tl timeline) result {
	t.Helper()
	s := DefaultSettings()
	if tl.settings != nil {
		tl.settings(&s)
	}
	c := newCluster()
	e := New(s, t0)
	r := result{counts: map[string]int{}, firstStuck: map[string]time.Time{}, latency: map[string]time.Duration{}, ids: map[string]bool{}}
	steps := slices.Clone(tl.steps)
	record := func(ed Edge) {
		r.edges = append(r.edges, ed)
		r.counts[string(ed.Kind)]++
		items := []Edge{ed}
		if ed.Kind == Digest {
			items = ed.Items
			r.counts["digest item"] += len(ed.Items)
		}
		for _, it := range items {
			if ed.Kind == Digest {
				r.counts[string(it.Kind)]++
			}
			r.ids[it.Incident.ID] = true
			g := groupKey(it.Incident.Group)
			if it.Kind == Opened {
				r.latency[g] = ed.At.Sub(r.firstStuck[g])
			}
		}
	}
	for off := time.Duration(0); off <= tl.until; off += scrape {
		now := t0.Add(off)
		for len(steps) > 0 && steps[0].at <= off {
			steps[0].do(c, now)
			steps = steps[1:]
		}
		if tl.restartAt > 0 && off == tl.restartAt {
			data, err := e.Encode()
			require.NoError(t, err)
			e = New(s, now)
			require.NoError(t, e.Restore(data, now))
		}
		obs := c.observe(now)
		for i := range obs {
			if o := &obs[i]; o.Stuck && s.Filter.Match(o) {
				g := groupKey(e.labels(o))
				if _, ok := r.firstStuck[g]; !ok {
					r.firstStuck[g] = now
				}
			}
		}
		for _, ed := range e.Observe(now, obs) {
			record(ed)
		}
	}
	return r
}

func at(d time.Duration, do func(c *cluster, now time.Time)) step { return step{at: d, do: do} }

func TestTimelines(t *testing.T) {
	timelines := []timeline{
		{
			// A new ReplicaSet's pods cannot pull their image; the HPA adds
			// more while it lasts; the rollout is undone at 10 min and the
			// bad pods are deleted.
			name: "bad image rollout",
			steps: []step{
				at(2*time.Minute, func(c *cluster, now time.Time) {
					for range 10 {
						c.add("shop", "Deployment/web", "node-1", now, imagePullBackOff)
					}
				}),
				at(4*time.Minute, func(c *cluster, now time.Time) {
					for range 15 {
						c.add("shop", "Deployment/web", "node-2", now, imagePullBackOff)
					}
				}),
				at(12*time.Minute, func(c *cluster, _ time.Time) { c.remove(byOwner("web")) }),
			},
			until:         30 * time.Minute,
			want:          map[string]int{"opened": 1, "escalated": 1, "resolved": 1},
			wantIncidents: 1,
		},
		{
			// CrashLoopBackOff for a minute, running (not ready) for two,
			// again and again for 40 minutes, then fixed.
			name: "flapping crash loop",
			steps: func() []step {
				var st []step
				c0 := func(c *cluster, now time.Time) { c.add("pay", "StatefulSet/ledger", "node-1", now, running(now)) }
				st = append(st, at(0, c0))
				for m := time.Minute; m < 41*time.Minute; m += 3 * time.Minute {
					st = append(st,
						at(m, func(c *cluster, now time.Time) { c.each(byOwner("ledger"), crashLooping(now)) }),
						at(m+time.Minute, func(c *cluster, now time.Time) {
							c.each(byOwner("ledger"), restartedRunning(now.Add(-time.Second)))
						}))
				}
				return append(st, at(43*time.Minute, func(c *cluster, now time.Time) { c.each(byOwner("ledger"), running(now)) }))
			}(),
			until:         60 * time.Minute,
			want:          map[string]int{"opened": 1, "resolved": 1},
			wantIncidents: 1,
		},
		{
			// A crash loop that lasts 9 hours: reminders every 4 h.
			name: "long crash loop reminds",
			steps: []step{
				at(2*time.Minute, func(c *cluster, now time.Time) { c.add("pay", "Deployment/api", "node-1", now, crashLooping(now)) }),
				at(9*time.Hour, func(c *cluster, now time.Time) { c.each(byOwner("api"), running(now)) }),
			},
			until:         9*time.Hour + 10*time.Minute,
			want:          map[string]int{"opened": 1, "reminder": 2, "resolved": 1},
			wantIncidents: 1,
		},
		{
			// The cluster autoscaler adds a node: pods are Unschedulable for
			// 40 s, then scheduled and running.
			name: "autoscaler scale-up",
			steps: []step{
				at(time.Minute, func(c *cluster, now time.Time) {
					for range 5 {
						c.add("batch", "Deployment/worker", "", now, unschedulable)
					}
				}),
				at(time.Minute+40*time.Second, func(c *cluster, now time.Time) {
					c.each(byOwner("worker"), func(p *diagnosis.Pod) { p.NodeName = "node-new"; running(now)(p) })
				}),
			},
			until: 15 * time.Minute,
			want:  map[string]int{},
		},
		{
			// node-1 becomes unreachable at 1 min; the taint manager deletes
			// its pods 5 min later; they stay Terminating (nobody confirms)
			// until they are force-deleted at 20 min. Replacements run.
			name: "node loss",
			steps: []step{
				at(0, func(c *cluster, now time.Time) {
					for range 4 {
						c.add("shop", "Deployment/web", "node-1", now, running(now))
					}
					for range 2 {
						c.add("shop", "StatefulSet/cache", "node-1", now, running(now))
					}
					c.add("shop", "Deployment/web", "node-2", now, running(now))
				}),
				at(6*time.Minute, func(c *cluster, now time.Time) {
					c.each(func(p *diagnosis.Pod) bool { return p.NodeName == "node-1" }, nodeLost(now))
				}),
				at(20*time.Minute, func(c *cluster, _ time.Time) {
					c.remove(func(p *diagnosis.Pod) bool { return p.NodeName == "node-1" })
				}),
			},
			until:         40 * time.Minute,
			want:          map[string]int{"opened": 2, "resolved": 2},
			wantIncidents: 2,
		},
		{
			// A crash-looping bare pod is deleted.
			name: "deletion",
			steps: []step{
				at(2*time.Minute, func(c *cluster, now time.Time) { c.add("dev", "", "node-1", now, crashLooping(now)) }),
				at(5*time.Minute, func(c *cluster, _ time.Time) { c.remove(func(*diagnosis.Pod) bool { return true }) }),
			},
			until:         20 * time.Minute,
			want:          map[string]int{"opened": 1, "resolved": 1},
			wantIncidents: 1,
		},
		{
			// A shared Secret disappears: 200 pods of 100 Deployments in 100
			// namespaces cannot start; it is restored at 10 min.
			name: "storm of 200 pods",
			steps: []step{
				at(time.Minute, func(c *cluster, now time.Time) {
					for i := range 200 {
						c.add(fmt.Sprintf("team-%d", i/2), fmt.Sprintf("Deployment/svc%d", i/2), "node-1", now, createConfigError)
					}
				}),
				at(10*time.Minute, func(c *cluster, now time.Time) {
					c.each(func(*diagnosis.Pod) bool { return true }, running(now))
				}),
			},
			until: 30 * time.Minute,
			// 10 opened + a digest of 90; 10 resolved + a digest of 90.
			want: map[string]int{"opened": 100, "resolved": 100, "digest": 2, "digest item": 180},
			// 100 incidents, not 200 pods.
			wantIncidents: 100,
		},
		{
			// The bad rollout again; the collector restarts at 6 min from
			// its persisted table; the rollout is undone at 12 min.
			name:      "restart mid-incident",
			restartAt: 6 * time.Minute,
			steps: []step{
				at(2*time.Minute, func(c *cluster, now time.Time) {
					for range 10 {
						c.add("shop", "Deployment/web", "node-1", now, imagePullBackOff)
					}
				}),
				at(12*time.Minute, func(c *cluster, _ time.Time) { c.remove(byOwner("web")) }),
			},
			until:         30 * time.Minute,
			want:          map[string]int{"opened": 1, "resolved": 1},
			wantIncidents: 1,
		},
		startupTimeline(StartupDigest, map[string]int{"digest": 1, "digest item": 3, "opened": 3, "resolved": 3}, 3),
		startupTimeline(StartupSilent, map[string]int{}, 0),
		startupTimeline(StartupNotify, map[string]int{"opened": 3, "resolved": 3}, 3),
	}
	for _, tl := range timelines {
		t.Run(tl.name, func(t *testing.T) {
			r := run(t, tl)
			assert.Equal(t, tl.want, r.counts, "edges: %s", describe(r.edges))
			assert.Len(t, r.ids, tl.wantIncidents, "distinct incidents notified")
			var lat []string
			for _, g := range slices.Sorted(maps.Keys(r.latency)) {
				lat = append(lat, r.latency[g].String())
			}
			notifications := len(r.edges)
			t.Logf("FIGURE %s: %d notifications for %d incidents (%v); first stuck observation -> opened: %s",
				tl.name, notifications, len(r.ids), r.counts, summarize(lat))
		})
	}
}

// startupTimeline: three Deployments are already stuck when the collector
// starts; they are fixed at 20 min.
func startupTimeline(mode StartupMode, want map[string]int, incidents int) timeline {
	return timeline{
		name:     "startup " + string(mode),
		settings: func(s *Settings) { s.Startup = mode },
		steps: []step{
			at(0, func(c *cluster, now time.Time) {
				for _, d := range []string{"a", "b", "c"} {
					c.add("ops", "Deployment/"+d, "node-1", now.Add(-time.Hour), imagePullBackOff)
				}
			}),
			at(20*time.Minute, func(c *cluster, _ time.Time) { c.remove(func(*diagnosis.Pod) bool { return true }) }),
		},
		until:         40 * time.Minute,
		want:          want,
		wantIncidents: incidents,
	}
}

func summarize(lat []string) string {
	if len(lat) == 0 {
		return "n/a"
	}
	slices.Sort(lat)
	lat = slices.Compact(lat)
	return strings.Join(lat, ", ")
}

func describe(edges []Edge) string {
	var b strings.Builder
	for _, e := range edges {
		fmt.Fprintf(&b, "\n  %s +%s %s pods=%d reason=%s items=%d", e.Kind, e.At.Sub(t0), e.Incident.ID,
			len(e.Incident.Pods), e.Incident.Reason, len(e.Items))
	}
	return b.String()
}
