// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package podincidentexporter

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/otelcol-sre/otelcol-sre/exporter/podincidentexporter/internal/incident"
	"github.com/otelcol-sre/otelcol-sre/internal/poddiagnosis/diagnosis"
)

// Block Kit limits (https://api.slack.com/reference/block-kit/blocks).
const (
	slackMaxBlocks      = 50
	slackMaxSectionText = 3000
	slackMaxHeaderText  = 150
	slackMaxFieldText   = 2000
	slackMaxFields      = 10
	slackMaxFallback    = 4000
)

// slackMessage is an incoming-webhook payload.
type slackMessage struct {
	Text   string       `json:"text"`
	Blocks []slackBlock `json:"blocks"`
}

type slackBlock struct {
	Type   string      `json:"type"`
	Text   *slackText  `json:"text,omitempty"`
	Fields []slackText `json:"fields,omitempty"`
	// Elements are slackText (context) or slackButton (actions).
	Elements []any `json:"elements,omitempty"`
}

type slackText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type slackButton struct {
	Type string    `json:"type"`
	Text slackText `json:"text"`
	URL  string    `json:"url"`
}

func mrkdwn(s string, limit int) *slackText {
	return &slackText{Type: "mrkdwn", Text: diagnosis.Truncate(s, limit)}
}

func section(s string) slackBlock {
	return slackBlock{Type: "section", Text: mrkdwn(s, slackMaxSectionText)}
}

func contextBlock(s string) slackBlock {
	return slackBlock{Type: "context", Elements: []any{mrkdwn(s, slackMaxSectionText)}}
}

// escape makes s literal in mrkdwn.
var escaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// codeBlock quotes text verbatim, cut so the escaped block fits a section.
func codeBlock(text string) string {
	const fence = "```"
	budget := slackMaxSectionText - 2*len(fence)
	for raw := text; ; {
		esc := escaper.Replace(raw)
		if len(esc) <= budget {
			return fence + esc + fence
		}
		raw = diagnosis.Truncate(raw, len(raw)-(len(esc)-budget)-3)
	}
}

// what names the incident's workload: "shop/Deployment web".
func what(in *IncidentDoc) string {
	if in.OwnerKind == "" {
		if len(in.Pods) > 0 {
			return in.Namespace + "/pod " + in.Pods[0].Name
		}
		return in.Namespace
	}
	return in.Namespace + "/" + in.OwnerKind + " " + in.OwnerName
}

func pods(n int) string {
	if n == 1 {
		return "1 pod"
	}
	return strconv.Itoa(n) + " pods"
}

func age(d time.Duration) string {
	switch {
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d < time.Hour:
		return d.Round(time.Minute).String()
	default:
		return strings.TrimSuffix(d.Round(time.Minute).String(), "0s")
	}
}

var slackIcons = map[string]string{
	string(incident.Opened): ":rotating_light:", string(incident.Escalated): ":arrow_double_up:",
	string(incident.Reminder): ":bell:", string(incident.Resolved): ":white_check_mark:",
}

// oneLine is an incident in a line: the resolution, or a digest item.
func oneLine(doc *Document, in *IncidentDoc) string {
	s := fmt.Sprintf("%s *%s* %s — %s (%s", slackIcons[in.Edge], in.Edge, escaper.Replace(what(in)), in.Reason, pods(in.PodCount))
	if in.Edge == string(incident.Resolved) && in.ResolvedAt != nil {
		return s + ", stuck for " + age(in.ResolvedAt.Sub(in.FirstStuck)) + ")"
	}
	return s + ", for " + age(doc.At.Sub(in.FirstStuck)) + ")"
}

