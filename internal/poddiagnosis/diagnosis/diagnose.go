// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package diagnosis

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// Diagnosis says whether a pod is stuck and why. Its fields map one to one to
// the k8s.pod.diagnosis.* resource attributes.
type Diagnosis struct {
	// Status is the kubectl-style STATUS ("Init:1/2", "CrashLoopBackOff").
	Status string
	// Stuck is true when the pod needs a person: a failure, or a slow state
	// (scheduling, creating, initializing, not ready, terminating) that
	// outlasted its threshold.
	Stuck bool
	// Reason names the state; empty for a healthy or completed pod.
	Reason string
	// Container is the container to blame, empty for pod-level causes.
	Container string
	// Message is Kubernetes' own text, verbatim, truncated.
	Message string
	// Since is when the state began (zero when unknown or healthy).
	Since time.Time
	// Hint is one actionable sentence.
	Hint string
}

// Resource attribute keys of a diagnosis (the DESIGN contract shared by the
// processor and kubectl-diagnose).
const (
	AttributeStatus    = "k8s.pod.diagnosis.status"
	AttributeStuck     = "k8s.pod.diagnosis.stuck"
	AttributeReason    = "k8s.pod.diagnosis.reason"
	AttributeContainer = "k8s.pod.diagnosis.container"
	AttributeMessage   = "k8s.pod.diagnosis.message"
	AttributeSince     = "k8s.pod.diagnosis.since"
	AttributeHint      = "k8s.pod.diagnosis.hint"
)

// The diagnosis as its own series, as the k8spoddiagnostics receiver emits
// it: metric names, and the data point attributes of MetricDiagnosis (with the
// pod's identity and owner as resource attributes). Prometheus names them
// k8s_pod_diagnosis{status, stuck, reason, container, message} and
// k8s_pod_diagnosis_duration{reason} (deploy/configs/amp.yaml's translation:
// '.' -> '_', no unit suffix).
const (
	MetricDiagnosis         = "k8s.pod.diagnosis"
	MetricDiagnosisDuration = "k8s.pod.diagnosis.duration"

	PointStatus    = "status"
	PointStuck     = "stuck"
	PointReason    = "reason"
	PointContainer = "container"
	PointMessage   = "message"
)

// Reasons of our own. Container waiting and terminated reasons
// (ImagePullBackOff, CreateContainerConfigError, RunContainerError, Error, ...),
// pod status reasons (Evicted, DeadlineExceeded, OutOfcpu, ...), scheduling
// condition reasons and event reasons (FailedMount, FailedAttachVolume,
// FailedCreatePodSandBox) are passed through as Kubernetes wrote them.
const (
	ReasonUnschedulable        = "Unschedulable"
	ReasonSchedulingGated      = "SchedulingGated"
	ReasonNotScheduled         = "NotScheduled"
	ReasonCrashLoopBackOff     = "CrashLoopBackOff"
	ReasonOOMKilled            = "OOMKilled"
	ReasonInitCrashLoopBackOff = "InitCrashLoopBackOff"
	ReasonInitError            = "InitError"
	ReasonInitializing         = "Initializing"
	ReasonContainerCreating    = "ContainerCreating"
	ReasonNotReady             = "NotReady"
	ReasonRestarted            = "Restarted"
	ReasonTerminating          = "Terminating"
	ReasonTerminatingStuck     = "TerminatingStuck"
	ReasonNodeShutdown         = "NodeShutdown"
	ReasonFailed               = "Failed"

	reasonNodeLost = "NodeLost"
)

// Options are the thresholds and limits of Diagnose.
type Options struct {
	// MaxMessageLength cuts Message (bytes); 0 keeps it whole.
	MaxMessageLength int
	// SchedulingTimeout: an unscheduled (Unschedulable, gated or never picked
	// up) pod is stuck after this long.
	SchedulingTimeout time.Duration
	// StartupTimeout: ContainerCreating and running init containers are stuck
	// after this long.
	StartupTimeout time.Duration
	// NotReadyTimeout: a running pod that is not Ready is stuck after this long.
	NotReadyTimeout time.Duration
	// TerminatingTimeout: a pod still present this long after its
	// deletionTimestamp (the end of its grace period) is stuck.
	TerminatingTimeout time.Duration
	// RestartWindow: a running container whose last termination is more
	// recent than this is reported as Restarted/OOMKilled (not stuck); older
	// restarts are forgotten.
	RestartWindow time.Duration
	// EventWindow: events last seen longer ago are ignored.
	EventWindow time.Duration
}

