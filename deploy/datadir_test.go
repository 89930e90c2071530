// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package deploy_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/otelcol-sre/otelcol-sre/internal/testenv"
)

// dataDirOwner is the agent's init container that hands the data hostPath to the collector's uid: the
// kubelet creates a hostPath directory as root:root 0755, and fsGroup does not apply to hostPath volumes.
const (
	dataDirOwner = "data-dir-owner"
	dataDir      = "/var/lib/otelcol-sre"
	collectorUID = 10001
)

// checkDataDirOwner holds the one container allowed to run as root to exactly that: uid 0 with CAP_CHOWN
// and no other capability, no escalation, read-only root filesystem, RuntimeDefault seccomp, only the data
// hostPath mounted, in a workload whose collector runs as collectorUID.
func checkDataDirOwner(t *testing.T, where string, spec corev1.PodSpec, c corev1.Container) {
	t.Helper()
	sc := c.SecurityContext
	want := &corev1.SecurityContext{
		RunAsUser: to[int64](0), RunAsGroup: to[int64](0), RunAsNonRoot: to(false),
		AllowPrivilegeEscalation: to(false), ReadOnlyRootFilesystem: to(true), Privileged: to(false),
		Capabilities:   &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}, Add: []corev1.Capability{"CHOWN"}},
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
	if sc == nil || !equalJSON(t, sc, want) {
		t.Errorf("%s: securityContext %+v, want exactly %+v", where, sc, want)
	}
	if len(c.VolumeMounts) != 1 || c.VolumeMounts[0].Name != "data" || c.VolumeMounts[0].MountPath != dataDir {
		t.Errorf("%s: must mount only the data volume at %s, got %+v", where, dataDir, c.VolumeMounts)
	}
	for _, v := range spec.Volumes {
		if v.Name == "data" && (v.HostPath == nil || v.HostPath.Path != dataDir) {
			t.Errorf("%s: the data volume is not the hostPath %s: %+v", where, dataDir, v.VolumeSource)
		}
	}
	if len(spec.Containers) == 0 || spec.Containers[0].SecurityContext == nil || spec.Containers[0].SecurityContext.RunAsUser == nil || *spec.Containers[0].SecurityContext.RunAsUser != collectorUID {
		t.Errorf("%s: the collector container must run as uid %d, the owner this container sets", where, collectorUID)
	}
}

func to[T any](v T) *T { return &v }

func equalJSON(t *testing.T, a, b any) bool {
	t.Helper()
	ja, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	jb, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Equal(ja, jb)
}

// dataDirOwnerCommand is the init container's command as the agent DaemonSet renders it.
func dataDirOwnerCommand(t *testing.T) []string {
	t.Helper()
	for _, p := range podTemplates(t) {
		for _, c := range p.template.Spec.InitContainers {
			if c.Name == dataDirOwner && p.overlay == "agent" {
				return c.Command
			}
		}
	}
	t.Fatalf("the agent DaemonSet has no %s init container", dataDirOwner)
	return nil
}

// The init container's command, run for real (Debian's sh and coreutils in place of the image's busybox)
// as uid 0 with CAP_CHOWN as its only capability, on a directory made the way the kubelet makes a hostPath
// (root:root 0755): the directory ends 10001:10001 0700, a second run (the next pod on the node) succeeds,
// the collector's uid can then create its queue files there, and without CAP_CHOWN the command fails (so
// the capability is needed, and nothing more is).
func TestDataDirOwnerCommandNeedsOnlyCHOWN(t *testing.T) {
	testenv.NeedRoot(t, "run the init command as uid 0 with a reduced capability set")
	setpriv := testenv.LookPath(t, "setpriv", "util-linux")
	cmd := dataDirOwnerCommand(t)
	if len(cmd) != 3 || cmd[0] != "sh" || cmd[1] != "-c" || !strings.Contains(cmd[2], dataDir) {
		t.Fatalf("init command %q: want [sh -c <script on %s>]", cmd, dataDir)
	}
	// Not t.TempDir: its parent is 0700, and the collector's uid must be able to reach dir.
	parent, err := os.MkdirTemp("", "otelcol-sre-datadir-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(parent) })
	if err := os.Chmod(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(parent, "otelcol-sre")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	script := strings.ReplaceAll(cmd[2], dataDir, dir)
	run := func(caps string) error {
		out, err := exec.Command(setpriv, "--bounding-set=-all"+caps, "--inh-caps=-all", "--no-new-privs",
			"--reuid=0", "--regid=0", "--clear-groups", "sh", "-c", script).CombinedOutput()
		if err != nil {
			t.Logf("caps %q: %v: %s", caps, err, out)
		}
		return err
	}
	if err := run(""); err == nil {
		t.Error("the command succeeded without CAP_CHOWN: the capability is not needed, drop it from the manifest")
	}
	for i := range 2 {
		if err := run(",+chown"); err != nil {
			t.Fatalf("run %d with CAP_CHOWN only failed", i+1)
		}
		st, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		sys := st.Sys().(*syscall.Stat_t)
		if sys.Uid != collectorUID || sys.Gid != collectorUID || st.Mode().Perm() != 0o700 {
			t.Fatalf("run %d: %s is %d:%d %o, want %d:%d 700", i+1, dir, sys.Uid, sys.Gid, st.Mode().Perm(), collectorUID, collectorUID)
		}
	}
	if out, err := exec.Command(setpriv, "--reuid=10001", "--regid=10001", "--clear-groups", "--bounding-set=-all",
		"sh", "-c", "mkdir "+filepath.Join(dir, "queue")+" && touch "+filepath.Join(dir, "queue", "exporter_otlp_grpc")).CombinedOutput(); err != nil {
		t.Errorf("uid %d cannot write in the prepared directory: %v: %s", collectorUID, err, out)
	}
}
