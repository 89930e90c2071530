// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package deploy_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"go.opentelemetry.io/collector/confmap"
	appsv1 "k8s.io/api/apps/v1"

	"github.com/otelcol-sre/otelcol-sre/exporter/agentremotewriteexporter"
)

// The gateway-slo volume sizing (deploy/README.md, "Remote write to AMP (delivery)", Sizes). In an AMP
// outage agent_remote_write's WAL keeps every sample until wal.max_time; the agent checkpoints every
// wal.truncate_frequency, and each checkpoint copies the unsent samples of two thirds of the segments
// before it deletes them, so the WAL briefly holds them twice. The CloudWatch persistent queues share
// the volume and fill in the same outage if CloudWatch is down too.
const (
	// rwDesignRate is the samples/s one gateway-slo replica is sized for: issue 14's per-collector target.
	rwDesignRate = 100_000
	// rwWALBytesPerSample bounds the WAL's bytes per sample: a sample record is an 8-byte value and two
	// varint deltas (reference, timestamp) before snappy. TestRemoteWriteTable's outage row measured less
	// (its counters compress well: identical values within a request); real values compress less.
	rwWALBytesPerSample = 16
	rwCheckpointCopies  = 2
)

func TestGatewaySLOVolumeHoldsTheWALThroughAnOutage(t *testing.T) {
	amp := readConfigWithPlaceholders(t, filepath.Join("configs", "amp.yaml"))
	exporters, _ := amp["exporters"].(map[string]any)
	section, ok := exporters["agent_remote_write/amp"].(map[string]any)
	if !ok {
		t.Fatal("configs/amp.yaml has no exporters::agent_remote_write/amp")
	}
	cfg := agentremotewriteexporter.NewFactory().CreateDefaultConfig().(*agentremotewriteexporter.Config)
	if err := confmap.NewFromStringMap(section).Unmarshal(cfg); err != nil {
		t.Fatal(err)
	}
	kept := cfg.WAL.MaxTime + cfg.WAL.TruncateFrequency
	wal := int64(rwCheckpointCopies * rwWALBytesPerSample * rwDesignRate * kept.Seconds())

	var queues int64
	cw := readConfigWithPlaceholders(t, filepath.Join("configs", "cloudwatch.yaml"))
	exporters, _ = cw["exporters"].(map[string]any)
	for id, v := range exporters {
		s, _ := v.(map[string]any)
		q, _ := s["sending_queue"].(map[string]any)
		if q == nil || q["storage"] != "file_storage/cloudwatch_queue" {
			continue
		}
		size, _ := q["queue_size"].(float64)
		if q["sizer"] != "bytes" || size <= 0 {
			t.Errorf("cloudwatch.yaml %s: a persistent queue on the volume without sizer: bytes and queue_size: its size is unbounded here", id)
		}
		queues += int64(size)
	}

	var volume int64
	for _, o := range rendered(t)["gateway"] {
		if o.GetKind() != "StatefulSet" || o.GetName() != "otelcol-sre-gateway-slo" {
			continue
		}
		obj, err := decodeStrict(o)
		if err != nil {
			t.Fatal(err)
		}
		for _, pvc := range obj.(*appsv1.StatefulSet).Spec.VolumeClaimTemplates {
			if pvc.Name == "data" {
				volume = pvc.Spec.Resources.Requests.Storage().Value()
			}
		}
	}
	need := wal + queues
	t.Logf("WAL: %d × %d B × %d/s × %s (max_time + truncate_frequency) = %s; CloudWatch queues %s; volume %s",
		rwCheckpointCopies, rwWALBytesPerSample, rwDesignRate, kept, gib(wal), gib(queues), gib(volume))
	if volume < need {
		t.Errorf("gateway-slo volume %s < %s needed (WAL %s + CloudWatch queues %s): raise the volumeClaimTemplate or lower wal.max_time, and update deploy/README.md",
			gib(volume), gib(need), gib(wal), gib(queues))
	}
	if volume > 2*need {
		t.Errorf("gateway-slo volume %s is more than twice the %s the sizing needs: lower it, or write down what else it is for", gib(volume), gib(need))
	}
}

func gib(b int64) string { return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30)) }
