// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package podcache

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"
	"k8s.io/client-go/kubernetes"
)

// Registry shares one started Cache among the pod-diagnosis components of a
// collector (processor, receiver) whose ComponentConfig selects and
// diagnoses the same pods: one set of informers, one list and one watch per
// resource, one copy of every pod in memory.
type Registry struct {
	// Now is the clock of the caches it builds; nil means time.Now (tests
	// set it).
	Now func() time.Time

	mu sync.Mutex
	m  map[string]*sharedCache
}

type sharedCache struct {
	cache *Cache
	refs  int
	// onWatchError holds the subscribers' handlers by subscription.
	mu           sync.Mutex
	onWatchError map[*int]func(resource string, err error)
}

var shared = NewRegistry()

// Shared is the collector-wide registry.
func Shared() *Registry { return shared }

// NewRegistry returns an empty registry (tests use their own).
func NewRegistry() *Registry { return &Registry{m: map[string]*sharedCache{}} }

// key identifies what a cache holds: every field but the wait-for-sync
// options, which only concern the component that waits.
func key(cfg *ComponentConfig, node string) string {
	k := *cfg
	k.WaitForSync, k.WaitForSyncTimeout = false, 0
	return fmt.Sprintf("%q %#v", node, k)
}

// Acquire returns the started cache for cfg on node (see
// ComponentConfig.NodeName). The first component builds it with newClient
// and starts its informers; the others get the same cache. onWatchError
// receives every failed list/watch call until release is called; the last
// release stops the informers.
func (r *Registry) Acquire(cfg *ComponentConfig, node string, newClient func() (kubernetes.Interface, error),
	logger *zap.Logger, onWatchError func(resource string, err error),
) (c *Cache, release func(), err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := key(cfg, node)
	s := r.m[k]
	if s == nil {
		client, err := newClient()
		if err != nil {
			return nil, nil, err
		}
		s = &sharedCache{onWatchError: map[*int]func(string, error){}}
		cc := cfg.CacheConfig(node)
		cc.OnWatchError = s.watchError
		cc.Now = r.Now
		s.cache = New(client, cc, logger)
		// The informers outlive the caller's context; the last release stops them.
		s.cache.Start(context.Background())
		logger.Info("Pod diagnosis cache started", zap.Stringer("selection", s.cache))
		r.m[k] = s
	}
	s.refs++
	sub := new(int)
	s.mu.Lock()
	s.onWatchError[sub] = onWatchError
	s.mu.Unlock()
	var once sync.Once
	return s.cache, func() {
		once.Do(func() {
			s.mu.Lock()
			delete(s.onWatchError, sub)
			s.mu.Unlock()
			r.mu.Lock()
			defer r.mu.Unlock()
			if s.refs--; s.refs == 0 {
				delete(r.m, k)
				s.cache.Stop()
			}
		})
	}, nil
}

func (s *sharedCache) watchError(resource string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.onWatchError {
		if f != nil {
			f(resource, err)
		}
	}
}