// DefaultOptions returns the defaults documented in the README.
func DefaultOptions() Options {
	return Options{
		MaxMessageLength:   512,
		SchedulingTimeout:  time.Minute,
		StartupTimeout:     5 * time.Minute,
		NotReadyTimeout:    5 * time.Minute,
		TerminatingTimeout: time.Minute,
		RestartWindow:      15 * time.Minute,
		EventWindow:        time.Hour,
	}
}

// Diagnose explains p's state at now from the pod itself and its recent
// Warning events. It never panics on malformed input.
func Diagnose(p *Pod, events []Event, now time.Time, o Options) Diagnosis {
	c := diagCtx{p: p, now: now, o: o, events: recentEvents(events, now, o.EventWindow)}
	d := c.diagnose()
	d.Status = Status(p)
	d.Message = Truncate(d.Message, o.MaxMessageLength)
	return d
}

type diagCtx struct {
	p      *Pod
	events []Event
	now    time.Time
	o      Options
}

func recentEvents(events []Event, now time.Time, window time.Duration) []Event {
	if window <= 0 {
		return events
	}
	cutoff := now.Add(-window)
	var out []Event
	for _, e := range events {
		if !e.Last.Before(cutoff) {
			out = append(out, e)
		}
	}
	return out
}

// latestEvent returns the most recent event with one of reasons (and, when
// container is not empty, about that container or the pod as a whole).
func (c *diagCtx) latestEvent(container string, reasons ...string) *Event {
	var best *Event
	for i := range c.events {
		e := &c.events[i]
		if !slices.Contains(reasons, e.Reason) {
			continue
		}
		if container != "" && e.Container != "" && e.Container != container {
			continue
		}
		if best == nil || e.Last.After(best.Last) {
			best = e
		}
	}
	return best
}

func (c *diagCtx) diagnose() Diagnosis {
	p := c.p
	if !p.Deletion.IsZero() {
		return c.terminating()
	}
	switch p.Phase {
	case "Failed":
		return c.failed()
	case "Succeeded":
		return Diagnosis{}
	}
	if p.NodeName == "" {
		return c.unscheduled()
	}
	if d, ok := c.initTrouble(); ok {
		return d
	}
	if d, ok := c.containerTrouble(); ok {
		return d
	}
	if d, ok := c.notReady(); ok {
		return d
	}
	if d, ok := c.restarted(); ok {
		return d
	}
	return Diagnosis{}
}

// overdue reports whether since lies more than limit before now.
func (c *diagCtx) overdue(since time.Time, limit time.Duration) bool {
	return !since.IsZero() && c.now.Sub(since) > limit
}

func (c *diagCtx) terminating() Diagnosis {
	p := c.p
	requested := p.Deletion.Std().Add(-time.Duration(p.DeletionGraceSecond) * time.Second)
	d := Diagnosis{Reason: ReasonTerminating, Since: requested,
		Message: "pod is terminating; its grace period ends at " + p.Deletion.Std().UTC().Format(time.RFC3339),
		Hint:    "the pod is shutting down within its grace period: nothing to do unless it stays"}
	if !c.overdue(p.Deletion.Std(), c.o.TerminatingTimeout) {
		return d
	}
	d.Reason, d.Stuck = ReasonTerminatingStuck, true
	running := firstRunning(p)
	switch {
	case c.nodeUnreachable():
		d.Message = p.Message
		if d.Message == "" {
			d.Message = "node " + strconv.Quote(p.NodeName) + " is unreachable; the kubelet cannot confirm the containers stopped"
		}
		d.Hint = "node " + p.NodeName + " is unreachable: once it is confirmed gone, delete it or force-delete the pod (kubectl delete pod --grace-period=0 --force)"
	case len(p.Finalizers) > 0 && running == "":
		d.Message = "waiting for finalizers: " + strings.Join(p.Finalizers, ", ")
		d.Hint = "the controller that owns finalizer " + p.Finalizers[0] + " has not removed it: fix or restart that controller, or remove the finalizer by hand if it is gone"
	case running != "":
		d.Container = running
		d.Message = "container " + strconv.Quote(running) + " is still running past the grace period"
		if len(p.Finalizers) > 0 {
			d.Message += "; finalizers: " + strings.Join(p.Finalizers, ", ")
		}
		d.Hint = "the kubelet on " + p.NodeName + " has not stopped container " + running + " (hung preStop hook, runtime or kubelet trouble): check the kubelet and container runtime on that node"
	default:
		d.Message = "pod is still present past its deletion grace period"
		d.Hint = "the kubelet on " + p.NodeName + " has not confirmed the pod stopped: check the kubelet on that node"
	}
	return d
}

