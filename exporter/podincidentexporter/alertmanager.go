// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package podincidentexporter

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/otelcol-sre/otelcol-sre/exporter/podincidentexporter/internal/incident"
	"github.com/otelcol-sre/otelcol-sre/internal/poddiagnosis/diagnosis"
)

// alertName is the alertname label of every alert.
const alertName = "PodIncident"

// alertsPath is appended to an Alertmanager sink's endpoint.
const alertsPath = "/api/v2/alerts"

// endsAtFactor: a firing alert's endsAt lies this many resend intervals
// ahead (as Prometheus does), so Alertmanager resolves it by itself only
// after several missed re-sends.
const endsAtFactor = 4

var labelNameRegexp = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// promName is an attribute name as remote write turns it into a label.
func promName(attr string) string { return strings.ReplaceAll(attr, ".", "_") }

// groupLabels are the label names of the group_by dimensions; the owner's
// label depends on its kind (ownerAttributes).
var groupLabels = map[incident.GroupKey]string{
	incident.ByNamespace: promName(attrNamespace),
	incident.ByReason:    promName(diagnosis.AttributeReason),
	incident.ByContainer: promName(diagnosis.AttributeContainer),
	incident.ByNode:      promName(attrNode),
}

// amAlert is an alert of the Alertmanager API v2 (postableAlert).
type amAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"startsAt"`
	EndsAt      time.Time         `json:"endsAt"`
}

// alertPods is how many pod names the pods annotation lists.
const alertPods = 10

// renderAlerts returns the alerts of doc at now: firing ones end
// endsAtFactor resend intervals ahead, resolved ones end at their
// resolution. Labels are the incident's group, so every edge of one
// incident updates the same alert.
func renderAlerts(doc *Document, now time.Time, resend time.Duration, static map[string]string) []amAlert {
	alerts := make([]amAlert, 0, len(doc.Incidents))
	for i := range doc.Incidents {
		in := &doc.Incidents[i]
		labels := map[string]string{}
		for k, v := range static {
			labels[k] = v
		}
		labels["alertname"] = alertName
		if doc.Cluster != "" {
			labels["cluster"] = doc.Cluster
		}
		for k, v := range in.Group {
			if k == string(incident.ByOwner) {
				kind, name, _ := strings.Cut(v, "/")
				labels[promName(ownerAttribute(kind))] = name
				continue
			}
			labels[groupLabels[incident.GroupKey(k)]] = v
		}
		names := make([]string, 0, alertPods)
		for _, p := range in.Pods[:min(len(in.Pods), alertPods)] {
			names = append(names, p.Name)
		}
		podsText := strings.Join(names, ", ")
		if more := in.PodCount - len(names); more > 0 {
			podsText += fmt.Sprintf(" and %d more", more)
		}
		ann := map[string]string{
			"summary":     fmt.Sprintf("%s: %s (%s)", what(in), in.Reason, pods(in.PodCount)),
			"message":     in.Message,
			"hint":        in.Hint,
			"pods":        podsText,
			"incident_id": in.ID,
		}
		if in.RunbookURL != "" {
			ann["runbook_url"] = in.RunbookURL
		}
		if in.DashboardURL != "" {
			ann["dashboard_url"] = in.DashboardURL
		}
		a := amAlert{Labels: labels, Annotations: ann, StartsAt: in.FirstStuck, EndsAt: now.Add(endsAtFactor * resend).UTC()}
		if in.ResolvedAt != nil {
			a.EndsAt = *in.ResolvedAt
		}
		alerts = append(alerts, a)
	}
	return alerts
}
