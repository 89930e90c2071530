// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package deploy_test

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The custom resources deploy/ ships, as the subset of their upstream CRD schemas that we use, so
// strict decoding catches a misspelt or unsupported field offline. Field names and types follow:
//   - OpenTelemetry Operator, opentelemetry.io/v1beta1 OpenTelemetryCollector (apis/v1beta1);
//   - ACK prometheusservice-controller, prometheusservice.services.k8s.aws/v1alpha1
//     RuleGroupsNamespace and AlertManagerDefinition (apis/v1alpha1);
//   - cert-manager, cert-manager.io/v1 Certificate and Issuer (pkg/apis/certmanager/v1).
//
// The server-side dry-run against the real CRDs (render.Apply) is the authoritative check; cert-manager's
// are installed into the test control plane for it (testdata/crds/cert-manager).
var customResources = map[schema.GroupVersionKind]func() any{
	{Group: "opentelemetry.io", Version: "v1beta1", Kind: "OpenTelemetryCollector"}:                    func() any { return &OpenTelemetryCollector{} },
	{Group: "prometheusservice.services.k8s.aws", Version: "v1alpha1", Kind: "RuleGroupsNamespace"}:    func() any { return &RuleGroupsNamespace{} },
	{Group: "prometheusservice.services.k8s.aws", Version: "v1alpha1", Kind: "AlertManagerDefinition"}: func() any { return &AlertManagerDefinition{} },
	{Group: "cert-manager.io", Version: "v1", Kind: "Certificate"}:                                     func() any { return &Certificate{} },
	{Group: "cert-manager.io", Version: "v1", Kind: "Issuer"}:                                          func() any { return &Issuer{} },
}

type OpenTelemetryCollector struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              OpenTelemetryCollectorSpec `json:"spec"`
}

type OpenTelemetryCollectorSpec struct {
	Mode            string                      `json:"mode"`
	Image           string                      `json:"image,omitempty"`
	Config          CollectorConfig             `json:"config"`
	Env             []corev1.EnvVar             `json:"env,omitempty"`
	EnvFrom         []corev1.EnvFromSource      `json:"envFrom,omitempty"`
	Resources       corev1.ResourceRequirements `json:"resources,omitempty"`
	SecurityContext *corev1.SecurityContext     `json:"securityContext,omitempty"`
	LivenessProbe   *OperatorProbe              `json:"livenessProbe,omitempty"`
	ReadinessProbe  *OperatorProbe              `json:"readinessProbe,omitempty"`
	Volumes         []corev1.Volume             `json:"volumes,omitempty"`
	VolumeMounts    []corev1.VolumeMount        `json:"volumeMounts,omitempty"`
}

// CollectorConfig is v1beta1.Config: the component sections are free-form, the keys are not.
type CollectorConfig struct {
	Receivers  map[string]any `json:"receivers"`
	Exporters  map[string]any `json:"exporters"`
	Processors map[string]any `json:"processors,omitempty"`
	Connectors map[string]any `json:"connectors,omitempty"`
	Extensions map[string]any `json:"extensions,omitempty"`
	Service    struct {
		Extensions []string       `json:"extensions,omitempty"`
		Telemetry  map[string]any `json:"telemetry,omitempty"`
		Pipelines  map[string]any `json:"pipelines"`
	} `json:"service"`
}

// OperatorProbe is v1beta1.Probe: timings only, the operator points it at health_check.
type OperatorProbe struct {
	InitialDelaySeconds           *int32 `json:"initialDelaySeconds,omitempty"`
	TimeoutSeconds                *int32 `json:"timeoutSeconds,omitempty"`
	PeriodSeconds                 *int32 `json:"periodSeconds,omitempty"`
	SuccessThreshold              *int32 `json:"successThreshold,omitempty"`
	FailureThreshold              *int32 `json:"failureThreshold,omitempty"`
	TerminationGracePeriodSeconds *int64 `json:"terminationGracePeriodSeconds,omitempty"`
}

type RuleGroupsNamespace struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              struct {
		Configuration string             `json:"configuration"`
		Name          string             `json:"name"`
		WorkspaceID   string             `json:"workspaceID,omitempty"`
		Tags          map[string]*string `json:"tags,omitempty"`
	} `json:"spec"`
}

type AlertManagerDefinition struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              struct {
		Configuration string `json:"configuration"`
		WorkspaceID   string `json:"workspaceID,omitempty"`
	} `json:"spec"`
}

type Certificate struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              struct {
		SecretName  string           `json:"secretName"`
		IsCA        bool             `json:"isCA,omitempty"`
		CommonName  string           `json:"commonName,omitempty"`
		DNSNames    []string         `json:"dnsNames,omitempty"`
		Duration    *metav1.Duration `json:"duration,omitempty"`
		RenewBefore *metav1.Duration `json:"renewBefore,omitempty"`
		Usages      []string         `json:"usages,omitempty"`
		PrivateKey  *struct {
			Algorithm      string `json:"algorithm,omitempty"`
			Size           int    `json:"size,omitempty"`
			RotationPolicy string `json:"rotationPolicy,omitempty"`
		} `json:"privateKey,omitempty"`
		IssuerRef struct {
			Group string `json:"group,omitempty"`
			Kind  string `json:"kind,omitempty"`
			Name  string `json:"name"`
		} `json:"issuerRef"`
	} `json:"spec"`
}

type Issuer struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              struct {
		SelfSigned *struct{} `json:"selfSigned,omitempty"`
		CA         *struct {
			SecretName string `json:"secretName"`
		} `json:"ca,omitempty"`
	} `json:"spec"`
}
