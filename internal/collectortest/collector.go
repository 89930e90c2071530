// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

// Package collectortest runs the built otelcol-sre binary in end-to-end tests: it finds (or builds) the
// binary, starts it on free loopback ports with an environment that can never reach AWS, waits until it is
// healthy, and stops it with SIGINT the way Ctrl-C does.
package collectortest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// BinaryEnv names the environment variable through which `make test` hands the tests the binary it built.
const BinaryEnv = "OTELCOL_SRE_BINARY"

// DeployFeatureGates is the --feature-gates value deploy's manifests start every collector that runs
// prometheus_remote_write with (deploy tests hold the manifests to it; Start runs every collector under test
// with it, so end-to-end tests exercise what ships). RetryOn429: without it the v0.155 exporter treats an
// HTTP 429 (AMP above its ingestion quota) as permanent, and with the WAL one permanent error stalls delivery.
const DeployFeatureGates = "exporter.prometheusremotewritexporter.RetryOn429"

// FeatureGatesFlag is the command-line argument that enables DeployFeatureGates.
const FeatureGatesFlag = "--feature-gates=" + DeployFeatureGates

// FileLogFeatureGatesFlag is what deploy's manifests add for every collector that runs file_log:
// stanza.synchronousLogEmitter makes file_log hand each batch to the pipeline before its checkpoint moves
// (without it, a batch waits in memory after the checkpoint was written, and a SIGKILL loses it).
const FileLogFeatureGatesFlag = "--feature-gates=stanza.synchronousLogEmitter"

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// RepoRoot is the repository's top directory, found from this source file's location.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Binary returns the path of the otelcol-sre binary: $OTELCOL_SRE_BINARY when set (make test sets it),
// otherwise one built once per test process from distribution/ (slow on a cold cache).
func Binary(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv(BinaryEnv); p != "" {
		if _, err := os.Stat(p); err != nil {
			tb.Fatalf("%s=%s: %v (run `make build`)", BinaryEnv, p, err)
		}
		return p
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "otelcol-sre-bin-")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "otelcol-sre")
		cmd := exec.Command("go", "build", "-trimpath", "-o", buildPath, ".")
		cmd.Dir = filepath.Join(RepoRoot(), "distribution")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("building the collector: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	return buildPath
}

// SafeEnv is the process environment for a collector under test: the caller's, plus settings that keep the
// AWS SDK away from the instance-metadata address (dummy static keys, a region, IMDS disabled).
func SafeEnv(extra map[string]string) []string {
	env := append(os.Environ(),
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=AKIDOTELCOLSRETEST",
		"AWS_SECRET_ACCESS_KEY=otelcol-sre-test-secret",
	)
	for k, v := range extra {
		env = append(env, k+"="+v)
	}
	return env
}

// Run runs the binary with args to completion and returns its combined output.
func Run(tb testing.TB, env map[string]string, args ...string) (string, error) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, Binary(tb), args...)
	cmd.Env = SafeEnv(env)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Components runs `bin components` and returns what the binary contains as "kind/type" keys
// ("receivers/otlp", "exporters/prometheus_remote_write"; config providers as "providers/<scheme>").
func Components(tb testing.TB, bin string) map[string]bool {
	tb.Helper()
	out, err := exec.Command(bin, "components").Output()
	if err != nil {
		tb.Fatalf("%s components: %v", bin, err)
	}
	return ParseComponents(tb, bin, out)
}

