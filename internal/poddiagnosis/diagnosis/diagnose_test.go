// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package diagnosis

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDiagnoseTestdata runs every testdata pod (the JSON kubectl get pod -o json
// prints) with its events (kubectl get events -o json) through Diagnose at
// testNow with the default options.
func TestDiagnoseTestdata(t *testing.T) {
	tests := []struct {
		name      string
		status    string
		stuck     bool
		reason    string
		container string
		message   string // substring of the message; "" asserts an empty message
		hint      string // substring of the hint
		since     string // RFC 3339; "" when not asserted
	}{
		// Healthy controls.
		{name: "healthy_running", status: "Running"},
		{name: "healthy_native_sidecar", status: "Running"},
		{name: "completed_job", status: "Completed"},
		{name: "restarted_long_ago_healthy", status: "Running"},
		{name: "restarted_recently_oomkilled", status: "Running", reason: "OOMKilled", container: "search",
			message: "OOMKilled (exit code 137)", hint: "memory limit", since: "2026-11-22T11:56:00Z"},
		{name: "restarted_recently_error", status: "Running", reason: "Restarted", container: "search",
			message: "Error (exit code 2): fatal: config reload failed", hint: "exits with code 2"},

		// ContainerCreating, explained by events.
		{name: "creating_within_grace", status: "ContainerCreating", reason: "ContainerCreating",
			message: "containers have not started", since: "2026-11-22T11:59:00Z"},
		{name: "creating_stuck_no_events", status: "ContainerCreating", stuck: true, reason: "ContainerCreating",
			message: `containers have not started on node ip-10-0-12-34.ec2.internal: container "payments" is Waiting, Reason: ContainerCreating`, hint: "kubelet"},
		{name: "creating_failedmount_configmap", status: "ContainerCreating", stuck: true, reason: "FailedMount",
			message: `MountVolume.SetUp failed for volume "config" : configmap "orders-config" not found`, hint: "does not exist"},
		{name: "creating_multi_attach", status: "ContainerCreating", stuck: true, reason: "FailedAttachVolume",
			message: `Multi-Attach error for volume "pvc-3f1e2d4c`, hint: "ReadWriteOnce"},
		{name: "creating_mount_timeout_after_multi_attach", status: "ContainerCreating", stuck: true, reason: "FailedAttachVolume",
			message: `Multi-Attach error for volume "pvc-3f1e2d4c`, hint: "ReadWriteOnce"},
		{name: "creating_sandbox_ip_exhaustion", status: "ContainerCreating", stuck: true, reason: "FailedCreatePodSandBox",
			message: "failed to assign an IP address to container", hint: "ENI IP exhaustion"},
		{name: "creating_old_events_ignored", status: "ContainerCreating", reason: "ContainerCreating",
			message: "containers have not started"},

		// Crash loops.
		{name: "crashloop_error_termination_message", status: "CrashLoopBackOff", stuck: true, reason: "CrashLoopBackOff",
			container: "inventory", message: "Error (exit code 1): panic: DATABASE_URL is not set\n\ngoroutine 1", hint: "kubectl logs --previous"},
		{name: "crashloop_oomkilled", status: "CrashLoopBackOff", stuck: true, reason: "OOMKilled", container: "recommender",
			message: "OOMKilled (exit code 137)", hint: "resources.limits.memory"},
		{name: "crashloop_fallback_to_logs", status: "CrashLoopBackOff", stuck: true, reason: "CrashLoopBackOff",
			container: "notifier", message: "ModuleNotFoundError: No module named 'yaml'"},
		{name: "crashloop_liveness_killed", status: "CrashLoopBackOff", stuck: true, reason: "CrashLoopBackOff",
			container: "gateway", message: "Error (exit code 137)", hint: "liveness probe"},
		{name: "crashloop_exit_127", status: "CrashLoopBackOff", stuck: true, reason: "CrashLoopBackOff",
			container: "migrator", message: "./migrate: not found", hint: "exit code 127"},
		{name: "crashloop_start_error", status: "CrashLoopBackOff", stuck: true, reason: "StartError",
			container: "worker", message: `StartError (exit code 128): failed to create containerd task`, hint: "missing executable"},
		{name: "multi_container_one_crashing", status: "CrashLoopBackOff", stuck: true, reason: "CrashLoopBackOff",
			container: "nginx", message: `host not found in upstream "backend:8080"`},

		// Image pull.
		{name: "image_pull_backoff_not_found", status: "ImagePullBackOff", stuck: true, reason: "ImagePullBackOff",
			container: "billing", message: "billing:1.5.0: not found", hint: "does not exist in the registry"},
		{name: "err_image_pull_unauthorized", status: "ErrImagePull", stuck: true, reason: "ErrImagePull",
			container: "ledger", message: "401 Unauthorized", hint: "imagePullSecrets"},
		{name: "invalid_image_name", status: "InvalidImageName", stuck: true, reason: "InvalidImageName",
			container: "ledger", message: "must be lowercase", hint: "not valid"},
		{name: "err_image_never_pull", status: "ErrImageNeverPull", stuck: true, reason: "ErrImageNeverPull",
			container: "tools", message: "is not present with pull policy of Never", hint: "preload"},
		{name: "init_image_pull_backoff", status: "Init:ImagePullBackOff", stuck: true, reason: "ImagePullBackOff",
			container: "migrate", message: `Back-off pulling image "123456789012.dkr.ecr.us-east-1.amazonaws.com/catalog-migrate:0.9.0"`},

		// Container configuration, creation and start.
		{name: "create_container_config_error_configmap", status: "CreateContainerConfigError", stuck: true,
			reason: "CreateContainerConfigError", container: "profile", message: `configmap "profile-settings" not found`, hint: "ConfigMap"},
		{name: "create_container_config_error_secret_key", status: "CreateContainerConfigError", stuck: true,
			reason: "CreateContainerConfigError", container: "profile", message: "couldn't find key password in Secret shop/profile-db"},
		{name: "create_container_error", status: "CreateContainerError", stuck: true, reason: "CreateContainerError",
			container: "profile", message: "failed to reserve container name"},
		{name: "run_container_error", status: "RunContainerError", stuck: true, reason: "RunContainerError",
			container: "profile", message: "not a directory: unknown"},
		{name: "unknown_waiting_reason", status: "PostStartHookError", stuck: true, reason: "PostStartHookError",
			container: "profile", message: "PostStartHook failed", hint: "PostStartHookError"},

		// Init containers and native sidecars.
		{name: "init_running_within_grace", status: "Init:0/2", reason: "Initializing", container: "wait-for-db",
			message: `init container "wait-for-db" (1/2)`},
		{name: "init_stuck_first_of_two", status: "Init:0/2", stuck: true, reason: "Initializing", container: "wait-for-db",
			since: "2026-11-22T11:31:00Z"},
		{name: "init_stuck_second_of_two", status: "Init:1/2", stuck: true, reason: "Initializing", container: "migrate",
			message: `init container "migrate" (2/2)`},
		{name: "init_crashloop", status: "Init:CrashLoopBackOff", stuck: true, reason: "InitCrashLoopBackOff",
			container: "migrate", message: `Error (exit code 1): ERROR: relation "accounts" already exists`},
		{name: "init_error_momentary", status: "Init:Error", stuck: true, reason: "InitError", container: "migrate",
			message: "migration 0042 failed"},
		{name: "init_error_restart_never_failed", status: "Init:Error", stuck: true, reason: "InitError", container: "migrate",
			message: "connect: connection refused", since: "2026-11-22T11:48:00Z"},
		{name: "sidecar_crashloop_not_init_trouble", status: "Init:CrashLoopBackOff", stuck: true, reason: "CrashLoopBackOff",
			container: "istio-proxy", message: "failed to read mesh config"},
		{name: "sidecar_startup_blocks_init", status: "Init:0/1", stuck: true, reason: "Initializing", container: "istio-proxy",
			message: "startup probe has not passed", hint: "sidecar istio-proxy"},

		// Scheduling.
		{name: "unschedulable_insufficient_cpu", status: "Pending", stuck: true, reason: "Unschedulable",
			message: "0/5 nodes are available: 1 node(s) had untolerated taint", hint: "4 of 5 nodes: Insufficient cpu", since: "2026-11-22T11:50:00Z"},
		{name: "unschedulable_old_taint_wording", status: "Pending", stuck: true, reason: "Unschedulable",
			message: "that the pod didn't tolerate", hint: "toleration"},
		{name: "unschedulable_prefilter_pvc", status: "Pending", stuck: true, reason: "Unschedulable",
			message: `persistentvolumeclaim "data-elastic-0" not found`, hint: "4 of 4 nodes"},
		{name: "unschedulable_within_grace", status: "Pending", reason: "Unschedulable", message: "5 Insufficient memory"},
		{name: "unschedulable_affinity_and_spread", status: "Pending", stuck: true, reason: "Unschedulable",
			hint: "topology spread"},
		{name: "unschedulable_volume_zone", status: "Pending", stuck: true, reason: "Unschedulable", hint: "WaitForFirstConsumer"},
		{name: "scheduling_gated", status: "SchedulingGated", stuck: true, reason: "SchedulingGated",
			message: "Scheduling is blocked due to non-empty scheduling gates", hint: "kueue.x-k8s.io/admission"},
		{name: "not_scheduled_no_scheduler", status: "Pending", stuck: true, reason: "NotScheduled", hint: "schedulerName"},

		// Terminal failures.
		{name: "evicted_container_status_unknown", status: "ContainerStatusUnknown", stuck: true, reason: "Evicted",
			container: "reports", message: "The node was low on resource: memory.", hint: "low on memory"},
		{name: "deadline_exceeded", status: "Error", stuck: true, reason: "DeadlineExceeded",
			message: "longer than the specified deadline", hint: "activeDeadlineSeconds"},
		{name: "unexpected_admission_error", status: "UnexpectedAdmissionError", stuck: true, reason: "UnexpectedAdmissionError",
			message: "no healthy devices present", since: "2026-11-22T11:53:00Z"},
		{name: "out_of_cpu", status: "OutOfcpu", stuck: true, reason: "OutOfcpu", message: "Node didn't have enough resource: cpu",
			hint: "lacked cpu"},
		{name: "node_shutdown", status: "Error", stuck: true, reason: "NodeShutdown",
			message: "Pod was terminated in response to imminent node shutdown.", hint: "node shut down"},
		{name: "unknown_pod_failure_reason", status: "Error", stuck: true, reason: "NodeMemoryPressureRejected",
			message: "node memory pressure", hint: "NodeMemoryPressureRejected"},
		{name: "failed_preempted_by_scheduler", status: "Error", stuck: true, reason: "PreemptionByScheduler",
			message: "preempting to accommodate a higher priority pod", hint: "priorityClassName"},
		{name: "job_failed_restart_never", status: "Error", stuck: true, reason: "Error", container: "k6",
			message: "Error (exit code 99): some thresholds have failed", since: "2026-11-22T11:50:00Z"},
		{name: "job_oomkilled_restart_never", status: "OOMKilled", stuck: true, reason: "OOMKilled", container: "k6",
			message: "OOMKilled (exit code 137)"},
		{name: "on_failure_container_error", status: "Error", stuck: true, reason: "Error", container: "sync",
			message: "sync failed: 503 from upstream"},

		// Terminating.
		{name: "finalizer_held_completed", status: "Completed", stuck: true, reason: "TerminatingStuck",
			message: "waiting for finalizers: batch.kubernetes.io/job-tracking, example.com/archive-logs", hint: "finalizer"},
		{name: "terminating_within_grace", status: "Terminating", reason: "Terminating"},
		{name: "terminating_container_still_running", status: "Terminating", stuck: true, reason: "TerminatingStuck",
			container: "checkout", message: `container "checkout" is still running`, since: "2026-11-22T11:50:00Z"},
		{name: "terminating_node_unreachable", status: "Terminating", stuck: true, reason: "TerminatingStuck",
			message: `node "ip-10-0-44-21.ec2.internal" is unreachable`, hint: "force-delete"},

		// Running but not Ready.
		{name: "not_ready_readiness_probe", status: "Running", stuck: true, reason: "NotReady", container: "pricing",
			message: "Readiness probe failed: HTTP probe failed with statuscode: 503", hint: "readiness probe"},
		{name: "not_ready_within_grace", status: "Running", reason: "NotReady", container: "pricing",
			message: "containers with unready status: [pricing]"},
		{name: "not_ready_startup_probe", status: "Running", stuck: true, reason: "NotReady", container: "pricing",
			hint: "startup probe"},
		{name: "readiness_gate_all_containers_ready", status: "Running", stuck: true, reason: "NotReady",
			message: `corresponding condition of pod readiness gate "target-health.elbv2.k8s.aws/k8s-shop-web-3b1c2d4e5f" does not exist.`,
			hint:    "readiness gate"},
		{name: "readiness_gate_condition_false", status: "Running", stuck: true, reason: "NotReady",
			message: "Target registration is in progress, health checks failed", hint: "AWS Load Balancer Controller"},
	}
	files, err := filepath.Glob(filepath.Join("testdata", "pods", "*.json"))
	require.NoError(t, err)
	require.Len(t, tests, len(files), "every testdata pod has a case and every case a pod")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := FromPod(loadPod(t, tt.name), 0, nil)
			d := Diagnose(&p, leanEvents(loadEvents(t, tt.name)), testNow, DefaultOptions())
			assert.Equal(t, tt.status, d.Status, "status")
			assert.Equal(t, tt.stuck, d.Stuck, "stuck")
			assert.Equal(t, tt.reason, d.Reason, "reason")
			assert.Equal(t, tt.container, d.Container, "container")
			if tt.message == "" && tt.reason == "" {
				assert.Empty(t, d.Message, "message")
			} else {
				assert.Contains(t, d.Message, tt.message, "message")
			}
			assert.Contains(t, d.Hint, tt.hint, "hint")
			if tt.reason != "" {
				assert.NotEmpty(t, d.Hint, "every non-healthy diagnosis carries a hint")
				assert.False(t, d.Since.IsZero(), "every non-healthy diagnosis has a since")
			}
			if tt.since != "" {
				assert.Equal(t, tt.since, d.Since.UTC().Format(time.RFC3339), "since")
			}
		})
	}
}

