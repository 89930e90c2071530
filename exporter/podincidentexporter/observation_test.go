// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package podincidentexporter

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/otelcol-sre/otelcol-sre/exporter/podincidentexporter/internal/incident"
	"github.com/otelcol-sre/otelcol-sre/internal/poddiagnosis/diagnosis"
)

func TestObservations(t *testing.T) {
	want := incident.Observation{PodUID: "uid-web-1", PodName: "web-1", Namespace: "shop", Node: "node-1",
		OwnerKind: "Deployment", OwnerName: "web", Status: "ImagePullBackOff", Stuck: true, Reason: "ImagePullBackOff",
		Container: "app", Message: `ImagePullBackOff: Back-off pulling image "registry.example/web:v2-typo"`, Hint: "fix the image reference"}
	t.Run("all on the data point, full names", func(t *testing.T) {
		assert.Equal(t, []incident.Observation{want}, observations(diagnosisMetrics(stuckPod("shop", "web", "web-1", "ImagePullBackOff"))))
	})
	t.Run("identity on the resource, short names on the point (the receiver's shape)", func(t *testing.T) {
		md := pmetric.NewMetrics()
		rm := md.ResourceMetrics().AppendEmpty()
		r := rm.Resource().Attributes()
		r.PutStr(attrPodUID, "uid-web-1")
		r.PutStr(attrPodName, "web-1")
		r.PutStr(attrNamespace, "shop")
		r.PutStr(attrNode, "node-1")
		r.PutStr(ownerAttribute("Deployment"), "web")
		ms := rm.ScopeMetrics().AppendEmpty().Metrics()
		other := ms.AppendEmpty()
		other.SetName("k8s.pod.diagnosis.duration")
		other.SetEmptyGauge().DataPoints().AppendEmpty().SetDoubleValue(12)
		m := ms.AppendEmpty()
		m.SetName(diagnosisMetric)
		a := m.SetEmptyGauge().DataPoints().AppendEmpty().Attributes()
		a.PutStr(shortName(diagnosis.AttributeStatus), want.Status)
		a.PutBool(shortName(diagnosis.AttributeStuck), true)
		a.PutStr(shortName(diagnosis.AttributeReason), want.Reason)
		a.PutStr(shortName(diagnosis.AttributeContainer), want.Container)
		a.PutStr(shortName(diagnosis.AttributeMessage), want.Message)
		a.PutStr(shortName(diagnosis.AttributeHint), want.Hint)
		assert.Equal(t, []incident.Observation{want}, observations(md))
	})
	t.Run("a bare pod has no owner", func(t *testing.T) {
		obs := observations(diagnosisMetrics(stuckPod("shop", "", "debug", "OOMKilled")))
		assert.Empty(t, obs[0].OwnerKind)
	})
}
