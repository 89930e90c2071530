// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

// Package incident turns pod diagnoses observed over time into incidents and
// the notification edges a person should see: opened, escalated, reminder,
// resolved, and digests that fold a storm or the pods already stuck at
// start-up into one message. It has no collector types and no goroutines;
// every call takes the current time, so tests script timelines.
package incident

import (
	"regexp"
	"slices"
	"time"
)

// GroupKey names one dimension incidents are grouped by.
type GroupKey string

// The dimensions an incident can be grouped by.
const (
	ByNamespace GroupKey = "namespace"
	// ByOwner is the pod's controller: Deployment (a ReplicaSet resolved to
	// its Deployment), StatefulSet, DaemonSet, Job, CronJob; a bare pod is its
	// own owner.
	ByOwner     GroupKey = "owner"
	ByReason    GroupKey = "reason"
	ByContainer GroupKey = "container"
	ByNode      GroupKey = "node"
)

// GroupKeys lists every valid GroupKey.
var GroupKeys = []GroupKey{ByNamespace, ByOwner, ByReason, ByContainer, ByNode}

// StartupMode says what happens to pods that are already stuck when the
// engine starts.
type StartupMode string

// Start-up modes.
const (
	// StartupDigest sends one digest of everything found stuck in the
	// start-up window.
	StartupDigest StartupMode = "digest"
	// StartupSilent adopts them without any notification, now or later.
	StartupSilent StartupMode = "silent"
	// StartupNotify treats them like new incidents (the storm guard applies).
	StartupNotify StartupMode = "notify"
)

// StartupModes lists every valid StartupMode.
var StartupModes = []StartupMode{StartupDigest, StartupSilent, StartupNotify}

// Settings are the engine's rules. The zero value of a duration disables
// what it controls where noted.
type Settings struct {
	// GroupBy are the dimensions that make two stuck pods one incident.
	GroupBy []GroupKey
	// GroupWait: an incident is opened once a stuck observation at least
	// this long after its first one confirms it, so the pods of a rollout
	// are collected into the first message and a one-scrape blip opens
	// nothing.
	GroupWait time.Duration
	// HoldDown: a pod leaves its incident after this long without a stuck
	// observation; the incident resolves when no pod is left.
	HoldDown time.Duration
	// RenotifyInterval between reminders of an open incident (0: none).
	RenotifyInterval time.Duration
	// RenotifyMax is the most reminders per incident.
	RenotifyMax int
	// StormMaxNew is the most per-incident notifications in StormWindow;
	// the rest fold into one digest per window (0: no guard).
	StormMaxNew int
	StormWindow time.Duration
	// Startup and StartupWindow: incidents first seen within StartupWindow
	// of the engine's start are the ones already stuck at start-up.
	Startup       StartupMode
	StartupWindow time.Duration
	Filter        Filter
}

// DefaultSettings returns the defaults documented in the exporter's README.
func DefaultSettings() Settings {
	return Settings{
		GroupBy:          []GroupKey{ByNamespace, ByOwner, ByReason, ByContainer},
		GroupWait:        30 * time.Second,
		HoldDown:         5 * time.Minute,
		RenotifyInterval: 4 * time.Hour,
		RenotifyMax:      3,
		StormMaxNew:      10,
		StormWindow:      time.Minute,
		Startup:          StartupDigest,
		StartupWindow:    time.Minute,
	}
}

// Filter selects the observations that may make incidents. Empty include
// lists match everything; an exclude match always wins.
type Filter struct {
	IncludeNamespaces, ExcludeNamespaces []string
	IncludeReasons, ExcludeReasons       []string
	IncludeMessages, ExcludeMessages     []*regexp.Regexp
}

// Match reports whether o passes the filter.
func (f *Filter) Match(o *Observation) bool {
	if slices.Contains(f.ExcludeNamespaces, o.Namespace) || slices.Contains(f.ExcludeReasons, o.Reason) ||
		anyMatch(f.ExcludeMessages, o.Message) {
		return false
	}
	return (len(f.IncludeNamespaces) == 0 || slices.Contains(f.IncludeNamespaces, o.Namespace)) &&
		(len(f.IncludeReasons) == 0 || slices.Contains(f.IncludeReasons, o.Reason)) &&
		(len(f.IncludeMessages) == 0 || anyMatch(f.IncludeMessages, o.Message))
}

func anyMatch(res []*regexp.Regexp, s string) bool {
	for _, re := range res {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}