func TestDiagnoseThresholdsFollowTheInjectedClock(t *testing.T) {
	p := FromPod(loadPod(t, "creating_within_grace"), 0, nil)
	o := DefaultOptions()
	// Scheduled at 11:59:00; the start-up timeout is 5m.
	at := func(s string) time.Time {
		ts, err := time.Parse(time.RFC3339, s)
		require.NoError(t, err)
		return ts
	}
	assert.False(t, Diagnose(&p, nil, at("2026-11-22T12:04:00Z"), o).Stuck)
	assert.True(t, Diagnose(&p, nil, at("2026-11-22T12:04:01Z"), o).Stuck)
	o.StartupTimeout = time.Hour
	assert.False(t, Diagnose(&p, nil, at("2026-11-22T12:30:00Z"), o).Stuck)
}

func TestDiagnoseRestartWindow(t *testing.T) {
	p := FromPod(loadPod(t, "restarted_recently_oomkilled"), 0, nil)
	o := DefaultOptions()
	assert.Equal(t, "OOMKilled", Diagnose(&p, nil, testNow, o).Reason)
	o.RestartWindow = time.Minute
	assert.Equal(t, "", Diagnose(&p, nil, testNow, o).Reason, "a restart older than the window is forgotten")
}

func TestDiagnoseTruncatesMessage(t *testing.T) {
	p := FromPod(loadPod(t, "crashloop_error_termination_message"), 0, nil)
	o := DefaultOptions()
	o.MaxMessageLength = 24
	d := Diagnose(&p, nil, testNow, o)
	assert.Equal(t, "Error (exit code 1): ...", d.Message)
	assert.LessOrEqual(t, len(d.Message), 24)
}

