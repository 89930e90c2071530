// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package podcache

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/otelcol-sre/otelcol-sre/processor/k8spoddiagnosticsprocessor/diagnosis"
)

// DefaultEventReasons are the Warning event reasons the diagnosis reads.
var DefaultEventReasons = []string{
	"FailedMount", "FailedAttachVolume", "FailedCreatePodSandBox", "Unhealthy", "Failed", "FailedScheduling", "NodeNotReady",
}

// Config selects the pods to cache and how they are diagnosed.
type Config struct {
	// Namespaces to watch; empty watches all.
	Namespaces []string
	// NodeName restricts the cache to pods bound to this node (DaemonSet and
	// sidecar modes); empty caches pods of every node.
	NodeName string
	// LabelSelector restricts the cache to matching pods.
	LabelSelector string
	// Events enables the Warning event informer.
	Events bool
	// EventReasons are the event reasons kept; others are dropped at the
	// informer transform. Empty means DefaultEventReasons.
	EventReasons []string
	// MaxEventsPerPod bounds the events of one pod the diagnosis reads
	// (newest win).
	MaxEventsPerPod int
	// RediagnoseInterval is the period at which every cached pod is
	// diagnosed again (age rules change with time alone).
	RediagnoseInterval time.Duration
	// MaxMessageLength cuts messages when they enter the cache.
	MaxMessageLength int
	// Diagnosis holds the core's thresholds.
	Diagnosis diagnosis.Options
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// OnWatchError is called for every failed list or watch call (API server
	// slow or down); the informers retry on their own.
	OnWatchError func(resource string, err error)
}

// Stats is a snapshot of the cache for self-telemetry.
type Stats struct {
	Pods          int
	StuckByReason map[string]int
}

// Result is a pod's diagnosis as the processor attaches it; read-only.
type Result struct {
	diagnosis.Diagnosis
	// SinceRFC3339 is Since rendered once, "" when unknown.
	SinceRFC3339 string
}

type nameKey struct{ namespace, name string }

