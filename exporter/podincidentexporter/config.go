// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package podincidentexporter

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"text/template"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/otelcol-sre/otelcol-sre/exporter/podincidentexporter/internal/incident"
)

// Config of the pod_incident exporter.
type Config struct {
	// Cluster names the cluster in every notification (and the cluster
	// label of Alertmanager alerts).
	Cluster string `mapstructure:"cluster"`
	// GroupBy: namespace, owner, reason, container, node.
	GroupBy []string `mapstructure:"group_by"`
	// GroupWait: how long a group must stay stuck before it opens.
	GroupWait time.Duration  `mapstructure:"group_wait"`
	Resolve   ResolveConfig  `mapstructure:"resolve"`
	Renotify  RenotifyConfig `mapstructure:"renotify"`
	Storm     StormConfig    `mapstructure:"storm"`
	// Startup: digest, silent or notify.
	Startup       string        `mapstructure:"startup"`
	StartupWindow time.Duration `mapstructure:"startup_window"`
	Filters       FiltersConfig `mapstructure:"filters"`
	// TickInterval: how often hold-downs, reminders and Alertmanager
	// re-sends are evaluated between batches.
	TickInterval time.Duration `mapstructure:"tick_interval"`
	// RunbookURL and DashboardURL are Go templates over the incident
	// ({{.Cluster}}, {{.Namespace}}, {{.OwnerKind}}, {{.OwnerName}},
	// {{.Reason}}, {{.Container}}, {{.ID}}).
	RunbookURL   string `mapstructure:"runbook_url"`
	DashboardURL string `mapstructure:"dashboard_url"`
	// Storage is the storage extension that keeps the incident table.
	Storage *component.ID `mapstructure:"storage"`

	Sinks  []SinkConfig  `mapstructure:"sinks"`
	Routes []RouteConfig `mapstructure:"routes"`

	// Delivery of every sink: its own queue (persistent with storage),
	// one consumer so a sink sees an incident's edges in order, no batching.
	QueueConfig   configoptional.Optional[exporterhelper.QueueBatchConfig] `mapstructure:"sending_queue"`
	BackOffConfig configretry.BackOffConfig                                `mapstructure:"retry_on_failure"`
	// Timeout of one delivery attempt.
	Timeout time.Duration `mapstructure:"timeout"`

	_ struct{}
}

// ResolveConfig says when an incident resolves.
type ResolveConfig struct {
	HoldDown time.Duration `mapstructure:"hold_down"`
}

// RenotifyConfig is the reminder schedule of open incidents.
type RenotifyConfig struct {
	Interval time.Duration `mapstructure:"interval"`
	Max      int           `mapstructure:"max"`
}

// StormConfig is the storm guard.
type StormConfig struct {
	MaxNew int           `mapstructure:"max_new"`
	Window time.Duration `mapstructure:"window"`
}

// FiltersConfig selects the pods that may make incidents; exclude wins.
type FiltersConfig struct {
	Include MatchConfig `mapstructure:"include"`
	Exclude MatchConfig `mapstructure:"exclude"`
}

// MatchConfig matches namespaces and reasons exactly and messages by
// regular expression (RE2).
type MatchConfig struct {
	Namespaces []string `mapstructure:"namespaces"`
	Reasons    []string `mapstructure:"reasons"`
	Messages   []string `mapstructure:"messages"`
}

// SinkConfig is one destination; exactly one of slack, webhook and
// alertmanager is set.
type SinkConfig struct {
	Name         string              `mapstructure:"name"`
	Slack        *SlackConfig        `mapstructure:"slack"`
	Webhook      *WebhookConfig      `mapstructure:"webhook"`
	Alertmanager *AlertmanagerConfig `mapstructure:"alertmanager"`
}

// SlackConfig posts Block Kit messages to an incoming webhook.
type SlackConfig struct {
	// WebhookURL is secret: take it from an environment variable fed by a
	// Kubernetes Secret (${env:SLACK_WEBHOOK_URL}).
	WebhookURL configopaque.String `mapstructure:"webhook_url"`
	// MaxPods: pods listed by name; the rest are "K more".
	MaxPods int `mapstructure:"max_pods"`
	// 0: defaultSlackMaxPods.
}

// WebhookConfig posts the versioned JSON document of every edge.
type WebhookConfig struct {
	confighttp.ClientConfig `mapstructure:",squash"`
}

// AlertmanagerConfig posts alerts to an Alertmanager API v2 (or Amazon
// Managed Prometheus' alert manager through the sigv4auth extension).
type AlertmanagerConfig struct {
	// Endpoint is the base URL; /api/v2/alerts is appended
	// (https://aps-workspaces.REGION.amazonaws.com/workspaces/ID/alertmanager).
	confighttp.ClientConfig `mapstructure:",squash"`
	// ResendInterval: firing alerts are re-sent this often with endsAt
	// 4 intervals ahead, so Alertmanager resolves them by itself if the
	// collector disappears.
	// 0: defaultResendInterval.
	ResendInterval time.Duration `mapstructure:"resend_interval"`
	// Labels are added to every alert (e.g. severity: warning).
	Labels map[string]string `mapstructure:"labels"`
}

// RouteConfig sends the incidents of namespaces to sinks. The first route
// whose namespaces contain the incident's namespace wins; a route without
// namespaces matches every namespace. Without routes every sink gets every
// incident.
type RouteConfig struct {
	Namespaces []string `mapstructure:"namespaces"`
	Sinks      []string `mapstructure:"sinks"`
}

var sinkNameRegexp = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)

