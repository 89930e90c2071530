// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package diagnosis

import (
	"math"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Pod is the lean view of a Kubernetes Pod that Diagnose needs. It keeps
// identity, scheduling and lifecycle facts and the container states, and
// nothing else: no spec of containers, volumes, env, annotations or labels.
// The informer cache stores this instead of the full Pod.
type Pod struct {
	Namespace       string
	Name            string
	UID             string
	ResourceVersion string
	NodeName        string
	PodIP           string
	Phase           string
	Reason          string
	Message         string
	RestartPolicy   string
	HostNetwork     bool
	// DeletionGraceSecond is the deletionGracePeriodSeconds (int32 so that
	// it packs with HostNetwork: the cached pod stays in the 352-byte size
	// class).
	DeletionGraceSecond int32
	// Owner is the pod's controller as "Kind/Name" (one interned string,
	// shared by the pods of one owner), a ReplicaSet created by a Deployment
	// resolved to the Deployment; empty for a bare pod. See OwnerKindName.
	Owner string

	Created Time
	// Deletion is the deletionTimestamp (zero when the pod is not being deleted):
	// the time the grace period ends.
	Deletion        Time
	Finalizers      []string
	SchedulingGates []string
	ReadinessGates  []string

	Conditions     []Condition
	InitContainers []Container
	Containers     []Container
}

// Condition is a pod condition that matters for diagnosis.
type Condition struct {
	Type           string
	Status         string
	LastTransition Time
	// Detail holds reason and message; nil for True conditions (other than
	// DisruptionTarget), whose text the diagnosis never reads.
	Detail *ConditionDetail
}

// ConditionDetail is the text of a condition.
type ConditionDetail struct {
	Reason  string
	Message string
}

// Reason returns the condition's reason, or "".
func (c *Condition) Reason() string {
	if c.Detail == nil {
		return ""
	}
	return c.Detail.Reason
}

// Message returns the condition's message, or "".
func (c *Condition) Message() string {
	if c.Detail == nil {
		return ""
	}
	return c.Detail.Message
}

// Time is a Kubernetes timestamp in Unix seconds (the API's precision),
// 0 when unset. It takes a third of the memory of time.Time in the cache.
type Time int64

// NewTime converts t; the zero time.Time becomes 0.
func NewTime(t time.Time) Time {
	if t.IsZero() {
		return 0
	}
	return Time(t.Unix())
}

// IsZero tells whether the timestamp is unset.
func (t Time) IsZero() bool { return t == 0 }

// Std returns t as a UTC time.Time; 0 becomes the zero time.Time.
func (t Time) Std() time.Time {
	if t == 0 {
		return time.Time{}
	}
	return time.Unix(int64(t), 0).UTC()
}

// Container joins a container's spec facts and its status.
type Container struct {
	Name string
	// Sidecar is an init container with restartPolicy Always (a native sidecar).
	Sidecar      bool
	HasStatus    bool
	Ready        bool
	Started      bool
	RestartCount int32
	Waiting      *Waiting
	Running      bool
	// RunningSince is the running state's startedAt.
	RunningSince Time
	Terminated   *Terminated
	// LastTerminated is lastState.terminated.
	LastTerminated *Terminated
}

// Waiting is a container's waiting state.
type Waiting struct {
	Reason  string
	Message string
}

// Terminated is a container's terminated state.
type Terminated struct {
	Reason     string
	Message    string
	ExitCode   int32
	Signal     int32
	StartedAt  Time
	FinishedAt Time
}

// Event is the lean view of a core/v1 Warning event about a pod.
type Event struct {
	Reason string
	// Container is parsed from involvedObject.fieldPath
	// ("spec.containers{app}"); empty for pod-level events.
	Container string
	Message   string
	Count     int32
	First     time.Time
	Last      time.Time
}

// relevantConditions are the condition types Diagnose reads; others (for
// example PodReadyToStartContainers) are dropped from the lean view unless a
// readiness gate names them.
var relevantConditions = map[corev1.PodConditionType]bool{
	corev1.PodScheduled:     true,
	corev1.PodInitialized:   true,
	corev1.ContainersReady:  true,
	corev1.PodReady:         true,
	corev1.DisruptionTarget: true,
}

// Interner deduplicates strings that repeat across pods (namespaces, node
// names, reasons, container names). A nil Interner keeps strings as they are.
type Interner interface {
	Intern(s string) string
}

type noIntern struct{}

func (noIntern) Intern(s string) string { return s }

// FromPod builds the lean view of p. Messages longer than maxMessage bytes are
// cut (0 keeps them whole); strings that repeat across pods go through in.
func FromPod(p *corev1.Pod, maxMessage int, in Interner) Pod {
	if in == nil {
		in = noIntern{}
	}
	lp := Pod{
		Namespace:       in.Intern(p.Namespace),
		Name:            p.Name,
		UID:             string(p.UID),
		ResourceVersion: p.ResourceVersion,
		NodeName:        in.Intern(p.Spec.NodeName),
		PodIP:           p.Status.PodIP,
		Phase:           in.Intern(string(p.Status.Phase)),
		Reason:          in.Intern(p.Status.Reason),
		Message:         Truncate(p.Status.Message, maxMessage),
		RestartPolicy:   in.Intern(string(p.Spec.RestartPolicy)),
		HostNetwork:     p.Spec.HostNetwork,
		Created:         NewTime(p.CreationTimestamp.Time),
	}
	if kind, name := owner(p); kind != "" {
		lp.Owner = in.Intern(kind + "/" + name)
	}
	if p.DeletionTimestamp != nil {
		lp.Deletion = NewTime(p.DeletionTimestamp.Time)
		if p.DeletionGracePeriodSeconds != nil {
			lp.DeletionGraceSecond = int32(min(max(*p.DeletionGracePeriodSeconds, 0), math.MaxInt32))
		}
	}
	lp.Finalizers = internAll(p.Finalizers, in)
	for _, g := range p.Spec.SchedulingGates {
		lp.SchedulingGates = append(lp.SchedulingGates, in.Intern(g.Name))
	}
	gates := make(map[corev1.PodConditionType]bool, len(p.Spec.ReadinessGates))
	for _, g := range p.Spec.ReadinessGates {
		lp.ReadinessGates = append(lp.ReadinessGates, in.Intern(string(g.ConditionType)))
		gates[g.ConditionType] = true
	}
	for i := range p.Status.Conditions {
		c := &p.Status.Conditions[i]
		if !relevantConditions[c.Type] && !gates[c.Type] {
			continue
		}
		lc := Condition{
			Type:           in.Intern(string(c.Type)),
			Status:         in.Intern(string(c.Status)),
			LastTransition: NewTime(c.LastTransitionTime.Time),
		}
		if (c.Status != corev1.ConditionTrue || c.Type == corev1.DisruptionTarget) && (c.Reason != "" || c.Message != "") {
			lc.Detail = &ConditionDetail{Reason: in.Intern(c.Reason), Message: Truncate(c.Message, maxMessage)}
		}
		lp.Conditions = append(lp.Conditions, lc)
	}
	lp.InitContainers = containers(p.Spec.InitContainers, p.Status.InitContainerStatuses, maxMessage, in)
	lp.Containers = containers(p.Spec.Containers, p.Status.ContainerStatuses, maxMessage, in)
	return lp
}

// owner returns the pod's controller; a ReplicaSet whose name is a
// Deployment's name plus the pod's pod-template-hash (as the Deployment
// controller names them) is resolved to that Deployment without watching
// ReplicaSets.
func owner(p *corev1.Pod) (kind, name string) {
	ref := metav1.GetControllerOf(p)
	if ref == nil {
		return "", ""
	}
	if ref.Kind == "ReplicaSet" {
		if hash := p.Labels["pod-template-hash"]; hash != "" {
			if deployment, ok := strings.CutSuffix(ref.Name, "-"+hash); ok && deployment != "" {
				return "Deployment", deployment
			}
		}
	}
	return ref.Kind, ref.Name
}

// OwnerKindName splits Owner into the controller's kind and name.
func (p *Pod) OwnerKindName() (kind, name string) {
	kind, name, _ = strings.Cut(p.Owner, "/")
	return kind, name
}

func internAll(ss []string, in Interner) []string {
	if len(ss) == 0 {
		return nil
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = in.Intern(s)
	}
	return out
}

func containers(spec []corev1.Container, statuses []corev1.ContainerStatus, maxMessage int, in Interner) []Container {
	if len(spec) == 0 && len(statuses) == 0 {
		return nil
	}
	out := make([]Container, 0, max(len(spec), len(statuses)))
	byName := make(map[string]int, len(spec))
	for i := range spec {
		c := Container{Name: in.Intern(spec[i].Name)}
		if spec[i].RestartPolicy != nil && *spec[i].RestartPolicy == corev1.ContainerRestartPolicyAlways {
			c.Sidecar = true
		}
		byName[spec[i].Name] = len(out)
		out = append(out, c)
	}
	for i := range statuses {
		s := &statuses[i]
		idx, ok := byName[s.Name]
		if !ok {
			// A status without a spec entry (hand-written or truncated input):
			// keep it so that nothing the kubelet reported is lost.
			idx = len(out)
			out = append(out, Container{Name: in.Intern(s.Name)})
			byName[s.Name] = idx
		}
		c := &out[idx]
		c.HasStatus = true
		c.Ready = s.Ready
		c.Started = s.Started != nil && *s.Started
		c.RestartCount = s.RestartCount
		if w := s.State.Waiting; w != nil {
			c.Waiting = &Waiting{Reason: in.Intern(w.Reason), Message: Truncate(w.Message, maxMessage)}
		}
		if r := s.State.Running; r != nil {
			c.Running = true
			c.RunningSince = NewTime(r.StartedAt.Time)
		}
		c.Terminated = terminated(s.State.Terminated, maxMessage, in)
		c.LastTerminated = terminated(s.LastTerminationState.Terminated, maxMessage, in)
	}
	return out
}

func terminated(t *corev1.ContainerStateTerminated, maxMessage int, in Interner) *Terminated {
	if t == nil {
		return nil
	}
	return &Terminated{
		Reason:     in.Intern(t.Reason),
		Message:    Truncate(t.Message, maxMessage),
		ExitCode:   t.ExitCode,
		Signal:     t.Signal,
		StartedAt:  NewTime(t.StartedAt.Time),
		FinishedAt: NewTime(t.FinishedAt.Time),
	}
}

// FromEvent builds the lean view of a core/v1 event. Events recorded through
// the events.k8s.io API carry eventTime and series instead of the legacy
// timestamps; both shapes are understood.
func FromEvent(e *corev1.Event, maxMessage int, in Interner) Event {
	if in == nil {
		in = noIntern{}
	}
	le := Event{
		Reason:    in.Intern(e.Reason),
		Container: in.Intern(fieldPathContainer(e.InvolvedObject.FieldPath)),
		Message:   Truncate(e.Message, maxMessage),
		Count:     e.Count,
		First:     e.FirstTimestamp.Time,
		Last:      e.LastTimestamp.Time,
	}
	if le.First.IsZero() {
		le.First = e.EventTime.Time
	}
	if e.Series != nil {
		if le.Count < e.Series.Count {
			le.Count = e.Series.Count
		}
		if e.Series.LastObservedTime.After(le.Last) {
			le.Last = e.Series.LastObservedTime.Time
		}
	}
	if le.Last.IsZero() {
		le.Last = le.First
	}
	if le.Count == 0 {
		le.Count = 1
	}
	return le
}

// fieldPathContainer extracts "app" from "spec.containers{app}" or
// "spec.initContainers{app}".
func fieldPathContainer(fp string) string {
	open := strings.IndexByte(fp, '{')
	if open < 0 || !strings.HasSuffix(fp, "}") {
		return ""
	}
	return fp[open+1 : len(fp)-1]
}

// Truncate cuts s to at most n bytes without splitting a UTF-8 sequence and
// marks the cut with "...". n <= 0 keeps s whole.
func Truncate(s string, n int) string {
	if n <= 0 || len(s) <= n {
		return s
	}
	const ellipsis = "..."
	if n <= len(ellipsis) {
		return s[:cutRune(s, n)]
	}
	return s[:cutRune(s, n-len(ellipsis))] + ellipsis
}

// cutRune returns the largest i <= n at which s can be cut on a rune boundary.
func cutRune(s string, n int) int {
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return n
}