func TestFromPodTruncatesAndInterns(t *testing.T) {
	in := mapInterner{}
	a := FromPod(loadPod(t, "unschedulable_insufficient_cpu"), 40, in)
	b := FromPod(loadPod(t, "unschedulable_old_taint_wording"), 40, in)
	require.NotEmpty(t, a.Conditions)
	assert.LessOrEqual(t, len(a.Conditions[0].Message()), 40)
	assert.True(t, strings.HasSuffix(a.Conditions[0].Message(), "..."))
	assert.Equal(t, "shop", a.Namespace)
	assert.Same(t, unsafeStringData(a.Namespace), unsafeStringData(b.Namespace), "interned strings share memory")
}

func TestFromPodKeepsOnlyRelevantConditions(t *testing.T) {
	p := FromPod(loadPod(t, "readiness_gate_condition_false"), 0, nil)
	var types []string
	for _, c := range p.Conditions {
		types = append(types, c.Type)
	}
	assert.NotContains(t, types, "PodReadyToStartContainers")
	assert.Contains(t, types, "target-health.elbv2.k8s.aws/k8s-shop-web-3b1c2d4e5f", "readiness gate conditions are kept")
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"this is too long", 10, "this is..."},
		{"unlimited", 0, "unlimited"},
		{"abcdef", 2, "ab"},
		{"héllo wörld", 5, "h..."}, // never splits the two-byte é
		{"ééééé", 6, "é..."},       // cut lands inside a rune and backs off
		{"日本語のテキスト", 9, "日本..."},   // three-byte runes
	}
	for _, tt := range tests {
		got := Truncate(tt.in, tt.n)
		assert.Equal(t, tt.want, got, "Truncate(%q, %d)", tt.in, tt.n)
	}
}

func TestDiagnosisAttributes(t *testing.T) {
	p := FromPod(loadPod(t, "crashloop_oomkilled"), 0, nil)
	got := Diagnose(&p, nil, testNow, DefaultOptions()).Attributes()
	assert.Equal(t, "OOMKilled", got[AttributeReason])
	assert.Equal(t, true, got[AttributeStuck])
	assert.Equal(t, "2026-11-22T11:59:00Z", got[AttributeSince])

	h := FromPod(loadPod(t, "healthy_running"), 0, nil)
	assert.Equal(t, map[string]any{AttributeStatus: "Running", AttributeStuck: false},
		Diagnose(&h, nil, testNow, DefaultOptions()).Attributes())
}
