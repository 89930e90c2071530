// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package podincidentexporter

import (
	"bytes"
	"text/template"
	"time"

	"github.com/otelcol-sre/otelcol-sre/exporter/podincidentexporter/internal/incident"
)

// DocumentVersion is the version of the webhook document; it changes only
// with a breaking change of the schema in the README.
const DocumentVersion = "1"

// kindRefresh is the periodic re-send of firing alerts to an Alertmanager
// sink; webhooks and Slack never get it.
const kindRefresh = "refresh"

// Document is one notification: the body a webhook receives, the payload
// queued for every sink, and what Slack and Alertmanager messages are
// rendered from.
type Document struct {
	Version string    `json:"version"`
	Kind    string    `json:"kind"`
	Cause   string    `json:"cause,omitempty"`
	At      time.Time `json:"at"`
	Cluster string    `json:"cluster,omitempty"`
	// Incidents holds one incident, or the items of a digest.
	Incidents []IncidentDoc `json:"incidents"`
}

// IncidentDoc is an incident in a Document.
type IncidentDoc struct {
	ID string `json:"id"`
	// Edge is what happened to this incident: opened, escalated, reminder,
	// resolved (a digest's items each carry their own), or firing in a
	// refresh.
	Edge         string            `json:"edge"`
	Group        map[string]string `json:"group"`
	Namespace    string            `json:"namespace"`
	OwnerKind    string            `json:"owner_kind,omitempty"`
	OwnerName    string            `json:"owner_name,omitempty"`
	Reason       string            `json:"reason"`
	Container    string            `json:"container,omitempty"`
	Message      string            `json:"message,omitempty"`
	Hint         string            `json:"hint,omitempty"`
	PodCount     int               `json:"pod_count"`
	Pods         []PodDoc          `json:"pods"`
	FirstStuck   time.Time         `json:"first_stuck"`
	OpenedAt     *time.Time        `json:"opened_at,omitempty"`
	ResolvedAt   *time.Time        `json:"resolved_at,omitempty"`
	Reminders    int               `json:"reminders,omitempty"`
	RunbookURL   string            `json:"runbook_url,omitempty"`
	DashboardURL string            `json:"dashboard_url,omitempty"`
}

// PodDoc is a stuck pod of an incident.
type PodDoc struct {
	Name       string    `json:"name"`
	UID        string    `json:"uid"`
	Node       string    `json:"node,omitempty"`
	Reason     string    `json:"reason"`
	Container  string    `json:"container,omitempty"`
	FirstStuck time.Time `json:"first_stuck"`
}

// links renders the runbook and dashboard URL templates.
type links struct {
	runbook, dashboard *template.Template
}

// linkFields are what the URL templates see.
type linkFields struct {
	Cluster, Namespace, OwnerKind, OwnerName, Reason, Container, ID string
}

func newLinks(runbook, dashboard string) (links, error) {
	var l links
	var err error
	if runbook != "" {
		if l.runbook, err = template.New("runbook_url").Option("missingkey=error").Parse(runbook); err != nil {
			return l, err
		}
	}
	if dashboard != "" {
		l.dashboard, err = template.New("dashboard_url").Option("missingkey=error").Parse(dashboard)
	}
	return l, err
}

func execute(t *template.Template, f linkFields) string {
	if t == nil {
		return ""
	}
	var b bytes.Buffer
	if err := t.Execute(&b, f); err != nil {
		return ""
	}
	return b.String()
}

// incidentDoc converts a snapshot of the core.
func (l links) incidentDoc(cluster string, edge incident.Kind, in *incident.Incident) IncidentDoc {
	d := IncidentDoc{ID: in.ID, Edge: string(edge), Group: map[string]string{}, Namespace: in.Namespace,
		OwnerKind: in.OwnerKind, OwnerName: in.OwnerName, Reason: in.Reason, Container: in.Container,
		Message: in.Message, Hint: in.Hint, PodCount: len(in.Pods), FirstStuck: in.FirstStuck.UTC(),
		Reminders: in.Reminders, Pods: make([]PodDoc, 0, len(in.Pods))}
	for _, g := range in.Group {
		d.Group[string(g.Key)] = g.Value
	}
	for _, p := range in.Pods {
		d.Pods = append(d.Pods, PodDoc{Name: p.Name, UID: p.UID, Node: p.Node, Reason: p.Reason, Container: p.Container,
			FirstStuck: p.FirstStuck.UTC()})
	}
	if !in.OpenedAt.IsZero() {
		t := in.OpenedAt.UTC()
		d.OpenedAt = &t
	}
	if !in.ResolvedAt.IsZero() {
		t := in.ResolvedAt.UTC()
		d.ResolvedAt = &t
	}
	f := linkFields{Cluster: cluster, Namespace: in.Namespace, OwnerKind: in.OwnerKind, OwnerName: in.OwnerName,
		Reason: in.Reason, Container: in.Container, ID: in.ID}
	d.RunbookURL, d.DashboardURL = execute(l.runbook, f), execute(l.dashboard, f)
	return d
}