func (c *diagCtx) nodeUnreachable() bool {
	p := c.p
	if p.Reason == reasonNodeLost {
		return true
	}
	// The taint-eviction controller marks pods of an unreachable node; the
	// node lifecycle controller records a NodeNotReady event on them.
	if dt := condition(p, "DisruptionTarget"); dt != nil && dt.Status == "True" && dt.Reason() == "DeletionByTaintManager" {
		return true
	}
	return c.latestEvent("", "NodeNotReady") != nil
}

func firstRunning(p *Pod) string {
	for _, list := range [][]Container{p.InitContainers, p.Containers} {
		for i := range list {
			if list[i].Running {
				return list[i].Name
			}
		}
	}
	return ""
}

// podFailureHints covers pod status reasons of terminal failures set by the
// kubelet, the eviction manager and the node lifecycle controller.
var podFailureHints = map[string]string{
	"Evicted":                  "the kubelet evicted the pod under node pressure: set requests close to real usage (and limits) so the scheduler accounts for it, or add node capacity",
	"DeadlineExceeded":         "the pod ran longer than activeDeadlineSeconds: raise it or make the work finish sooner",
	"UnexpectedAdmissionError": "the kubelet failed to admit the pod (often device-plugin allocation after a kubelet restart): delete the pod so its controller creates a new one",
	"NodeAffinity":             "the node no longer matches the pod's node affinity/selector (labels changed): delete the pod so it is rescheduled",
	reasonNodeLost:             "the node was lost: the pod's controller must create a replacement elsewhere",
	ReasonNodeShutdown:         "the node shut down (spot interruption, scale-in or maintenance): make the workload tolerate node loss (replicas, PodDisruptionBudget)",
}

// disruptionHints cover the DisruptionTarget condition reasons Kubernetes
// sets when it kills a pod as a whole.
var disruptionHints = map[string]string{
	"PreemptionByScheduler":  "the scheduler preempted the pod for a higher-priority one: give it a higher priorityClassName or add capacity",
	"EvictionByEvictionAPI":  "the pod was evicted through the Eviction API (a drain, the descheduler or the cluster autoscaler): make the workload tolerate it (replicas, PodDisruptionBudget)",
	"DeletionByTaintManager": "the node got a NoExecute taint the pod does not tolerate (often the node became unreachable): its controller must create a replacement elsewhere",
	"TerminationByKubelet":   "the kubelet terminated the pod (node pressure or shutdown): see the message",
}

func (c *diagCtx) failed() Diagnosis {
	p := c.p
	d := Diagnosis{Stuck: true, Reason: p.Reason, Message: p.Message, Since: c.failedSince()}
	if c.nodeShutdown() {
		d.Reason = ReasonNodeShutdown
	}
	switch {
	case d.Reason == "Evicted":
		// "The node was low on resource: memory. ... Container app was using 1Gi, ..."
		d.Container = between(p.Message, "Container ", " was using")
		d.Hint = podFailureHints["Evicted"]
		if res := between(p.Message, "low on resource: ", "."); res != "" {
			d.Hint = "the node ran low on " + res + " and the kubelet evicted the pod: set " + res + " requests close to real usage (and limits), or add node capacity"
		}
		return d
	case strings.HasPrefix(d.Reason, "OutOf"):
		d.Hint = "the kubelet rejected the pod because the node lacked " + strings.TrimPrefix(d.Reason, "OutOf") + " at admission: delete it so its controller reschedules it, and check for pods that bypass the scheduler"
		return d
	case d.Reason != "":
		d.Hint = podFailureHints[d.Reason]
		if d.Hint == "" {
			d.Hint = "the pod failed with reason " + d.Reason + ": see the message"
		}
		return d
	}
	if dt := condition(p, "DisruptionTarget"); dt != nil && dt.Status == "True" && dt.Reason() != "" {
		// A pod-level action (preemption, eviction through the API, the
		// taint manager, the kubelet) killed the pod: the containers' exit
		// codes are its consequence, so no container is blamed.
		d.Reason, d.Message = dt.Reason(), dt.Message()
		d.Hint = disruptionHints[d.Reason]
		if d.Hint == "" {
			d.Hint = "the pod was disrupted (" + d.Reason + "): its controller must create a replacement; see the message"
		}
		return d
	}
	for _, list := range [][]Container{p.InitContainers, p.Containers} {
		for i := range list {
			t := list[i].Terminated
			if t == nil || (t.ExitCode == 0 && t.Reason != ReasonOOMKilled) {
				continue
			}
			d.Container = list[i].Name
			d.Reason = terminationReason(t)
			if t.Reason == "Error" && isInit(p, d.Container) {
				d.Reason = ReasonInitError
			}
			d.Message = terminationText(t)
			d.Hint = exitHint(t, d.Container, false)
			if !t.FinishedAt.Std().IsZero() {
				d.Since = t.FinishedAt.Std()
			}
			return d
		}
	}
	d.Reason = ReasonFailed
	d.Hint = "the pod failed without a reason: see its events (kubectl describe pod)"
	return d
}

