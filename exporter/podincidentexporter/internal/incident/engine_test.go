// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package incident

import (
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFilterMatch(t *testing.T) {
	o := Observation{Namespace: "shop", Reason: "ImagePullBackOff", Message: `Back-off pulling image "web:v2"`}
	tests := []struct {
		name string
		f    Filter
		want bool
	}{
		{"empty filter matches all", Filter{}, true},
		{"namespace included", Filter{IncludeNamespaces: []string{"shop"}}, true},
		{"namespace not included", Filter{IncludeNamespaces: []string{"pay"}}, false},
		{"exclude wins over include", Filter{IncludeNamespaces: []string{"shop"}, ExcludeNamespaces: []string{"shop"}}, false},
		{"reason excluded", Filter{ExcludeReasons: []string{"ImagePullBackOff"}}, false},
		{"reason not included", Filter{IncludeReasons: []string{"OOMKilled"}}, false},
		{"message regex included", Filter{IncludeMessages: []*regexp.Regexp{regexp.MustCompile(`pulling image`)}}, true},
		{"message regex not included", Filter{IncludeMessages: []*regexp.Regexp{regexp.MustCompile(`^OOM`)}}, false},
		{"message regex excluded wins", Filter{IncludeReasons: []string{"ImagePullBackOff"},
			ExcludeMessages: []*regexp.Regexp{regexp.MustCompile(`web:v\d`)}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { assert.Equal(t, tt.want, tt.f.Match(&o)) })
	}
}

func stuckObs(uid, reason string) Observation {
	return Observation{PodUID: uid, PodName: "web-" + uid, Namespace: "shop", OwnerKind: "Deployment", OwnerName: "web",
		Stuck: true, Reason: reason, Container: "app", Message: reason + " message"}
}

func kinds(edges []Edge) []Kind {
	var k []Kind
	for _, e := range edges {
		k = append(k, e.Kind)
	}
	return k
}

// feed observes obs at every 30 s from from to to and returns all edges.
func feed(e *Engine, from, to time.Duration, obs ...Observation) []Edge {
	var out []Edge
	for d := from; d <= to; d += 30 * time.Second {
		out = append(out, e.Observe(t0.Add(d), obs)...)
	}
	return out
}

func TestEscalation(t *testing.T) {
	s := DefaultSettings()
	s.Startup = StartupNotify
	s.GroupBy = []GroupKey{ByNamespace, ByOwner} // reason not grouped: a worse reason escalates
	tests := []struct {
		name  string
		later []Observation
		want  []Kind
	}{
		{"same pods, same reason: nothing more", []Observation{stuckObs("1", "ContainerCreating")}, nil},
		{"one more pod of two: not doubled", []Observation{stuckObs("1", "ContainerCreating"), stuckObs("2", "ContainerCreating")}, nil},
		{"twice the pods escalate", []Observation{stuckObs("1", "ContainerCreating"), stuckObs("2", "ContainerCreating"),
			stuckObs("3", "ContainerCreating"), stuckObs("4", "ContainerCreating")}, []Kind{Escalated}},
		{"a worse reason escalates", []Observation{stuckObs("1", "OOMKilled"), stuckObs("2", "ContainerCreating")}, []Kind{Escalated}},
		{"a milder reason does not", []Observation{stuckObs("1", "ContainerCreating"), stuckObs("2", "NotReady")}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := New(s, t0)
			first := feed(e, 0, 30*time.Second, stuckObs("1", "ContainerCreating"), stuckObs("2", "ContainerCreating"))
			require.Equal(t, []Kind{Opened}, kinds(first))
			assert.Equal(t, tt.want, kinds(feed(e, time.Minute, 3*time.Minute, tt.later...)))
		})
	}
}

func TestOneScrapeBlipOpensNothing(t *testing.T) {
	s := DefaultSettings()
	s.Startup = StartupNotify
	e := New(s, t0)
	edges := feed(e, 0, 0, stuckObs("1", "CrashLoopBackOff"))
	edges = append(edges, feed(e, 30*time.Second, 20*time.Minute)...)
	assert.Empty(t, edges)
}

func TestErrImagePullAndBackOffAreOneIncident(t *testing.T) {
	s := DefaultSettings()
	s.Startup = StartupNotify
	e := New(s, t0)
	var edges []Edge
	for i := range 10 {
		r := "ImagePullBackOff"
		if i%2 == 1 {
			r = "ErrImagePull"
		}
		edges = append(edges, e.Observe(t0.Add(time.Duration(i)*30*time.Second), []Observation{stuckObs("1", r)})...)
	}
	assert.Equal(t, []Kind{Opened}, kinds(edges))
	assert.Equal(t, "ImagePullBackOff", edges[0].Incident.Reason)
}

func TestStormDigestOncePerWindow(t *testing.T) {
	s := DefaultSettings()
	s.Startup = StartupNotify
	s.StormMaxNew = 2
	e := New(s, t0)
	// Five groups at 0 s, five more at 30 s: 2 opened and a digest of 3 at
	// 30 s; the second five are confirmed at 60 s, inside the window of the
	// first digest, and wait for it to pass (90 s).
	var at []string
	for d := time.Duration(0); d <= 2*time.Minute; d += 30 * time.Second {
		var obs []Observation
		for i := range 10 {
			if i < 5 || d > 0 {
				o := stuckObs(string(rune('a'+i)), "CrashLoopBackOff")
				o.OwnerName = o.PodUID
				obs = append(obs, o)
			}
		}
		for _, ed := range e.Observe(t0.Add(d), obs) {
			at = append(at, fmt.Sprintf("%s %s %s items=%d", ed.At.Sub(t0), ed.Kind, ed.Cause, len(ed.Items)))
		}
	}
	assert.Equal(t, []string{
		"30s opened  items=0",
		"30s opened  items=0",
		"30s digest storm items=3",
		"1m30s digest storm items=5",
	}, at)
}

func TestOpenListsAnnouncedIncidents(t *testing.T) {
	s := DefaultSettings()
	s.Startup = StartupNotify
	e := New(s, t0)
	feed(e, 0, 0, stuckObs("1", "OOMKilled"))
	assert.Empty(t, e.Open(), "not confirmed yet")
	feed(e, 30*time.Second, 30*time.Second, stuckObs("1", "OOMKilled"))
	open := e.Open()
	require.Len(t, open, 1)
	assert.Equal(t, "shop", open[0].Namespace)
	assert.Equal(t, "Deployment", open[0].OwnerKind)
	assert.Equal(t, "web", open[0].OwnerName)
	assert.Equal(t, "OOMKilled message", open[0].Message)
	assert.True(t, e.Changed())
	assert.False(t, e.Changed(), "Changed clears the flag")
}

func TestRestoreRejects(t *testing.T) {
	e := New(DefaultSettings(), t0)
	for name, data := range map[string]string{
		"not json":      "{",
		"other version": `{"version":2,"incidents":[]}`,
	} {
		t.Run(name, func(t *testing.T) {
			assert.ErrorContains(t, e.Restore([]byte(data), t0), "decoding the incident table")
		})
	}
}

func FuzzRestore(f *testing.F) {
	e := New(DefaultSettings(), t0)
	feed(e, 2*time.Minute, 3*time.Minute, stuckObs("1", "OOMKilled"))
	data, err := e.Encode()
	require.NoError(f, err)
	f.Add(data)
	f.Add([]byte(`{"version":1,"incidents":[{"Pods":[{}]}]}`))
	f.Fuzz(func(_ *testing.T, data []byte) {
		e := New(DefaultSettings(), t0)
		if e.Restore(data, t0) == nil {
			e.Tick(t0.Add(time.Hour))
		}
	})
}
