// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package podcache

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/otelcol-sre/otelcol-sre/internal/poddiagnosis/diagnosis"
)

type nameKey struct{ namespace, name string }

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

// Each calls fn for every cached pod that has been diagnosed, in no
// particular order, outside the cache's lock. The pod and its result are
// read-only.
func (c *Cache) Each(fn func(p *diagnosis.Pod, r *Result)) {
	c.mu.RLock()
	entries := make([]*cachedPod, 0, len(c.byUID))
	for _, e := range c.byUID {
		entries = append(entries, e)
	}
	c.mu.RUnlock()
	for _, e := range entries {
		if r := e.diag.Load(); r != nil {
			fn(&e.Pod, r)
		}
	}
}