func (c *diagCtx) nodeShutdown() bool {
	p := c.p
	if p.Reason == ReasonNodeShutdown || (p.Reason == "Terminated" && strings.Contains(p.Message, "node shutdown")) {
		return true
	}
	dt := condition(p, "DisruptionTarget")
	return dt != nil && dt.Reason() == "TerminationByKubelet" && strings.Contains(dt.Message(), "shutdown")
}

// failedSince is the latest condition transition: the failure is the last
// thing that happened to a terminal pod.
func (c *diagCtx) failedSince() time.Time {
	since := c.p.Created.Std()
	for i := range c.p.Conditions {
		if t := c.p.Conditions[i].LastTransition.Std(); t.After(since) {
			since = t
		}
	}
	return since
}

func isInit(p *Pod, name string) bool {
	for i := range p.InitContainers {
		if p.InitContainers[i].Name == name {
			return true
		}
	}
	return false
}

// between returns the text of msg between the first start and the next end,
// or "" when either is missing.
func between(msg, start, end string) string {
	_, rest, ok := strings.Cut(msg, start)
	if !ok {
		return ""
	}
	v, _, ok := strings.Cut(rest, end)
	if !ok {
		return ""
	}
	return v
}

func (c *diagCtx) unscheduled() Diagnosis {
	p := c.p
	ps := condition(p, "PodScheduled")
	if len(p.SchedulingGates) > 0 || (ps != nil && ps.Reason() == ReasonSchedulingGated) {
		d := Diagnosis{Reason: ReasonSchedulingGated, Since: p.Created.Std()}
		if ps != nil {
			d.Message = ps.Message()
		}
		if d.Message == "" {
			d.Message = "scheduling gates: " + strings.Join(p.SchedulingGates, ", ")
		}
		d.Stuck = c.overdue(d.Since, c.o.SchedulingTimeout)
		d.Hint = "the pod waits for its scheduling gates to be removed by the controller that set them"
		if len(p.SchedulingGates) > 0 {
			d.Hint = "the pod waits for scheduling gate " + p.SchedulingGates[0] + " to be removed by the controller that set it"
		}
		return d
	}
	if ps != nil && ps.Status == "False" {
		d := Diagnosis{Reason: ps.Reason(), Message: ps.Message(), Since: ps.LastTransition.Std()}
		if d.Reason == "" {
			d.Reason = ReasonUnschedulable
		}
		if d.Since.IsZero() {
			d.Since = p.Created.Std()
		}
		if d.Message == "" {
			if e := c.latestEvent("", "FailedScheduling"); e != nil {
				d.Message = e.Message
			}
		}
		d.Stuck = c.overdue(d.Since, c.o.SchedulingTimeout)
		d.Hint = schedulingHint(d.Message)
		return d
	}
	d := Diagnosis{Reason: ReasonNotScheduled, Since: p.Created.Std()}
	if e := c.latestEvent("", "FailedScheduling"); e != nil {
		d.Reason, d.Message, d.Hint = ReasonUnschedulable, e.Message, schedulingHint(e.Message)
	} else {
		d.Hint = "no scheduler has picked the pod up: check spec.schedulerName and that this scheduler is running"
	}
	d.Stuck = c.overdue(d.Since, c.o.SchedulingTimeout)
	return d
}

