// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package podcache

import (
	"github.com/otelcol-sre/otelcol-sre/internal/poddiagnosis/diagnosis"
)

const podUIDIndex = "podUID"

func indexByPodUID(obj any) ([]string, error) {
	if e, ok := obj.(*cachedEvent); ok && e.relevant {
		return []string{e.podUID}, nil
	}
	return nil, nil
}

// eventsOf returns the events of a pod the diagnosis reads, from the event
// informers' index.
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
	return c.events.Newest(out)
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