// ParseComponents reads the output of `components` (of what, for messages) as Components does.
func ParseComponents(tb testing.TB, what string, out []byte) map[string]bool {
	tb.Helper()
	type entry struct {
		Name   string `yaml:"name"`
		Scheme string `yaml:"scheme"`
	}
	var list struct {
		Receivers  []entry `yaml:"receivers"`
		Processors []entry `yaml:"processors"`
		Exporters  []entry `yaml:"exporters"`
		Extensions []entry `yaml:"extensions"`
		Connectors []entry `yaml:"connectors"`
		Providers  []entry `yaml:"providers"`
	}
	if err := yaml.Unmarshal(out, &list); err != nil {
		tb.Fatalf("%s components: output is not the expected YAML: %v\n%s", what, err, out)
	}
	have := map[string]bool{}
	for kind, entries := range map[string][]entry{"receivers": list.Receivers, "processors": list.Processors,
		"exporters": list.Exporters, "extensions": list.Extensions, "connectors": list.Connectors,
		"providers": list.Providers} {
		for _, e := range entries {
			if e.Name != "" {
				have[kind+"/"+e.Name] = true
			}
			if e.Scheme != "" {
				have[kind+"/"+e.Scheme] = true
			}
		}
	}
	return have
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Process is a running collector.
type Process struct {
	cmd    *exec.Cmd
	output *syncBuffer
	done   chan struct{}
	err    error
	killed bool // ended by Kill: Stop then reports no error
}

// Start runs the binary with --config, the feature gates deploy runs it with (FeatureGatesFlag) and env,
// waits until the health_check extension at healthURL answers 200, and registers a cleanup that stops it.
// Output is kept for failure messages. args are passed after those (e.g. FileLogFeatureGatesFlag).
func Start(tb testing.TB, config string, env map[string]string, healthURL string, args ...string) *Process {
	tb.Helper()
	return StartConfigs(tb, []string{config}, env, healthURL, args...)
}

// StartConfigs is Start with several config files, merged in order as the collector merges its --config
// flags (e.g. a shipped deploy/configs fragment, then a test's overrides).
func StartConfigs(tb testing.TB, configs []string, env map[string]string, healthURL string, args ...string) *Process {
	tb.Helper()
	return StartConfigsWrapped(tb, nil, configs, env, healthURL, args...)
}

// StartConfigsWrapped is StartConfigs with the binary run by wrapper: wrapper's words, then the binary's
// path and its arguments (e.g. `unshare -m sh -c '<mounts>; exec "$@"' sh`, to give the collector a
// private mount namespace).
func StartConfigsWrapped(tb testing.TB, wrapper []string, configs []string, env map[string]string, healthURL string, args ...string) *Process {
	tb.Helper()
	p := &Process{output: &syncBuffer{}, done: make(chan struct{})}
	argv := append(append([]string(nil), wrapper...), Binary(tb))
	for _, c := range configs {
		argv = append(argv, "--config", c)
	}
	argv = append(append(argv, FeatureGatesFlag), args...)
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Env = SafeEnv(env)
	p.cmd.Stdout, p.cmd.Stderr = p.output, p.output
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		tb.Fatalf("starting collector: %v", err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	tb.Cleanup(func() {
		if err := p.Stop(30 * time.Second); err != nil {
			tb.Errorf("stopping collector: %v\n%s", err, p.Output())
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-p.done:
			tb.Fatalf("collector exited during start-up: %v\n%s", p.err, p.Output())
		default:
		}
		if resp, err := http.Get(healthURL); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("collector not healthy at %s after 60s\n%s", healthURL, p.Output())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Stop sends SIGINT (what Ctrl-C sends) and waits for a clean exit; it kills the process group on timeout.
// Calling it again after the process ended returns the first result (nil after Kill).
func (p *Process) Stop(timeout time.Duration) error {
	select {
	case <-p.done:
		if p.killed {
			return nil
		}
		return p.err
	default:
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
		return fmt.Errorf("collector did not stop within %s after SIGINT", timeout)
	}
}

// Kill ends the collector with SIGKILL, as an OOM kill or a node failure would.
func (p *Process) Kill() {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
	p.killed = true
}

// Pid is the collector's process id (for /proc measurements in load tests).
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Output is everything the collector printed so far.
func (p *Process) Output() string { return p.output.String() }

// Port formats a port for an environment variable.
func Port(p int) string { return strconv.Itoa(p) }

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