func schedulingHint(msg string) string {
	if f, ok := ParseSchedulingMessage(msg); ok {
		return f.Hint()
	}
	return "the scheduler cannot place the pod: see the message for the constraint that failed"
}

// initTrouble looks at init containers in order, as the kubelet runs them.
// Native sidecars that started are not init trouble; their later failures
// are handled with the regular containers.
func (c *diagCtx) initTrouble() (Diagnosis, bool) {
	p := c.p
	if conditionTrue(p, "Initialized") {
		return Diagnosis{}, false
	}
	for i := range p.InitContainers {
		ic := &p.InitContainers[i]
		if !ic.HasStatus {
			break
		}
		switch {
		case ic.Terminated != nil && ic.Terminated.ExitCode == 0 && ic.Terminated.Reason != ReasonOOMKilled:
			continue
		case ic.Sidecar && ic.Started:
			continue
		case ic.Waiting != nil && ic.Waiting.Reason == ReasonCrashLoopBackOff:
			d := c.crashLoop(ic)
			if d.Reason == ReasonCrashLoopBackOff && !ic.Sidecar {
				d.Reason = ReasonInitCrashLoopBackOff
			}
			return d, true
		case ic.Waiting != nil && ic.Waiting.Reason != "" && !isCreating(ic.Waiting.Reason):
			return c.waiting(ic), true
		case ic.Terminated != nil:
			t := ic.Terminated
			d := Diagnosis{Stuck: true, Reason: terminationReason(t), Container: ic.Name,
				Message: terminationText(t), Since: t.FinishedAt.Std(), Hint: exitHint(t, ic.Name, false)}
			if t.Reason == "Error" || t.Reason == "" {
				d.Reason = ReasonInitError
			}
			return d, true
		case ic.Running:
			d := Diagnosis{Reason: ReasonInitializing, Container: ic.Name, Since: ic.RunningSince.Std()}
			d.Message = "init container " + strconv.Quote(ic.Name) + " (" + strconv.Itoa(i+1) + "/" +
				strconv.Itoa(len(p.InitContainers)) + ") has been running since " + ic.RunningSince.Std().UTC().Format(time.RFC3339)
			d.Hint = "init container " + ic.Name + " has not finished: check what it waits for (kubectl logs POD -c " + ic.Name + ")"
			if ic.Sidecar {
				d.Message = "sidecar " + strconv.Quote(ic.Name) + " is running but its startup probe has not passed"
				d.Hint = "sidecar " + ic.Name + " has not passed its startup probe, so the pod's containers cannot start: check the probe and kubectl logs POD -c " + ic.Name
			}
			d.Stuck = c.overdue(d.Since, c.o.StartupTimeout)
			return d, true
		default:
			return c.creating(ic), true
		}
	}
	return Diagnosis{}, false
}

func isCreating(reason string) bool {
	return reason == "ContainerCreating" || reason == "PodInitializing"
}

// severity ranks what a container's state says about the pod; 0 is fine.
func severity(ct *Container) int {
	switch {
	case !ct.HasStatus:
		return 1
	case ct.Waiting != nil && ct.Waiting.Reason != "" && !isCreating(ct.Waiting.Reason):
		return 3
	case ct.Terminated != nil && (ct.Terminated.ExitCode != 0 || ct.Terminated.Reason == ReasonOOMKilled):
		return 2
	case ct.Waiting != nil:
		return 1
	}
	return 0
}

// containerTrouble picks the worst container (sidecars first, then the
// regular containers, in spec order) and explains it.
func (c *diagCtx) containerTrouble() (Diagnosis, bool) {
	var worst *Container
	best := 0
	consider := func(ct *Container) {
		if s := severity(ct); s > best {
			worst, best = ct, s
		}
	}
	for i := range c.p.InitContainers {
		if c.p.InitContainers[i].Sidecar {
			consider(&c.p.InitContainers[i])
		}
	}
	for i := range c.p.Containers {
		consider(&c.p.Containers[i])
	}
	switch best {
	case 0:
		return Diagnosis{}, false
	case 1:
		return c.creating(worst), true
	case 2:
		t := worst.Terminated
		return Diagnosis{Stuck: true, Reason: terminationReason(t), Container: worst.Name,
			Message: terminationText(t), Since: t.FinishedAt.Std(), Hint: exitHint(t, worst.Name, false)}, true
	}
	if worst.Waiting.Reason == ReasonCrashLoopBackOff {
		return c.crashLoop(worst), true
	}
	return c.waiting(worst), true
}

