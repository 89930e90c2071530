// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package podcache

import (
	"sync"
	"sync/atomic"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/otelcol-sre/otelcol-sre/internal/poddiagnosis/diagnosis"
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
