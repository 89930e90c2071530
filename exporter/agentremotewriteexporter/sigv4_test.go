// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package agentremotewriteexporter

import (
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/exporter/exportertest"

	"github.com/otelcol-sre/otelcol-sre/exporter/agentremotewriteexporter/internal/metadata"
	"github.com/otelcol-sre/otelcol-sre/internal/sigv4verify"
)

// Requests are signed for AMP through Prometheus' sigv4 support with credentials from the AWS default
// chain (here: static keys in the environment; IRSA on EKS): internal/sigv4verify recomputes every
// signature with the AWS SDK signer before the sink sees the request.
func TestSigV4SignsForAMP(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDAGENTREMOTEWRITE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "agent-remote-write-test-secret")
	t.Setenv("AWS_REGION", "us-east-1")
	v, err := sigv4verify.New(sigv4verify.Config{AccessKeyID: "AKIDAGENTREMOTEWRITE",
		SecretAccessKey: "agent-remote-write-test-secret", Region: "us-east-1", Service: "aps"})
	require.NoError(t, err)
	sink, sinkURL := newRWSink(t)
	target, _ := url.Parse(sinkURL)
	target.Path = ""
	verifier := sigv4verify.NewForwarder(v, target)
	front := httptest.NewServer(verifier)
	t.Cleanup(front.Close)

	cfg := testConfig(t, front.URL+"/api/v1/write")
	cfg.SigV4 = &SigV4Config{Region: "us-east-1"} // service defaults to aps
	exp := startMetricsExporter(t, exportertest.NewNopSettings(metadata.Type), cfg)
	sendRound(t, exp, 1, time.Now())
	waitFor(t, "the signed request", func() bool { return sink.has(1) })
	stats := verifier.Stats()
	assert.Positive(t, stats.Accepted)
	assert.Empty(t, stats.Rejected, "last error: %v", stats.LastErr)
}