// waitingSince estimates when a container started waiting: the waiting state
// carries no timestamp, so use the last termination, then the time the pod
// (or its containers) stopped being ready, then the pod's creation.
func (c *diagCtx) waitingSince(ct *Container) time.Time {
	if ct.LastTerminated != nil && !ct.LastTerminated.FinishedAt.Std().IsZero() {
		return ct.LastTerminated.FinishedAt.Std()
	}
	for _, typ := range []string{"ContainersReady", "Ready", "Initialized"} {
		if cond := condition(c.p, typ); cond != nil && cond.Status != "True" && !cond.LastTransition.Std().IsZero() {
			return cond.LastTransition.Std()
		}
	}
	return c.p.Created.Std()
}

func (c *diagCtx) crashLoop(ct *Container) Diagnosis {
	d := Diagnosis{Stuck: true, Reason: ReasonCrashLoopBackOff, Container: ct.Name, Since: c.waitingSince(ct)}
	t := ct.LastTerminated
	if t == nil {
		d.Message = ct.Waiting.Message
		d.Hint = "the container keeps exiting: check kubectl logs --previous POD -c " + ct.Name
		return d
	}
	switch t.Reason {
	case ReasonOOMKilled, "StartError", "ContainerCannotRun":
		d.Reason = t.Reason
	}
	d.Message = terminationText(t)
	liveness := c.latestEvent(ct.Name, "Unhealthy")
	d.Hint = exitHint(t, ct.Name, liveness != nil && strings.Contains(liveness.Message, "Liveness probe failed"))
	return d
}

// waitingHints explain container waiting reasons; fragments of the message
// refine the image-pull hint.
var waitingHints = map[string]string{
	"ImagePullBackOff":           "the image cannot be pulled: check the image name and tag, imagePullSecrets and that the node can reach the registry",
	"ErrImagePull":               "the image cannot be pulled: check the image name and tag, imagePullSecrets and that the node can reach the registry",
	"InvalidImageName":           "the image reference is not valid: fix the image field",
	"ErrImageNeverPull":          "imagePullPolicy is Never but the image is not on the node: preload it or change imagePullPolicy",
	"CreateContainerConfigError": "a ConfigMap, Secret or key the container references is missing: create it or mark the reference optional",
	"CreateContainerError":       "the container runtime could not create the container: see the message (name conflicts, runtime or disk trouble on the node)",
	"RunContainerError":          "the container runtime could not start the container (bad command, missing executable, mount failure): see the message",
	"StartError":                 "the container runtime could not start the process (missing executable, permission, bad mount): fix the command or image",
}

// imagePullHints match lower-cased pull errors.
var imagePullHints = []struct{ fragment, hint string }{
	{"not found", "the image or tag does not exist in the registry: fix the image reference"},
	{"manifest unknown", "the image or tag does not exist in the registry: fix the image reference"},
	{"unauthorized", "the registry refused the credentials: add or fix imagePullSecrets (or the node's registry IAM permissions)"},
	{"pull access denied", "the registry refused the credentials: add or fix imagePullSecrets (or the node's registry IAM permissions)"},
	{"403 forbidden", "the registry refused the credentials: add or fix imagePullSecrets (or the node's registry IAM permissions)"},
	{"toomanyrequests", "the registry rate-limits pulls: use a mirror or authenticated pulls"},
	{"i/o timeout", "the node cannot reach the registry: check egress, NAT, VPC endpoints and DNS"},
	{"no such host", "the registry host does not resolve from the node: check the image's registry name and DNS"},
}

func (c *diagCtx) waiting(ct *Container) Diagnosis {
	w := ct.Waiting
	d := Diagnosis{Stuck: true, Reason: w.Reason, Container: ct.Name, Message: w.Message, Since: c.waitingSince(ct)}
	d.Hint = waitingHints[w.Reason]
	if d.Hint == "" {
		d.Hint = "the container is waiting with reason " + w.Reason + ": see the message and kubectl describe pod"
	}
	if w.Reason == "ImagePullBackOff" || w.Reason == "ErrImagePull" {
		// The waiting message is often just `Back-off pulling image "x"`; the
		// kubelet's Failed event carries the registry's answer.
		if e := c.latestEvent(ct.Name, "Failed"); e != nil && strings.Contains(e.Message, "image") {
			d.Message = e.Message
		}
		lower := strings.ToLower(d.Message)
		for _, h := range imagePullHints {
			if strings.Contains(lower, h.fragment) {
				d.Hint = h.hint
				break
			}
		}
	}
	return d
}

