// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package agentremotewriteexporter

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/resourcetotelemetry"
)

// Translation strategies, as the contrib prometheus_remote_write exporter names them.
var translationStrategies = []string{
	"UnderscoreEscapingWithSuffixes",
	"UnderscoreEscapingWithoutSuffixes",
	"NoUTF8EscapingWithSuffixes",
	"NoTranslation",
}

// Config of the agent_remote_write exporter. Translation fields mean what they mean in the contrib
// prometheus_remote_write exporter (same names); delivery fields are Prometheus' remote_write and agent
// WAL settings.
type Config struct {
	// Endpoint is the remote-write URL (AMP: https://aps-workspaces.<region>.amazonaws.com/workspaces/<id>/api/v1/remote_write).
	Endpoint string `mapstructure:"endpoint"`
	// Timeout of one remote-write request (Prometheus' remote_timeout).
	Timeout time.Duration `mapstructure:"timeout"`
	// Headers added to every request.
	Headers map[string]string `mapstructure:"headers"`
	// SigV4 signs requests (AMP). Credentials come from the AWS default chain (IRSA on EKS).
	SigV4 *SigV4Config `mapstructure:"sigv4"`

	// ExternalLabels are added to every series.
	ExternalLabels map[string]string `mapstructure:"external_labels"`
	// Namespace prefixes every metric name.
	Namespace string `mapstructure:"namespace"`
	// TranslationStrategy: UnderscoreEscapingWithSuffixes (default), UnderscoreEscapingWithoutSuffixes,
	// NoUTF8EscapingWithSuffixes or NoTranslation.
	TranslationStrategy string `mapstructure:"translation_strategy"`
	// ResourceToTelemetry turns resource attributes into labels.
	ResourceToTelemetry resourcetotelemetry.Settings `mapstructure:"resource_to_telemetry_conversion"`
	// TargetInfo controls the target_info series.
	TargetInfo TargetInfoConfig `mapstructure:"target_info"`
	// DisableScopeInfo drops the otel_scope_* labels.
	DisableScopeInfo bool `mapstructure:"disable_scope_info"`

	// SendExemplars sends exemplars the translation attaches to histogram buckets and counters.
	SendExemplars bool `mapstructure:"send_exemplars"`
	// SendNativeHistograms sends exponential histograms as native histograms (else they are dropped by the
	// queue manager; the endpoint must accept native histograms).
	SendNativeHistograms bool `mapstructure:"send_native_histograms"`

	// WAL is Prometheus' agent-mode write-ahead log.
	WAL WALConfig `mapstructure:"wal"`
	// QueueConfig is Prometheus' remote_write queue_config.
	QueueConfig QueueConfig `mapstructure:"queue_config"`
}

// SigV4Config selects AWS Signature Version 4 signing (Prometheus' sigv4 support, github.com/prometheus/sigv4).
type SigV4Config struct {
	// Region; empty takes it from the AWS default chain (AWS_REGION).
	Region string `mapstructure:"region"`
	// Service signed for; default aps.
	Service string `mapstructure:"service"`
	// RoleARN to assume with STS (optional; IRSA needs none).
	RoleARN string `mapstructure:"role_arn"`
}

// TargetInfoConfig controls the target_info series (one per resource, its non-identifying attributes).
type TargetInfoConfig struct {
	Enabled bool `mapstructure:"enabled"`
}

// WALConfig is the agent-mode write-ahead log.
type WALConfig struct {
	// Directory holds the WAL (put it on the pod's volume). Required.
	Directory string `mapstructure:"directory"`
	// TruncateFrequency: how often samples already sent are cut from the WAL (checkpoint).
	TruncateFrequency time.Duration `mapstructure:"truncate_frequency"`
	// MinTime and MaxTime bound how long data stays in the WAL: data younger than MinTime is kept even if
	// sent; data older than MaxTime is dropped even if not sent (a bound on disk use in a long outage).
	MinTime time.Duration `mapstructure:"min_time"`
	MaxTime time.Duration `mapstructure:"max_time"`
}