// Validate checks the configuration; every error names the field and the fix.
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	for i, g := range c.GroupBy {
		if !slices.Contains(incident.GroupKeys, incident.GroupKey(g)) {
			add("group_by[%d]: unknown dimension %q — use one of %v", i, g, incident.GroupKeys)
		}
	}
	if c.Resolve.HoldDown <= 0 {
		add("resolve.hold_down: must be positive, got %s — the default is 5m", c.Resolve.HoldDown)
	}
	if c.GroupWait < 0 {
		add("group_wait: must not be negative, got %s", c.GroupWait)
	}
	if c.Renotify.Max < 0 || (c.Renotify.Max > 0 && c.Renotify.Interval <= 0) {
		add("renotify: max %d with interval %s — set interval > 0 (e.g. 4h) or max: 0 for no reminders", c.Renotify.Max, c.Renotify.Interval)
	}
	if c.Storm.MaxNew < 0 || (c.Storm.MaxNew > 0 && c.Storm.Window <= 0) {
		add("storm: max_new %d with window %s — set window > 0 (e.g. 1m) or max_new: 0 to turn the guard off", c.Storm.MaxNew, c.Storm.Window)
	}
	if !slices.Contains(incident.StartupModes, incident.StartupMode(c.Startup)) {
		add("startup: unknown mode %q — use digest, silent or notify", c.Startup)
	}
	if c.TickInterval <= 0 {
		add("tick_interval: must be positive, got %s — the default is 10s", c.TickInterval)
	}
	if c.Timeout <= 0 {
		add("timeout: must be positive, got %s — the default is 10s", c.Timeout)
	}
	for field, tmpl := range map[string]string{"runbook_url": c.RunbookURL, "dashboard_url": c.DashboardURL} {
		if _, err := template.New(field).Parse(tmpl); err != nil {
			add("%s: not a valid template: %w", field, err)
		}
	}
	for _, m := range []struct {
		field    string
		patterns []string
	}{{"filters.include.messages", c.Filters.Include.Messages}, {"filters.exclude.messages", c.Filters.Exclude.Messages}} {
		for i, p := range m.patterns {
			if _, err := regexp.Compile(p); err != nil {
				add("%s[%d]: not a valid regular expression (RE2): %w", m.field, i, err)
			}
		}
	}
	if q := c.QueueConfig; q.HasValue() {
		if q.Get().NumConsumers != 1 {
			add("sending_queue.num_consumers: must be 1, got %d — a sink must get an incident's edges in order", q.Get().NumConsumers)
		}
		if q.Get().Batch.HasValue() {
			add("sending_queue.batch: not supported — remove it; every notification is delivered on its own")
		}
	}
	errs = append(errs, c.validateSinks()...)
	return errors.Join(errs...)
}

func (c *Config) validateSinks() []error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if len(c.Sinks) == 0 {
		add("sinks: none configured — add at least one sink with a name and one of slack, webhook or alertmanager")
	}
	names := map[string]bool{}
	for i, s := range c.Sinks {
		f := fmt.Sprintf("sinks[%d]", i)
		switch {
		case !sinkNameRegexp.MatchString(s.Name):
			add("%s.name: %q — use letters, digits, '-' and '_' only", f, s.Name)
		case names[s.Name]:
			add("%s.name: %q is used twice — give every sink its own name", f, s.Name)
		}
		names[s.Name] = true
		set := 0
		for _, p := range []bool{s.Slack != nil, s.Webhook != nil, s.Alertmanager != nil} {
			if p {
				set++
			}
		}
		if set != 1 {
			add("%s: set exactly one of slack, webhook or alertmanager (got %d)", f, set)
			continue
		}
		switch {
		case s.Slack != nil:
			if u, err := url.Parse(string(s.Slack.WebhookURL)); err != nil || u.Scheme == "" || u.Host == "" {
				add("%s.slack.webhook_url: must be an absolute URL (https://hooks.slack.com/services/...) — take it from a Secret via ${env:...}", f)
			}
			if s.Slack.MaxPods < 0 {
				add("%s.slack.max_pods: must not be negative, got %d — 0 means the default, 10", f, s.Slack.MaxPods)
			}
		case s.Webhook != nil:
			errs = append(errs, checkEndpoint(f+".webhook.endpoint", s.Webhook.Endpoint)...)
		case s.Alertmanager != nil:
			errs = append(errs, checkEndpoint(f+".alertmanager.endpoint", s.Alertmanager.Endpoint)...)
			if strings.HasSuffix(strings.TrimSuffix(s.Alertmanager.Endpoint, "/"), alertsPath) {
				add("%s.alertmanager.endpoint: give the base URL without %s (it is appended)", f, alertsPath)
			}
			if s.Alertmanager.ResendInterval < 0 {
				add("%s.alertmanager.resend_interval: must not be negative, got %s — 0 means the default, 1m", f, s.Alertmanager.ResendInterval)
			}
			for k := range s.Alertmanager.Labels {
				if !labelNameRegexp.MatchString(k) {
					add("%s.alertmanager.labels: %q is not a Prometheus label name — use [a-zA-Z_][a-zA-Z0-9_]*", f, k)
				}
			}
		}
	}
	for i, r := range c.Routes {
		if len(r.Sinks) == 0 {
			add("routes[%d].sinks: empty — name at least one sink", i)
		}
		for j, s := range r.Sinks {
			if !names[s] {
				add("routes[%d].sinks[%d]: no sink named %q — sinks are %v", i, j, s, slices.Sorted(maps.Keys(names)))
			}
		}
	}
	return errs
}

func checkEndpoint(field, endpoint string) []error {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return []error{fmt.Errorf("%s: %q is not an http(s) URL — e.g. http://alertmanager:9093", field, endpoint)}
	}
	return nil
}
