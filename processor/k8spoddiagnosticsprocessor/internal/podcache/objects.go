// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package podcache // import "github.com/otelcol-sre/otelcol-sre/processor/k8spoddiagnosticsprocessor/internal/podcache"

import (
	"sync"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/otelcol-sre/otelcol-sre/processor/k8spoddiagnosticsprocessor/diagnosis"
)

// cachedPod is what the pod informer stores instead of *corev1.Pod: the lean
// view the diagnosis core reads and its latest diagnosis. It satisfies
// metav1.ObjectMetaAccessor so that the informer can key it and tell resyncs
// from updates. The pod view is never mutated (an update brings a new
// cachedPod); diag is swapped atomically on re-diagnosis.
type cachedPod struct {
	diagnosis.Pod
	diag atomic.Pointer[Result]
}

func (p *cachedPod) GetObjectMeta() metav1.Object {
	return &metav1.ObjectMeta{Namespace: p.Namespace, Name: p.Name, ResourceVersion: p.ResourceVersion}
}

// cachedEvent is what the event informer stores instead of *corev1.Event.
// Events whose reason is not one the diagnosis reads keep only their key.
type cachedEvent struct {
	namespace, name, resourceVersion string
	podUID                           string
	relevant                         bool
	event                            diagnosis.Event
}

func (e *cachedEvent) GetObjectMeta() metav1.Object {
	return &metav1.ObjectMeta{Namespace: e.namespace, Name: e.name, ResourceVersion: e.resourceVersion}
}

// transformPod is the pod informer's TransformFunc. It must be idempotent:
// tombstones and already transformed objects pass through.
func (c *Cache) transformPod(obj any) (any, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	return &cachedPod{Pod: diagnosis.FromPod(p, c.cfg.MaxMessageLength, c.interner)}, nil
}

func (c *Cache) transformEvent(obj any) (any, error) {
	e, ok := obj.(*corev1.Event)
	if !ok {
		return obj, nil
	}
	ce := &cachedEvent{namespace: e.Namespace, name: e.Name, resourceVersion: e.ResourceVersion}
	if c.eventReasons[e.Reason] && e.InvolvedObject.Kind == "Pod" && e.Type == corev1.EventTypeWarning {
		ce.relevant = true
		ce.podUID = string(e.InvolvedObject.UID)
		ce.event = diagnosis.FromEvent(e, c.cfg.MaxMessageLength, c.interner)
	}
	return ce, nil
}

// unwrap returns the object inside a deletion tombstone.
func unwrap(obj any) any {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		return t.Obj
	}
	return obj
}

// interner deduplicates strings that repeat across pods. It stops growing at
// maxEntries so that a stream of unique values cannot grow it without bound.
type interner struct {
	mu         sync.Mutex
	m          map[string]string
	maxEntries int
}

func newInterner(maxEntries int) *interner {
	return &interner{m: make(map[string]string), maxEntries: maxEntries}
}

func (in *interner) Intern(s string) string {
	if s == "" {
		return ""
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if v, ok := in.m[s]; ok {
		return v
	}
	if len(in.m) >= in.maxEntries {
		return s
	}
	in.m[s] = s
	return s
}
