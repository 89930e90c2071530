// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package testcluster

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-sre/otelcol-sre/internal/testenv"
)

func TestBinDir(t *testing.T) {
	const cacheSuffix = "otelcol-sre/kube-" + KubeVersion + "-etcd-" + EtcdVersion
	tests := []struct {
		name, binEnv, xdg, want string
	}{
		{name: "env override wins", binEnv: "/opt/kube", xdg: "/xdg", want: "/opt/kube"},
		{name: "XDG cache home", xdg: "/xdg", want: "/xdg/" + cacheSuffix},
		{name: "home cache by default", want: "/home/ci/.cache/" + cacheSuffix},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(BinDirEnv, tt.binEnv)
			t.Setenv("XDG_CACHE_HOME", tt.xdg)
			t.Setenv("HOME", "/home/ci")
			assert.Equal(t, tt.want, BinDir())
		})
	}
}

func TestFindBinaries(t *testing.T) {
	tests := []struct {
		name        string
		files       map[string]os.FileMode
		wantMissing string
	}{
		{name: "all three built", files: map[string]os.FileMode{"etcd": 0o755, "kube-apiserver": 0o755, "kube-scheduler": 0o755}},
		{name: "empty cache dir", wantMissing: "etcd, kube-apiserver, kube-scheduler not found"},
		{name: "scheduler not built", files: map[string]os.FileMode{"etcd": 0o755, "kube-apiserver": 0o755}, wantMissing: "kube-scheduler not found"},
		{name: "not executable", files: map[string]os.FileMode{"etcd": 0o644, "kube-apiserver": 0o755, "kube-scheduler": 0o755}, wantMissing: "etcd not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, mode := range tt.files {
				require.NoError(t, os.WriteFile(filepath.Join(dir, name), nil, mode))
			}
			b, err := findBinaries(dir)
			if tt.wantMissing == "" {
				require.NoError(t, err)
				assert.Equal(t, binaries{
					etcd:      filepath.Join(dir, "etcd"),
					apiserver: filepath.Join(dir, "kube-apiserver"),
					scheduler: filepath.Join(dir, "kube-scheduler"),
				}, b)
				return
			}
			require.ErrorIs(t, err, ErrBinariesMissing)
			assert.ErrorContains(t, err, tt.wantMissing)
			assert.ErrorContains(t, err, "bash internal/testcluster/build.sh", "the error tells how to fix it")
		})
	}
}

func TestFailStart(t *testing.T) {
	missing := fmt.Errorf("%w: etcd not found", ErrBinariesMissing)
	broken := errors.New("kube-apiserver exited")
	tests := []struct {
		name                    string
		err                     error
		ci                      bool
		wantSkipped, wantFailed string
	}{
		{name: "missing binaries outside CI skip", err: missing, wantSkipped: "etcd not found"},
		{name: "missing binaries in CI fail", err: missing, ci: true, wantFailed: "etcd not found"},
		{name: "a broken start fails outside CI", err: broken, wantFailed: "kube-apiserver exited"},
		{name: "a broken start fails in CI", err: broken, ci: true, wantFailed: "kube-apiserver exited"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("CI", strconv.FormatBool(tt.ci))
			tb := &testenv.Recorder{}
			failStart(tb, tt.err)
			if tt.wantSkipped != "" {
				assert.Contains(t, tb.SkipMessage, tt.wantSkipped)
				assert.Empty(t, tb.FatalMessage)
			} else {
				assert.Contains(t, tb.FatalMessage, tt.wantFailed)
				assert.Empty(t, tb.SkipMessage)
			}
		})
	}
}

func TestBuildScriptAndToolsModulePinTheseVersions(t *testing.T) {
	script, err := os.ReadFile("build.sh")
	require.NoError(t, err)
	assert.Regexp(t, regexp.MustCompile(`(?m)^KUBE_VERSION=`+regexp.QuoteMeta(KubeVersion)+`$`), string(script))
	assert.Regexp(t, regexp.MustCompile(`(?m)^ETCD_VERSION=`+regexp.QuoteMeta(EtcdVersion)+`$`), string(script))

	gomod, err := os.ReadFile(filepath.Join("tools", "go.mod"))
	require.NoError(t, err)
	assert.Regexp(t, regexp.MustCompile(`(?m)^\s+k8s\.io/kubernetes `+regexp.QuoteMeta(KubeVersion)+`( // indirect)?$`), string(gomod))
	assert.Regexp(t, regexp.MustCompile(`(?m)^\s+go\.etcd\.io/etcd/server/v3 `+regexp.QuoteMeta(EtcdVersion)+`( // indirect)?$`), string(gomod))
}
