// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package podincidentexporter

import (
	"cmp"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"

	"github.com/otelcol-sre/otelcol-sre/exporter/podincidentexporter/internal/incident"
	"github.com/otelcol-sre/otelcol-sre/internal/poddiagnosis/diagnosis"
)

// diagnosisMetric is the series the k8spoddiagnostics receiver emits: one
// point per diagnosed pod.
const diagnosisMetric = "k8s.pod.diagnosis"

// Pod identity attributes (semantic conventions).
var (
	attrPodUID    = string(semconv.K8SPodUIDKey)
	attrPodName   = string(semconv.K8SPodNameKey)
	attrNamespace = string(semconv.K8SNamespaceNameKey)
	attrNode      = string(semconv.K8SNodeNameKey)
)

// ownerAttributes name a pod's controller by kind, in the order they are
// looked for (a Deployment before the ReplicaSet it owns, a CronJob before
// its Job).
var ownerAttributes = []struct{ kind, attr string }{
	{"Deployment", string(semconv.K8SDeploymentNameKey)},
	{"StatefulSet", string(semconv.K8SStatefulSetNameKey)},
	{"DaemonSet", string(semconv.K8SDaemonSetNameKey)},
	{"CronJob", string(semconv.K8SCronJobNameKey)},
	{"Job", string(semconv.K8SJobNameKey)},
	{"ReplicaSet", string(semconv.K8SReplicaSetNameKey)},
}

// ownerAttribute is the attribute that names an owner of kind; a bare pod
// is named by its pod name.
func ownerAttribute(kind string) string {
	for _, o := range ownerAttributes {
		if o.kind == kind {
			return o.attr
		}
	}
	return attrPodName
}

// shortName is the last segment of a diagnosis attribute name: the
// receiver's data points carry k8s.pod.diagnosis.reason as "reason" (so
// PromQL joins read k8s_pod_diagnosis{reason=...}).
func shortName(attr string) string { return attr[strings.LastIndexByte(attr, '.')+1:] }

// observations reads the k8s.pod.diagnosis points of md. Attributes are
// taken from the data point, then from its resource; the diagnosis ones
// under their full name or their short name.
func observations(md pmetric.Metrics) []incident.Observation {
	var obs []incident.Observation
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		res := rms.At(i).Resource().Attributes()
		sms := rms.At(i).ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				m := ms.At(k)
				if m.Name() != diagnosisMetric || m.Type() != pmetric.MetricTypeGauge {
					continue
				}
				dps := m.Gauge().DataPoints()
				for l := 0; l < dps.Len(); l++ {
					obs = append(obs, observation(dps.At(l).Attributes(), res))
				}
			}
		}
	}
	return obs
}

func observation(point, res pcommon.Map) incident.Observation {
	get := func(k string) string {
		if v, ok := point.Get(k); ok {
			return v.AsString()
		}
		if v, ok := res.Get(k); ok {
			return v.AsString()
		}
		return ""
	}
	diag := func(k string) string { return cmp.Or(get(k), get(shortName(k))) }
	o := incident.Observation{PodUID: get(attrPodUID), PodName: get(attrPodName), Namespace: get(attrNamespace),
		Node: get(attrNode), Status: diag(diagnosis.AttributeStatus), Stuck: diag(diagnosis.AttributeStuck) == "true",
		Reason: diag(diagnosis.AttributeReason), Container: diag(diagnosis.AttributeContainer),
		Message: diag(diagnosis.AttributeMessage), Hint: diag(diagnosis.AttributeHint)}
	for _, ow := range ownerAttributes {
		if name := get(ow.attr); name != "" {
			o.OwnerKind, o.OwnerName = ow.kind, name
			break
		}
	}
	return o
}