// creatingHints explain the events of a pod stuck in ContainerCreating, most
// specific first.
var creatingHints = []struct{ reason, fragment, hint string }{
	{"FailedAttachVolume", "Multi-Attach", "the ReadWriteOnce volume is still attached to another node: wait for (or force) the old pod's deletion there, or use a ReadWriteMany volume"},
	{"FailedAttachVolume", "", "the volume cannot be attached: check the CSI driver, the volume's zone and the node's attach limit"},
	{"FailedMount", "not found", "a volume source (ConfigMap, Secret, PVC) does not exist: create it or fix the name"},
	{"FailedMount", "", "a volume cannot be mounted: check the PVC, the CSI driver pods on the node and the message"},
	{"FailedCreatePodSandBox", "IP", "the CNI could not assign a pod IP (subnet or ENI IP exhaustion): free IPs, enable prefix delegation or use larger subnets"},
	{"FailedCreatePodSandBox", "", "the runtime or CNI could not create the pod sandbox: check the CNI and runtime on the node"},
}

// creating explains a pod whose containers have not started; ct is the first
// container waiting to start (nil when none has a status yet).
func (c *diagCtx) creating(ct *Container) Diagnosis {
	p := c.p
	d := Diagnosis{Reason: ReasonContainerCreating, Since: p.Created.Std()}
	if ps := condition(p, "PodScheduled"); ps != nil && ps.Status == "True" && !ps.LastTransition.Std().IsZero() {
		d.Since = ps.LastTransition.Std()
	}
	d.Stuck = c.overdue(d.Since, c.o.StartupTimeout)
	// A volume that cannot be attached is the cause; the FailedMount
	// timeout that follows it ("Unable to attach or mount volumes ... timed
	// out") is its symptom, however much newer.
	e := c.latestEvent("", "FailedAttachVolume")
	if e == nil {
		e = c.latestEvent("", "FailedMount", "FailedCreatePodSandBox")
	}
	if e != nil {
		d.Reason, d.Message = e.Reason, e.Message
		for _, h := range creatingHints {
			if h.reason == e.Reason && strings.Contains(e.Message, h.fragment) {
				d.Hint = h.hint
				break
			}
		}
		return d
	}
	d.Message = "containers have not started on node " + p.NodeName
	if ct != nil && ct.Waiting != nil && ct.Waiting.Reason != "" {
		// As kubectl describe prints the state: "Waiting, Reason: ContainerCreating".
		d.Message += ": container " + strconv.Quote(ct.Name) + " is Waiting, Reason: " + ct.Waiting.Reason
		if ct.Waiting.Message != "" {
			d.Message += ", Message: " + ct.Waiting.Message
		}
	}
	d.Hint = "the kubelet has not started the containers: check kubectl describe pod events and the kubelet on " + p.NodeName
	return d
}

func (c *diagCtx) notReady() (Diagnosis, bool) {
	p := c.p
	ready := condition(p, "Ready")
	if p.Phase != "Running" || ready == nil || ready.Status == "True" {
		return Diagnosis{}, false
	}
	d := Diagnosis{Reason: ReasonNotReady, Message: ready.Message(), Since: ready.LastTransition.Std()}
	if d.Since.IsZero() {
		d.Since = p.Created.Std()
	}
	d.Stuck = c.overdue(d.Since, c.o.NotReadyTimeout)
	if ct := firstUnready(p); ct != nil {
		d.Container = ct.Name
		if e := c.latestEvent(ct.Name, "Unhealthy"); e != nil {
			d.Message = e.Message
		}
		d.Hint = "container " + ct.Name + " fails its readiness probe: check the endpoint the probe calls, its timeouts and the app's dependencies"
		if !ct.Started {
			d.Hint = "container " + ct.Name + " has not passed its startup probe: check the probe and the app's start-up time"
		}
		return d, true
	}
	for _, gate := range p.ReadinessGates {
		if gc := condition(p, gate); gc == nil || gc.Status != "True" {
			if gc != nil && gc.Message() != "" {
				d.Message = gc.Message()
			}
			d.Hint = "all containers are ready but readiness gate " + gate + " is not True: check the controller that sets it (e.g. the AWS Load Balancer Controller target health)"
			return d, true
		}
	}
	d.Hint = "the pod is not Ready: see the message"
	return d, true
}

