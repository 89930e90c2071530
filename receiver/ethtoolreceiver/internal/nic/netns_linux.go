// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

//go:build linux

package nic

import (
	"errors"
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// SelfNamespacePath is the caller's own network namespace.
const SelfNamespacePath = "/proc/self/ns/net"

// IdentifyNamespace returns the ID of the network namespace at path (a
// /proc/<pid>/ns/net file or a bind mount such as /var/run/netns/<name>).
func IdentifyNamespace(path string) (NamespaceID, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return NamespaceID{}, fmt.Errorf("stat network namespace %s: %w", path, err)
	}
	return NamespaceID{Dev: st.Dev, Ino: st.Ino}, nil
}

// InNamespace runs fn on an OS thread that has joined the network namespace
// at path, then returns that thread to its original namespace. Sockets that fn
// creates stay bound to the namespace for their whole life, so fn should do
// nothing but create them. An empty path runs fn in the caller's namespace
// without switching.
//
// Joining needs CAP_SYS_ADMIN (and, for another process's namespace, ptrace
// access to it). If the thread cannot return to the original namespace, it is
// never unlocked and the Go runtime terminates it, so no other goroutine ever
// runs in the wrong namespace.
func InNamespace(path string, fn func() error) error {
	if path == "" {
		return fn()
	}
	target, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open network namespace %s: %w", path, err)
	}
	defer unix.Close(target)

	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		done <- runInNamespace(target, path, fn)
	}()
	return <-done
}

// runInNamespace runs on a locked thread and unlocks it only when the thread
// is back in its original namespace.
func runInNamespace(target int, path string, fn func() error) error {
	self, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("open own network namespace: %w", err)
	}
	defer unix.Close(self)
	if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("enter network namespace %s (needs CAP_SYS_ADMIN): %w", path, err)
	}
	fnErr := fn()
	if err := unix.Setns(self, unix.CLONE_NEWNET); err != nil {
		// Leave the thread locked: it dies with this goroutine.
		return errors.Join(fnErr, fmt.Errorf("return from network namespace %s: %w", path, err))
	}
	runtime.UnlockOSThread()
	return fnErr
}
