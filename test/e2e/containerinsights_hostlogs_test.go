// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/otelcol-sre/otelcol-sre/internal/collectortest"
	"github.com/otelcol-sre/otelcol-sre/internal/testenv"
)

// TestContainerInsightsHostLogsAsTheAgentUser: the option's file_log/host in the built binary, run as the agent's
// pod runs it (uid 10001, supplementary group 0 from supplementalGroups [0], no capability, no new privileges,
// via setpriv), over a host /var/log with AL2's modes: dmesg 0644, secure 0600 root:root (AL2's default, unread)
// and messages 0640 root:root (what deploy/README.md "Host log files on EKS nodes" asks the node to set). Lines
// appended after start must arrive from dmesg and messages and never from secure, and the agent must stay
// healthy, saying why it cannot read secure.
func TestContainerInsightsHostLogsAsTheAgentUser(t *testing.T) {
	t.Parallel()
	testenv.NeedRoot(t, "create root-owned host log files and run the collector as uid 10001")
	setpriv := testenv.LookPath(t, "setpriv", "util-linux")
	// Directories the agent's user can traverse (t.TempDir's are 0700 root).
	base, err := os.MkdirTemp("", "otelcol-sre-hostlogs-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(base) })
	hostRoot, dataDir := filepath.Join(base, "hostfs"), filepath.Join(base, "data")
	logDir := filepath.Join(hostRoot, "var", "log")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{base, hostRoot, filepath.Join(hostRoot, "var")} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(dataDir, 10001, 10001); err != nil {
		t.Fatal(err)
	}
	modes := map[string]os.FileMode{"dmesg": 0o644, "messages": 0o640, "secure": 0o600}
	for name, mode := range modes {
		if err := os.WriteFile(filepath.Join(logDir, name), nil, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(logDir, name), mode); err != nil { // umask-proof
			t.Fatal(err)
		}
	}

	ci := newContainerInsightsAgent(t, "http://127.0.0.1:9")
	ci.env["OTELCOL_SRE_HOST_ROOT"], ci.env["OTELCOL_SRE_DATA_DIR"] = hostRoot, dataDir
	proc := collectortest.StartConfigsWrapped(t, []string{setpriv, "--reuid=10001", "--regid=10001", "--groups=0",
		"--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"},
		[]string{filepath.Join("testdata", "containerinsights-emf.yaml"),
			filepath.Join(collectortest.RepoRoot(), "deploy", "configs", "container-insights.yaml"),
			filepath.Join("testdata", "containerinsights-emf-override.yaml"), // no receiver: metrics are not the point
			filepath.Join("testdata", "containerinsights-hostlogs-override.yaml")},
		ci.env, "http://127.0.0.1:"+ci.env["HEALTH_PORT"]+"/", collectortest.FileLogFeatureGatesFlag)
	time.Sleep(time.Second) // past file_log's first poll: start_at end
	lines := map[string]string{
		"dmesg":    "[    1.234567] hostlogs-e2e dmesg line",
		"messages": "Nov 27 19:30:01 ip-10-0-7-42 kubelet[2211]: hostlogs-e2e messages line",
		"secure":   "Nov 27 19:30:02 ip-10-0-7-42 sshd[3120]: hostlogs-e2e secure line",
	}
	for name, line := range lines {
		f, err := os.OpenFile(filepath.Join(logDir, name), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteString(line + "\n"); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if out := proc.Output(); strings.Contains(out, lines["dmesg"]) && strings.Contains(out, lines["messages"]) {
			break
		}
	}
	time.Sleep(2 * time.Second) // give secure the same chance
	out := proc.Output()
	for name, readable := range map[string]bool{"dmesg": true, "messages": true, "secure": false} {
		if got := strings.Contains(out, lines[name]); got != readable {
			t.Errorf("%s (mode %o): read %v, want %v", name, modes[name], got, readable)
		}
	}
	if !strings.Contains(out, "permission denied") {
		t.Error("the agent does not say why it cannot read secure")
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "permission denied") {
			t.Logf("the agent says: %.300s", l)
		}
	}
	if t.Failed() {
		t.Logf("collector output:\n%s", out)
	}
}
