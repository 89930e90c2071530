// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package testcluster

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/otelcol-sre/otelcol-sre/internal/testenv"
)

// Versions of the control-plane binaries, as pinned in tools/go.mod and
// built by build.sh. They name the cache directory.
const (
	KubeVersion = "v1.36.3"
	EtcdVersion = "v3.6.8"
)

// BinDirEnv names the environment variable that, when set, is the directory
// holding etcd, kube-apiserver and kube-scheduler (overrides the cache dir).
const BinDirEnv = "OTELCOL_SRE_KUBE_BIN"

// ErrBinariesMissing is wrapped by the error of New when a binary is not
// built yet. Start and Shared skip the test on it, or fail it under CI.
var ErrBinariesMissing = errors.New("control-plane binaries missing")

// BinDir returns the directory the binaries are taken from: $OTELCOL_SRE_KUBE_BIN
// if set, else ${XDG_CACHE_HOME:-$HOME/.cache}/otelcol-sre/kube-<ver>-etcd-<ver>,
// the directory build.sh fills.
func BinDir() string {
	if dir := os.Getenv(BinDirEnv); dir != "" {
		return dir
	}
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		base = filepath.Join(os.Getenv("HOME"), ".cache")
	}
	return filepath.Join(base, "otelcol-sre", "kube-"+KubeVersion+"-etcd-"+EtcdVersion)
}

type binaries struct {
	etcd, apiserver, scheduler string
}

func findBinaries(dir string) (binaries, error) {
	b := binaries{
		etcd:      filepath.Join(dir, "etcd"),
		apiserver: filepath.Join(dir, "kube-apiserver"),
		scheduler: filepath.Join(dir, "kube-scheduler"),
	}
	var missing []string
	for _, path := range []string{b.etcd, b.apiserver, b.scheduler} {
		if fi, err := os.Stat(path); err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			missing = append(missing, filepath.Base(path))
		}
	}
	if len(missing) > 0 {
		return b, fmt.Errorf("%w: %s not found in %s: run `bash internal/testcluster/build.sh` "+
			"(cold build ≈10 min, cached per machine) or set %s to a directory holding etcd, kube-apiserver and kube-scheduler",
			ErrBinariesMissing, strings.Join(missing, ", "), dir, BinDirEnv)
	}
	return b, nil
}

// failStart ends tb after New returned err: when only the binaries are
// missing, a skip outside CI and a failure under CI (internal/testenv); any
// other error is a failure.
func failStart(tb testing.TB, err error) {
	tb.Helper()
	if errors.Is(err, ErrBinariesMissing) {
		testenv.Unavailable(tb, "testcluster: %v", err)
		return
	}
	tb.Fatalf("testcluster: starting the control plane: %v", err)
}
