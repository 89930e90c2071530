// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package podcache

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/otelcol-sre/otelcol-sre/internal/poddiagnosis/diagnosis"
)

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
	// informer transform. Empty means diagnosis.DefaultEventReasons.
	EventReasons []string
	// MaxEventsPerPod bounds the events of one pod the diagnosis reads
	// (newest win); 0 means diagnosis.DefaultMaxEventsPerPod.
	MaxEventsPerPod int
	// RediagnoseInterval is the period at which every cached pod is
	// diagnosed again (age rules change with time alone).
	RediagnoseInterval time.Duration
	// Diagnosis holds the core's thresholds; its MaxMessageLength also cuts
	// messages when they enter the cache.
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

// Cache keeps a lean view of pods (and their Warning events) through client-go
// informers, diagnoses every pod on each change and on a tick, and answers
// lookups by UID, name and IP without ever calling the API server.
type Cache struct {
	client   kubernetes.Interface
	cfg      Config
	logger   *zap.Logger
	interner *interner
	events   diagnosis.EventChoice

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
	c := &Cache{
		client:   client,
		cfg:      cfg,
		logger:   logger,
		interner: newInterner(1 << 16),
		events:   diagnosis.NewEventChoice(cfg.EventReasons, cfg.MaxEventsPerPod),
		byUID:    make(map[string]*cachedPod),
		byName:   make(map[nameKey]*cachedPod),
		byIP:     make(map[string]*cachedPod),
		healthy:  make(map[string]*Result),
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
