// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package podcache

import (
	"context"
	"errors"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"

	"github.com/otelcol-sre/otelcol-sre/internal/poddiagnosis/diagnosis"
)

func (c *Cache) newPodInformer(namespace string) cache.SharedIndexInformer {
	tweak := func(o *metav1.ListOptions) {
		o.LabelSelector = c.cfg.LabelSelector
		if c.cfg.NodeName != "" {
			o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", c.cfg.NodeName).String()
		}
	}
	pods := c.client.CoreV1().Pods(namespace)
	lw := c.newListWatch("pods", tweak,
		func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) { return pods.List(ctx, o) },
		pods.Watch)
	inf := cache.NewSharedIndexInformer(lw, &corev1.Pod{}, 0, cache.Indexers{})
	c.setup(inf, c.transformPod, cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.upsertPod(obj) },
		UpdateFunc: func(_, obj any) { c.upsertPod(obj) },
		DeleteFunc: c.deletePod,
	})
	return inf
}

func (c *Cache) newEventInformer(namespace string) cache.SharedIndexInformer {
	selector := fields.AndSelectors(
		fields.OneTermEqualSelector("type", corev1.EventTypeWarning),
		fields.OneTermEqualSelector("involvedObject.kind", "Pod"),
	).String()
	events := c.client.CoreV1().Events(namespace)
	lw := c.newListWatch("events", func(o *metav1.ListOptions) { o.FieldSelector = selector },
		func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) { return events.List(ctx, o) },
		events.Watch)
	inf := cache.NewSharedIndexInformer(lw, &corev1.Event{}, 0, cache.Indexers{podUIDIndex: indexByPodUID})
	c.setup(inf, c.transformEvent, cache.ResourceEventHandlerFuncs{
		AddFunc:    c.onEvent,
		UpdateFunc: func(_, obj any) { c.onEvent(obj) },
		DeleteFunc: c.onEvent,
	})
	return inf
}

// newListWatch builds an informer's ListerWatcher: it applies the selectors
// and reports every failed list or watch call to OnWatchError — including the
// watch retries the reflector makes on its own while the API server refuses
// connections, which never reach a WatchErrorHandler.
func (c *Cache) newListWatch(resource string, tweak func(*metav1.ListOptions),
	list func(context.Context, metav1.ListOptions) (runtime.Object, error),
	watchFn func(context.Context, metav1.ListOptions) (watch.Interface, error),
) cache.ListerWatcher {
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			tweak(&o)
			obj, err := list(ctx, o)
			c.reportError(ctx, resource, err)
			return obj, err
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			tweak(&o)
			w, err := watchFn(ctx, o)
			c.reportError(ctx, resource, err)
			return w, err
		},
	}
	return cache.ToListWatcherWithWatchListSemantics(lw, c.client)
}

// reportError passes a failed call on, unless the cache is stopping.
func (c *Cache) reportError(ctx context.Context, resource string, err error) {
	if err != nil && ctx.Err() == nil && c.cfg.OnWatchError != nil {
		c.cfg.OnWatchError(resource, err)
	}
}

func (c *Cache) setup(inf cache.SharedIndexInformer, transform cache.TransformFunc, h cache.ResourceEventHandler) {
	// Only fails once the informer has started; it has not.
	_ = inf.SetTransform(transform)
	reg, _ := inf.AddEventHandler(h)
	c.synced = append(c.synced, reg.HasSynced)
}

// Start runs the informers and the re-diagnosis tick in the background. It
// never waits for the API server.
func (c *Cache) Start(ctx context.Context) {
	ctx, c.cancel = context.WithCancel(ctx)
	for _, inf := range append(append([]cache.SharedIndexInformer{}, c.podInformers...), c.eventInformers...) {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			inf.RunWithContext(ctx)
		}()
	}
	if c.cfg.RediagnoseInterval > 0 {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			t := time.NewTicker(c.cfg.RediagnoseInterval)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					c.Rediagnose()
				}
			}
		}()
	}
}

// WaitForSync blocks until every informer has listed once and the cache has
// processed that list, or ctx ends.
func (c *Cache) WaitForSync(ctx context.Context) error {
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return errors.New("waiting for the pod cache to sync: " + context.Cause(ctx).Error())
	}
	c.Rediagnose()
	return nil
}

// HasSynced tells whether every informer has listed once and the cache has
// processed that list.
func (c *Cache) HasSynced() bool {
	for _, synced := range c.synced {
		if !synced() {
			return false
		}
	}
	return true
}

// Stop ends the informers and the tick and waits for them.
func (c *Cache) Stop() {
	if c.cancel != nil {
		c.cancel()
	}
	c.wg.Wait()
}

// transformPod is the pod informer's TransformFunc. It must be idempotent:
// tombstones and already transformed objects pass through.
func (c *Cache) transformPod(obj any) (any, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	return &cachedPod{Pod: diagnosis.FromPod(p, c.cfg.Diagnosis.MaxMessageLength, c.interner)}, nil
}

func (c *Cache) transformEvent(obj any) (any, error) {
	e, ok := obj.(*corev1.Event)
	if !ok {
		return obj, nil
	}
	ce := &cachedEvent{namespace: e.Namespace, name: e.Name, resourceVersion: e.ResourceVersion}
	if c.events.Relevant(e) {
		ce.relevant = true
		ce.podUID = string(e.InvolvedObject.UID)
		ce.event = diagnosis.FromEvent(e, c.cfg.Diagnosis.MaxMessageLength, c.interner)
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