// QueueConfig is Prometheus' remote_write queue_config: series are sharded across parallel senders, each
// series' samples in order; the shard count follows the backlog.
type QueueConfig struct {
	Capacity          int           `mapstructure:"capacity"`
	MinShards         int           `mapstructure:"min_shards"`
	MaxShards         int           `mapstructure:"max_shards"`
	MaxSamplesPerSend int           `mapstructure:"max_samples_per_send"`
	BatchSendDeadline time.Duration `mapstructure:"batch_send_deadline"`
	MinBackoff        time.Duration `mapstructure:"min_backoff"`
	MaxBackoff        time.Duration `mapstructure:"max_backoff"`
	// RetryOnHTTP429 retries 429 answers, honouring Retry-After (else they are dropped like other 4xx).
	RetryOnHTTP429 bool `mapstructure:"retry_on_http_429"`
	// SampleAgeLimit drops samples older than this instead of sending them (0: never).
	SampleAgeLimit time.Duration `mapstructure:"sample_age_limit"`
}

// Validate names the field and the fix for every problem.
func (c *Config) Validate() error {
	var errs []error
	if c.Endpoint == "" {
		errs = append(errs, errors.New("endpoint: required, the remote-write URL (e.g. https://aps-workspaces.<region>.amazonaws.com/workspaces/<id>/api/v1/remote_write)"))
	} else if u, err := url.Parse(c.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("endpoint: %q is not an http(s) URL with a host", c.Endpoint))
	}
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("timeout: must be positive, got %s", c.Timeout))
	}
	if c.TranslationStrategy != "" && !slices.Contains(translationStrategies, c.TranslationStrategy) {
		errs = append(errs, fmt.Errorf("translation_strategy: %q is not one of %v", c.TranslationStrategy, translationStrategies))
	}
	for k, v := range c.ExternalLabels {
		if k == "" || v == "" {
			errs = append(errs, fmt.Errorf("external_labels: %q=%q: names and values must not be empty", k, v))
		}
	}
	if c.WAL.Directory == "" {
		errs = append(errs, errors.New("wal.directory: required, a directory on the pod's volume (e.g. ${env:OTELCOL_SRE_DATA_DIR}/agent-wal)"))
	}
	for name, d := range map[string]time.Duration{"wal.truncate_frequency": c.WAL.TruncateFrequency,
		"wal.min_time": c.WAL.MinTime, "wal.max_time": c.WAL.MaxTime} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s: must be positive, got %s", name, d))
		}
	}
	if c.WAL.MinTime > c.WAL.MaxTime {
		errs = append(errs, fmt.Errorf("wal.min_time (%s) must not exceed wal.max_time (%s)", c.WAL.MinTime, c.WAL.MaxTime))
	}
	q := c.QueueConfig
	for name, n := range map[string]int{"queue_config.capacity": q.Capacity, "queue_config.min_shards": q.MinShards,
		"queue_config.max_shards": q.MaxShards, "queue_config.max_samples_per_send": q.MaxSamplesPerSend} {
		if n <= 0 {
			errs = append(errs, fmt.Errorf("%s: must be positive, got %d", name, n))
		}
	}
	if q.MinShards > q.MaxShards {
		errs = append(errs, fmt.Errorf("queue_config.min_shards (%d) must not exceed queue_config.max_shards (%d)", q.MinShards, q.MaxShards))
	}
	if q.MaxSamplesPerSend > q.Capacity {
		errs = append(errs, fmt.Errorf("queue_config.max_samples_per_send (%d) must not exceed queue_config.capacity (%d): a shard could never fill a batch", q.MaxSamplesPerSend, q.Capacity))
	}
	for name, d := range map[string]time.Duration{"queue_config.batch_send_deadline": q.BatchSendDeadline,
		"queue_config.min_backoff": q.MinBackoff, "queue_config.max_backoff": q.MaxBackoff} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s: must be positive, got %s", name, d))
		}
	}
	if q.MinBackoff > q.MaxBackoff {
		errs = append(errs, fmt.Errorf("queue_config.min_backoff (%s) must not exceed queue_config.max_backoff (%s)", q.MinBackoff, q.MaxBackoff))
	}
	if q.SampleAgeLimit < 0 {
		errs = append(errs, fmt.Errorf("queue_config.sample_age_limit: must not be negative, got %s (0 keeps every sample)", q.SampleAgeLimit))
	}
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}