func firstUnready(p *Pod) *Container {
	for i := range p.InitContainers {
		if ct := &p.InitContainers[i]; ct.Sidecar && ct.Running && !ct.Ready {
			return ct
		}
	}
	for i := range p.Containers {
		if ct := &p.Containers[i]; ct.Running && !ct.Ready {
			return ct
		}
	}
	return nil
}

func (c *diagCtx) restarted() (Diagnosis, bool) {
	var found *Container
	for _, list := range [][]Container{c.p.InitContainers, c.p.Containers} {
		for i := range list {
			ct := &list[i]
			t := ct.LastTerminated
			if !ct.Running || t == nil || c.overdue(t.FinishedAt.Std(), c.o.RestartWindow) || t.FinishedAt.Std().IsZero() {
				continue
			}
			if found == nil || t.FinishedAt.Std().After(found.LastTerminated.FinishedAt.Std()) {
				found = ct
			}
		}
	}
	if found == nil {
		return Diagnosis{}, false
	}
	t := found.LastTerminated
	d := Diagnosis{Reason: ReasonRestarted, Container: found.Name, Message: terminationText(t), Since: t.FinishedAt.Std(),
		Hint: exitHint(t, found.Name, false)}
	if t.Reason == ReasonOOMKilled {
		d.Reason = ReasonOOMKilled
	}
	return d, true
}

// terminationReason is the reason of a container termination, with the exit
// code when the runtime gave none.
func terminationReason(t *Terminated) string {
	switch {
	case t.Reason != "":
		return t.Reason
	case t.Signal != 0:
		return "Signal:" + strconv.Itoa(int(t.Signal))
	default:
		return "ExitCode:" + strconv.Itoa(int(t.ExitCode))
	}
}

// terminationText renders "Error (exit code 1): <termination message>", the
// message being the container's terminationMessagePath content or, with
// FallbackToLogsOnError, its log tail — verbatim.
func terminationText(t *Terminated) string {
	s := terminationReason(t) + " (exit code " + strconv.Itoa(int(t.ExitCode)) + ")"
	if t.Message != "" {
		s += ": " + t.Message
	}
	return s
}

// exitHint turns a termination into one sentence.
func exitHint(t *Terminated, container string, livenessFailed bool) string {
	logs := "kubectl logs --previous POD -c " + container
	switch {
	case t.Reason == ReasonOOMKilled:
		return "container " + container + " exceeded its memory limit: raise resources.limits.memory or reduce its memory use"
	case t.Reason == "StartError" || t.Reason == "ContainerCannotRun":
		return waitingHints["StartError"]
	case livenessFailed:
		return "the liveness probe of container " + container + " fails and the kubelet restarts it: check the probe endpoint and timeouts"
	case t.ExitCode == 127:
		return "exit code 127: the command was not found in the image: fix command/args or the image"
	case t.ExitCode == 126:
		return "exit code 126: the command is not executable: fix its permissions or command/args"
	case t.ExitCode == 137:
		return "exit code 137: the container was killed with SIGKILL (not an OOM kill by the kernel's report): check liveness probes and node pressure; " + logs
	case t.ExitCode == 139:
		return "exit code 139: the process crashed with a segmentation fault: " + logs
	case t.ExitCode == 143:
		return "exit code 143: the process was stopped with SIGTERM: check what terminates it; " + logs
	default:
		return "container " + container + " exits with code " + strconv.Itoa(int(t.ExitCode)) + ": check " + logs
	}
}

// Attributes returns the diagnosis keyed by attribute name: status and stuck
// always, the others when not empty.
func (d Diagnosis) Attributes() map[string]any {
	m := map[string]any{AttributeStatus: d.Status, AttributeStuck: d.Stuck}
	for k, v := range map[string]string{AttributeReason: d.Reason, AttributeContainer: d.Container,
		AttributeMessage: d.Message, AttributeHint: d.Hint} {
		if v != "" {
			m[k] = v
		}
	}
	if !d.Since.IsZero() {
		m[AttributeSince] = d.Since.UTC().Format(time.RFC3339)
	}
	return m
}
