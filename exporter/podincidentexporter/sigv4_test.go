// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package podincidentexporter

import (
	"context"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/sigv4authextension"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configauth"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/confmap/xconfmap"
	"go.opentelemetry.io/collector/extension/extensiontest"

	"github.com/otelcol-sre/otelcol-sre/internal/sigv4verify"
	"github.com/otelcol-sre/otelcol-sre/internal/storageclient/storageclienttest"
)

// TestAlertmanagerThroughSigV4 is the AMP path: the contrib sigv4auth
// extension signs the alert posts (through the sink's confighttp auth), a
// verifier that recomputes SigV4 for service aps in us-east-1 stands in for
// AMP's front door, and Debian's Alertmanager behind it serves AMP's path
// /workspaces/ID/alertmanager/api/v2/alerts.
func TestAlertmanagerThroughSigV4(t *testing.T) {
	const key, secret = "AKIDINCIDENTTEST", "incident-test-secret"
	t.Setenv("AWS_ACCESS_KEY_ID", key)
	t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	const prefix = "/workspaces/ws-incident-test/alertmanager"
	base := startAlertmanager(t, "route: {receiver: blackhole}\nreceivers: [{name: blackhole}]\n", prefix)

	v, err := sigv4verify.New(sigv4verify.Config{AccessKeyID: key, SecretAccessKey: secret, Region: "us-east-1", Service: "aps"})
	require.NoError(t, err)
	amHost, err := url.Parse(base)
	require.NoError(t, err)
	amHost.Path = ""
	front := sigv4verify.NewForwarder(v, amHost)
	srv := httptest.NewServer(front)
	t.Cleanup(srv.Close)

	f := sigv4authextension.NewFactory()
	sigCfg := f.CreateDefaultConfig().(*sigv4authextension.Config)
	sigCfg.Region, sigCfg.Service = "us-east-1", "aps"
	// As the collector does: Validate loads the credentials (here the static test keys).
	require.NoError(t, xconfmap.Validate(sigCfg))
	ext, err := f.Create(context.Background(), extensiontest.NewNopSettings(f.Type()), sigCfg)
	require.NoError(t, err)
	require.NoError(t, ext.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, ext.Shutdown(context.Background())) })
	sigID := component.MustNewID("sigv4auth")

	am := &AlertmanagerConfig{}
	am.Endpoint = srv.URL + prefix
	am.Auth = configoptional.Some(configauth.Config{AuthenticatorID: sigID})
	h := start(t, fastConfig(SinkConfig{Name: "amp", Alertmanager: am}), storageclienttest.Host{sigID: ext})

	require.Eventually(t, func() bool {
		h.consume(t, stuckPod("shop", "web", "web-1", "CreateContainerConfigError"))
		for _, a := range activeAlerts(t, base) {
			if a.Labels["alertname"] == alertName && a.Labels["k8s_deployment_name"] == "web" {
				return true
			}
		}
		return false
	}, 10*time.Second, 100*time.Millisecond, "no alert reached Alertmanager through the SigV4 front")
	stats := front.Stats()
	assert.Positive(t, stats.Accepted)
	assert.Empty(t, stats.Rejected, "every request carried a valid signature for aps/us-east-1")
}