// renderSlack builds the Block Kit message of doc; maxPods pods are listed
// by name.
func renderSlack(doc *Document, maxPods int) slackMessage {
	cluster := ""
	if doc.Cluster != "" {
		cluster = "[" + doc.Cluster + "] "
	}
	if doc.Kind == string(incident.Digest) {
		return renderSlackDigest(doc, cluster)
	}
	in := &doc.Incidents[0]
	if doc.Kind == string(incident.Resolved) {
		line := cluster + oneLine(doc, in)
		return slackMessage{Text: diagnosis.Truncate(line, slackMaxFallback), Blocks: []slackBlock{section(line), contextBlock("incident " + in.ID)}}
	}
	title := fmt.Sprintf("%s%s: %s (%s)", cluster, what(in), in.Reason, pods(in.PodCount))
	header := slackBlock{Type: "header", Text: &slackText{Type: "plain_text", Text: diagnosis.Truncate(title, slackMaxHeaderText)}}
	blocks := []slackBlock{header, section(slackIcons[doc.Kind] + " *" + doc.Kind + "* " + escaper.Replace(what(in)) + " is stuck: *" + in.Reason + "*")}
	fields := []slackText{
		{Type: "mrkdwn", Text: "*Reason*\n" + in.Reason},
		{Type: "mrkdwn", Text: "*Stuck for*\n" + age(doc.At.Sub(in.FirstStuck))},
		{Type: "mrkdwn", Text: "*Namespace*\n" + escaper.Replace(in.Namespace)},
		{Type: "mrkdwn", Text: "*Pods*\n" + strconv.Itoa(in.PodCount)},
	}
	if in.Container != "" {
		fields = append(fields, slackText{Type: "mrkdwn", Text: "*Container*\n" + escaper.Replace(in.Container)})
	}
	if doc.Cluster != "" {
		fields = append(fields, slackText{Type: "mrkdwn", Text: "*Cluster*\n" + escaper.Replace(doc.Cluster)})
	}
	for i := range fields {
		fields[i].Text = diagnosis.Truncate(fields[i].Text, slackMaxFieldText)
	}
	blocks = append(blocks, slackBlock{Type: "section", Fields: fields[:min(len(fields), slackMaxFields)]})
	if in.Message != "" {
		blocks = append(blocks, section(codeBlock(in.Message)))
	}
	if in.Hint != "" {
		blocks = append(blocks, section(":bulb: "+escaper.Replace(in.Hint)))
	}
	blocks = append(blocks, section(podList(in, maxPods)))
	var buttons []any
	for _, l := range []struct{ label, url string }{{"Runbook", in.RunbookURL}, {"Dashboard", in.DashboardURL}} {
		if l.url != "" {
			buttons = append(buttons, slackButton{Type: "button", Text: slackText{Type: "plain_text", Text: l.label}, URL: l.url})
		}
	}
	if len(buttons) > 0 {
		blocks = append(blocks, slackBlock{Type: "actions", Elements: buttons})
	}
	blocks = append(blocks, contextBlock("incident "+in.ID))
	return slackMessage{Text: diagnosis.Truncate(title, slackMaxFallback), Blocks: blocks}
}

func podList(in *IncidentDoc, maxPods int) string {
	var b strings.Builder
	b.WriteString("*Pods*")
	n := min(len(in.Pods), maxPods)
	for _, p := range in.Pods[:n] {
		b.WriteString("\n• `" + escaper.Replace(p.Name) + "`")
		if p.Node != "" {
			b.WriteString(" on " + escaper.Replace(p.Node))
		}
	}
	if more := in.PodCount - n; more > 0 {
		fmt.Fprintf(&b, "\n… and %d more", more)
	}
	return b.String()
}

func renderSlackDigest(doc *Document, cluster string) slackMessage {
	title := fmt.Sprintf("%s%d incident notifications folded by the storm guard", cluster, len(doc.Incidents))
	if doc.Cause == incident.CauseStartup {
		title = fmt.Sprintf("%s%d incidents already open at start-up", cluster, len(doc.Incidents))
	}
	blocks := []slackBlock{{Type: "header", Text: &slackText{Type: "plain_text", Text: diagnosis.Truncate(title, slackMaxHeaderText)}}}
	// One block for the header, one for "K more".
	room := slackMaxBlocks - 2
	for i := range doc.Incidents {
		if i == room {
			blocks = append(blocks, contextBlock(fmt.Sprintf("… and %d more", len(doc.Incidents)-room)))
			break
		}
		blocks = append(blocks, section(oneLine(doc, &doc.Incidents[i])))
	}
	return slackMessage{Text: diagnosis.Truncate(title, slackMaxFallback), Blocks: blocks}
}