// Cache keeps a lean view of pods (and their Warning events) through client-go
// informers, diagnoses every pod on each change and on a tick, and answers
// lookups by UID, name and IP without ever calling the API server.
type Cache struct {
	client       kubernetes.Interface
	cfg          Config
	logger       *zap.Logger
	interner     *interner
	eventReasons map[string]bool

	podInformers   []cache.SharedIndexInformer
	eventInformers []cache.SharedIndexInformer
	// synced reports, per informer, whether our handler has processed the
	// initial list (the informer's own HasSynced does not wait for handlers).
	synced []cache.InformerSynced

	mu      sync.RWMutex
	byUID   map[string]*cachedPod
	byName  map[nameKey]*cachedPod
	byIP    map[string]*cachedPod
	healthy map[string]*Result

	stats atomic.Pointer[Stats]

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New builds a cache; nothing talks to the API server before Start.
func New(client kubernetes.Interface, cfg Config, logger *zap.Logger) *Cache {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if len(cfg.EventReasons) == 0 {
		cfg.EventReasons = DefaultEventReasons
	}
	if cfg.MaxEventsPerPod <= 0 {
		cfg.MaxEventsPerPod = 8
	}
	c := &Cache{
		client:       client,
		cfg:          cfg,
		logger:       logger,
		interner:     newInterner(1 << 16),
		eventReasons: make(map[string]bool, len(cfg.EventReasons)),
		byUID:        make(map[string]*cachedPod),
		byName:       make(map[nameKey]*cachedPod),
		byIP:         make(map[string]*cachedPod),
		healthy:      make(map[string]*Result),
	}
	for _, r := range cfg.EventReasons {
		c.eventReasons[r] = true
	}
	c.stats.Store(&Stats{StuckByReason: map[string]int{}})
	namespaces := cfg.Namespaces
	if len(namespaces) == 0 {
		namespaces = []string{metav1.NamespaceAll}
	}
	for _, ns := range namespaces {
		c.podInformers = append(c.podInformers, c.newPodInformer(ns))
		if cfg.Events {
			c.eventInformers = append(c.eventInformers, c.newEventInformer(ns))
		}
	}
	return c
}

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

// ByUID returns the diagnosis of the pod with this UID.
func (c *Cache) ByUID(uid string) (*Result, bool) {
	c.mu.RLock()
	e := c.byUID[uid]
	c.mu.RUnlock()
	return load(e)
}

// ByName returns the diagnosis of namespace/name.
func (c *Cache) ByName(namespace, name string) (*Result, bool) {
	c.mu.RLock()
	e := c.byName[nameKey{namespace, name}]
	c.mu.RUnlock()
	return load(e)
}

// ByIP returns the diagnosis of the non-terminal, non-hostNetwork pod with
// this IP. Completed and failed pods keep their IP in status while new pods
// reuse it, so they are never matched by IP.
func (c *Cache) ByIP(ip string) (*Result, bool) {
	c.mu.RLock()
	e := c.byIP[ip]
	c.mu.RUnlock()
	return load(e)
}

func load(e *cachedPod) (*Result, bool) {
	if e == nil {
		return nil, false
	}
	d := e.diag.Load()
	return d, d != nil
}

// Stats returns the counts of the latest re-diagnosis.
func (c *Cache) Stats() Stats {
	s := c.stats.Load()
	c.mu.RLock()
	pods := len(c.byUID)
	c.mu.RUnlock()
	return Stats{Pods: pods, StuckByReason: s.StuckByReason}
}

// diagnose computes p's diagnosis; healthy diagnoses are shared per status so
// that the common case costs no memory per pod.
func (c *Cache) diagnose(p *cachedPod, events []diagnosis.Event, now time.Time) *Result {
	d := &Result{Diagnosis: diagnosis.Diagnose(&p.Pod, events, now, c.cfg.Diagnosis)}
	if !d.Since.IsZero() {
		d.SinceRFC3339 = d.Since.UTC().Format(time.RFC3339)
	}
	if d.Reason != "" || d.Stuck || d.SinceRFC3339 != "" {
		return d
	}
	c.mu.RLock()
	shared := c.healthy[d.Status]
	c.mu.RUnlock()
	if shared != nil {
		return shared
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if shared = c.healthy[d.Status]; shared == nil {
		shared = d
		c.healthy[d.Status] = shared
	}
	return shared
}

const podUIDIndex = "podUID"

func indexByPodUID(obj any) ([]string, error) {
	if e, ok := obj.(*cachedEvent); ok && e.relevant {
		return []string{e.podUID}, nil
	}
	return nil, nil
}

// eventsOf returns the newest (at most MaxEventsPerPod) relevant events of a
// pod from the event informers' index.
func (c *Cache) eventsOf(uid string) []diagnosis.Event {
	var out []diagnosis.Event
	for _, inf := range c.eventInformers {
		objs, err := inf.GetIndexer().ByIndex(podUIDIndex, uid)
		if err != nil {
			continue
		}
		for _, o := range objs {
			if e, ok := o.(*cachedEvent); ok {
				out = append(out, e.event)
			}
		}
	}
	if len(out) > c.cfg.MaxEventsPerPod {
		sort.Slice(out, func(i, j int) bool { return out[i].Last.After(out[j].Last) })
		out = out[:c.cfg.MaxEventsPerPod]
	}
	return out
}

func (c *Cache) upsertPod(obj any) {
	p, ok := unwrap(obj).(*cachedPod)
	if !ok {
		return
	}
	p.diag.Store(c.diagnose(p, c.eventsOf(p.UID), c.cfg.Now()))

	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.byName[nameKey{p.Namespace, p.Name}]; old != nil && old.UID != p.UID {
		// Same name, new incarnation (StatefulSet pods): forget the old one.
		c.removeLocked(old)
	}
	if old := c.byUID[p.UID]; old != nil && old.PodIP != p.PodIP && c.byIP[old.PodIP] == old {
		delete(c.byIP, old.PodIP)
	}
	c.byUID[p.UID] = p
	c.byName[nameKey{p.Namespace, p.Name}] = p
	if p.PodIP != "" {
		if ipMatchable(&p.Pod) {
			c.byIP[p.PodIP] = p
		} else if cur := c.byIP[p.PodIP]; cur != nil && cur.UID == p.UID {
			delete(c.byIP, p.PodIP)
		}
	}
}

// ipMatchable: only running-or-starting pods with their own network
// namespace own their IP.
func ipMatchable(p *diagnosis.Pod) bool {
	return !p.HostNetwork && p.Phase != string(corev1.PodSucceeded) && p.Phase != string(corev1.PodFailed)
}

func (c *Cache) deletePod(obj any) {
	p, ok := unwrap(obj).(*cachedPod)
	if !ok {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.byUID[p.UID]; e != nil {
		c.removeLocked(e)
	}
}

func (c *Cache) removeLocked(p *cachedPod) {
	if c.byUID[p.UID] == p {
		delete(c.byUID, p.UID)
	}
	if k := (nameKey{p.Namespace, p.Name}); c.byName[k] == p {
		delete(c.byName, k)
	}
	if c.byIP[p.PodIP] == p {
		delete(c.byIP, p.PodIP)
	}
}

// onEvent re-diagnoses the pod an event is about.
func (c *Cache) onEvent(obj any) {
	if ev, ok := unwrap(obj).(*cachedEvent); ok && ev.relevant {
		c.rediagnoseUID(ev.podUID)
	}
}

func (c *Cache) rediagnoseUID(uid string) {
	c.mu.RLock()
	e := c.byUID[uid]
	c.mu.RUnlock()
	if e != nil {
		e.diag.Store(c.diagnose(e, c.eventsOf(uid), c.cfg.Now()))
	}
}

// Rediagnose diagnoses every cached pod again at the current time and
// refreshes the stuck-by-reason counts.
func (c *Cache) Rediagnose() {
	c.mu.RLock()
	entries := make([]*cachedPod, 0, len(c.byUID))
	for _, e := range c.byUID {
		entries = append(entries, e)
	}
	c.mu.RUnlock()
	now := c.cfg.Now()
	stuck := map[string]int{}
	for _, e := range entries {
		d := c.diagnose(e, c.eventsOf(e.UID), now)
		e.diag.Store(d)
		if d.Stuck {
			stuck[d.Reason]++
		}
	}
	c.stats.Store(&Stats{StuckByReason: stuck})
}

// String describes the cache's selection, for logs.
func (c *Cache) String() string {
	return fmt.Sprintf("namespaces=%v node=%q labels=%q events=%v", c.cfg.Namespaces, c.cfg.NodeName, c.cfg.LabelSelector, c.cfg.Events)
}
