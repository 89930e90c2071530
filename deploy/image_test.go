// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package deploy_test

import (
	"context"
	"crypto/x509"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/otelcol-sre/otelcol-sre/internal/collectortest"
	"github.com/otelcol-sre/otelcol-sre/internal/imagebuild"
	"github.com/otelcol-sre/otelcol-sre/internal/testenv"
)

// ImageEnv names the OCI layout directory `make image` writes; `make test` sets it.
const ImageEnv = "OTELCOL_SRE_IMAGE"

// image is the OCI layout under test and the tools that read and run it.
type image struct {
	layout, ref         string
	skopeo, umoci, runc string
	labels              map[string]string
	version, revision   string
	confDir, outsidePod string
	calendarSLO         string
	containerComponents map[string]bool
}

func openImage(t *testing.T) *image {
	t.Helper()
	layout := os.Getenv(ImageEnv)
	if layout == "" {
		layout = filepath.Join("..", "bin", "image", "oci")
	}
	b, err := os.ReadFile(filepath.Join(layout, "index.json"))
	if err != nil {
		testenv.Unavailable(t, "no OCI image (%v): run `make image` or set %s", err, ImageEnv)
	}
	testenv.NeedRoot(t, "run the image with runc")
	im := &image{
		layout: layout,
		skopeo: testenv.LookPath(t, "skopeo", "skopeo"),
		umoci:  testenv.LookPath(t, "umoci", "umoci"),
		runc:   testenv.LookPath(t, "runc", "runc"),
	}
	var idx struct {
		Manifests []imagebuild.Descriptor `json:"manifests"`
	}
	if err := json.Unmarshal(b, &idx); err != nil || len(idx.Manifests) != 1 {
		t.Fatalf("%s/index.json: want one image index, got %s (%v)", layout, b, err)
	}
	im.ref = idx.Manifests[0].Annotations[imagebuild.RefName]
	var inspect struct{ Labels map[string]string }
	if err := json.Unmarshal(im.run(t, im.skopeo, "inspect", "oci:"+layout+":"+im.ref), &inspect); err != nil {
		t.Fatal(err)
	}
	im.labels = inspect.Labels
	im.version, im.revision = im.labels["org.opencontainers.image.version"], im.labels["org.opencontainers.image.revision"]
	if im.version == "" || im.revision == "" {
		t.Fatalf("image labels %v: want org.opencontainers.image.version and .revision", im.labels)
	}
	im.confDir, _ = filepath.Abs("configs")
	im.outsidePod = writeOutsidePod(t)
	im.calendarSLO = filepath.Join(filepath.Dir(im.outsidePod), "calendar-slo.yaml")
	if err := os.WriteFile(im.calendarSLO, []byte(calendarSLOConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	return im
}

func (im *image) run(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// unpack copies the image of one platform out of the multi-platform layout with skopeo (as a registry
// client would pick it) and unpacks it into an OCI runtime bundle with umoci; it returns the bundle.
func (im *image) unpack(t *testing.T, arch string) string {
	t.Helper()
	dir := t.TempDir()
	im.run(t, im.skopeo, "copy", "-q", "--override-os", "linux", "--override-arch", arch, "oci:"+im.layout+":"+im.ref, "oci:"+dir+"/image:"+im.ref)
	bundle := filepath.Join(dir, "bundle")
	im.run(t, im.umoci, "unpack", "--image", dir+"/image:"+im.ref, bundle)
	return bundle
}

// The layout holds one index with linux/amd64 and linux/arm64, the archive next to it is the same
// image, and skopeo reads both (what `skopeo copy --all oci-archive:... docker://...` pushes).
func TestImageLayout(t *testing.T) {
	im := openImage(t)
	raw := im.run(t, im.skopeo, "inspect", "--raw", "oci:"+im.layout+":"+im.ref)
	var idx struct {
		MediaType string                  `json:"mediaType"`
		Manifests []imagebuild.Descriptor `json:"manifests"`
	}
	if err := json.Unmarshal(raw, &idx); err != nil {
		t.Fatal(err)
	}
	var platforms []string
	for _, m := range idx.Manifests {
		platforms = append(platforms, m.Platform.OS+"/"+m.Platform.Architecture)
	}
	if idx.MediaType != imagebuild.MediaTypeIndex || !slices.Equal(platforms, []string{"linux/amd64", "linux/arm64"}) {
		t.Errorf("image index %s with %v: want an OCI index of linux/amd64 and linux/arm64", idx.MediaType, platforms)
	}
	archive := filepath.Join(filepath.Dir(im.layout), "otelcol-sre-"+im.version+".oci.tar")
	if fromArchive := im.run(t, im.skopeo, "inspect", "--raw", "oci-archive:"+archive+":"+im.ref); string(fromArchive) != string(raw) {
		t.Errorf("%s holds another index than %s", archive, im.layout)
	}
	for _, m := range idx.Manifests {
		sbom := filepath.Join(filepath.Dir(im.layout), fmt.Sprintf("otelcol-sre-%s.linux-%s.cdx.json", im.version, m.Platform.Architecture))
		var bom imagebuild.BOM
		if b, err := os.ReadFile(sbom); err != nil || json.Unmarshal(b, &bom) != nil || len(bom.Components) < 100 {
			t.Errorf("SBOM %s: missing, not CycloneDX JSON, or without the binary's modules (%v)", sbom, err)
		}
	}
}

// The amd64 image runs under runc as its manifests assume: uid 10001, read-only root filesystem, no
// capabilities, no privilege escalation, a network namespace with only loopback, the configs mounted
// read-only at /conf. It lists its components, reports the release and revision, validates every config
// set the manifests run, and with the local config serves the health check and /metrics.
func TestImageRunsUnderRunc(t *testing.T) {
	im := openImage(t)
	if runtime.GOARCH != "amd64" {
		t.Skipf("runs the linux/amd64 image natively; this machine is %s", runtime.GOARCH)
	}
	bundle := im.unpack(t, "amd64")
	dataDir := t.TempDir()
	if err := os.Chown(dataDir, imagebuild.UID, imagebuild.GID); err != nil {
		t.Fatal(err)
	}
	if ca, err := os.ReadFile(filepath.Join(bundle, "rootfs", imagebuild.CABundlePath)); err != nil || !x509.NewCertPool().AppendCertsFromPEM(ca) {
		t.Errorf("/%s in the image: no PEM certificates (%v)", imagebuild.CABundlePath, err)
	}
	env := podEnv(t, "/var/lib/otelcol-sre")
	c := newContainer(t, im, bundle, dataDir)

	if out := c.run(t, env, "--version"); !strings.Contains(out, "otelcol-sre version "+im.version+"+"+im.revision) {
		t.Errorf("--version printed %q: want the image's version %s and revision %s", out, im.version, im.revision)
	}
	im.containerComponents = collectortest.ParseComponents(t, "the amd64 image", []byte(c.run(t, env, "components")))
	for _, set := range configSets(t) {
		t.Run("validate "+strings.Join(set, "+"), func(t *testing.T) {
			requireComponents(t, im.containerComponents, set)
			c.run(t, append(slices.Clone(env), secretEnvPlaceholders(t, set)...), validateArgs(t, set, "/conf", "/validate/"+filepath.Base(im.outsidePod))...)
		})
	}

	// Calendar SLO windows in a time zone load it from the image's zoneinfo.zip (ZONEINFO in the image
	// config); without that variable the same config fails, so the check is real.
	t.Run("time zones", func(t *testing.T) {
		args := []string{"validate", "--config=/validate/" + filepath.Base(im.calendarSLO)}
		c.run(t, env, args...)
		if out, err := c.exec(t, env, args...); err == nil || !strings.Contains(out, "time_zone") {
			t.Errorf("without ZONEINFO, validate of a Europe/Berlin calendar window: %v\n%s\nwant a time_zone error", err, out)
		}
	})

	t.Run("serves local.yaml", func(t *testing.T) {
		id := c.start(t, env, "--config=/conf/local.yaml")
		pid := c.pid(t, id)
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"Uid:\t10001\t10001\t10001\t10001", "Gid:\t10001\t10001\t10001\t10001",
			"CapEff:\t0000000000000000", "CapPrm:\t0000000000000000", "CapBnd:\t0000000000000000", "NoNewPrivs:\t1"} {
			if !strings.Contains(string(status), want+"\n") {
				t.Errorf("the collector's /proc/%d/status lacks %q:\n%s", pid, want, status)
			}
		}
		if mi, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", pid)); err != nil || !rootIsReadOnly(string(mi)) {
			t.Errorf("the container's root filesystem is not mounted read-only (%v):\n%s", err, mi)
		}
		client := netnsClient(t, pid)
		get := func(url string) (int, string, error) {
			resp, err := client.Get(url)
			if err != nil {
				return 0, "", err
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b), err
		}
		// Served once the collector is up (health check) and, for the exporter, once host_metrics has
		// scraped (10 s interval) and the batch is out.
		for _, w := range []struct{ url, want string }{
			{"http://127.0.0.1:13133/", `"status":"Server available"`},
			{"http://127.0.0.1:8888/metrics", `service_version="` + im.version + "+" + im.revision + `"`},
			{"http://127.0.0.1:8889/metrics", "# TYPE system_cpu_time"},
		} {
			deadline := time.Now().Add(60 * time.Second)
			for {
				code, body, err := get(w.url)
				if err == nil && code == http.StatusOK && strings.Contains(body, w.want) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("GET %s (inside the container's network namespace) never returned 200 with %q; last: %d %v\n%.2000s\ncollector output:\n%s",
						w.url, w.want, code, err, body, c.output(id))
				}
				time.Sleep(250 * time.Millisecond)
			}
		}
	})

	t.Run("arm64 under qemu", func(t *testing.T) {
		qemu := testenv.LookPath(t, "qemu-aarch64-static", "qemu-user-static")
		bin := filepath.Join(im.unpack(t, "arm64"), "rootfs", "otelcol-sre")
		f, err := elf.Open(bin)
		if err != nil {
			t.Fatal(err)
		}
		machine := f.Machine
		f.Close()
		if machine != elf.EM_AARCH64 {
			t.Fatalf("the linux/arm64 image's binary is %v", machine)
		}
		arm := func(env []string, args ...string) string {
			t.Helper()
			cmd := exec.Command(qemu, append([]string{bin}, args...)...)
			cmd.Env = env
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("qemu-aarch64-static otelcol-sre %s: %v\n%s", strings.Join(args, " "), err, out)
			}
			return string(out)
		}
		armEnv := podEnv(t, dataDir)
		if out := arm(armEnv, "--version"); !strings.Contains(out, im.version+"+"+im.revision) {
			t.Errorf("arm64 --version printed %q: want %s+%s", out, im.version, im.revision)
		}
		if got := collectortest.ParseComponents(t, "the arm64 image", []byte(arm(armEnv, "components"))); !maps.Equal(got, im.containerComponents) {
			t.Errorf("the arm64 binary's components differ from the amd64 image's")
		}
		for _, set := range configSets(t) {
			arm(append(slices.Clone(armEnv), secretEnvPlaceholders(t, set)...), validateArgs(t, set, im.confDir, im.outsidePod)...)
		}
	})
}

// calendarSLOConfig has an SLO with a calendar window in a time zone.
const calendarSLOConfig = `receivers:
  otlp:
    protocols: {grpc: {endpoint: "127.0.0.1:4317"}}
processors:
  slo:
    slos:
      - name: checkout-latency
        service: checkout
        objective: {target: 0.99}
        time_window: {duration: 1M, calendar: {time_zone: Europe/Berlin}}
        indicator: {latency: {metric: http.server.duration, threshold: 10ms}}
exporters:
  debug: {}
service:
  pipelines:
    metrics: {receivers: [otlp], processors: [slo], exporters: [debug]}
`

// rootIsReadOnly reports whether the mount at "/" in a /proc/<pid>/mountinfo is mounted ro.
func rootIsReadOnly(mountinfo string) bool {
	for _, line := range strings.Split(mountinfo, "\n") {
		f := strings.Fields(line)
		if len(f) > 5 && f[4] == "/" {
			return slices.Contains(strings.Split(f[5], ","), "ro")
		}
	}
	return false
}

// container runs processes of one unpacked bundle with runc, each with its own container id.
type container struct {
	im     *image
	bundle string
	spec   map[string]any
	// imageEnv is the image config's Env (umoci put it into the bundle); every process gets it first,
	// as Kubernetes does.
	imageEnv []string
	outputs  map[string]*strings.Builder
	n        int
}

// newContainer hardens the bundle's runtime config that umoci derived from the image config: the
// image's user (asserted to be 10001), no capabilities at all, no new privileges, read-only root, the
// configs read-only at /conf, dataDir read-write at /var/lib/otelcol-sre (the manifests' volume), and
// the /etc/hosts every container runtime and the kubelet provide.
func newContainer(t *testing.T, im *image, bundle, dataDir string) *container {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var spec map[string]any
	if err := json.Unmarshal(b, &spec); err != nil {
		t.Fatal(err)
	}
	process := spec["process"].(map[string]any)
	if u := process["user"].(map[string]any); u["uid"] != float64(imagebuild.UID) || u["gid"] != float64(imagebuild.GID) {
		t.Fatalf("umoci derived user %v from the image config: want %d:%d", u, imagebuild.UID, imagebuild.GID)
	}
	var imageEnv []string
	for _, e := range process["env"].([]any) {
		imageEnv = append(imageEnv, e.(string))
	}
	process["terminal"] = false
	process["noNewPrivileges"] = true
	process["capabilities"] = map[string]any{}
	spec["root"] = map[string]any{"path": "rootfs", "readonly": true}
	hosts := filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(hosts, []byte("127.0.0.1\tlocalhost\n::1\tlocalhost\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bind := func(src, dst string, ro bool) map[string]any {
		opts := []string{"rbind", "nosuid", "nodev"}
		if ro {
			opts = append(opts, "ro")
		}
		return map[string]any{"type": "bind", "source": src, "destination": dst, "options": opts}
	}
	spec["mounts"] = append(spec["mounts"].([]any),
		bind(im.confDir, "/conf", true),
		bind(filepath.Dir(im.outsidePod), "/validate", true),
		bind(dataDir, "/var/lib/otelcol-sre", false),
		bind(hosts, "/etc/hosts", true),
	)
	return &container{im: im, bundle: bundle, spec: spec, imageEnv: imageEnv, outputs: map[string]*strings.Builder{}}
}

// configure writes config.json for one process: the image's entrypoint with args, and env (complete).
func (c *container) configure(t *testing.T, env []string, args []string) string {
	t.Helper()
	c.n++
	id := fmt.Sprintf("otelcol-sre-test-%d-%d", os.Getpid(), c.n)
	process := c.spec["process"].(map[string]any)
	process["args"] = append([]any{"/otelcol-sre"}, anySlice(args)...)
	process["env"] = anySlice(env)
	c.spec["hostname"] = id[:min(len(id), 63)]
	b, err := json.Marshal(c.spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(c.bundle, "config.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	return id
}

func anySlice(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// run runs the collector with args and the image's env plus env in a new container to completion and
// returns its output.
func (c *container) run(t *testing.T, env []string, args ...string) string {
	t.Helper()
	out, err := c.exec(t, append(slices.Clone(c.imageEnv), env...), args...)
	if err != nil {
		t.Fatalf("runc run otelcol-sre %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// exec runs the collector with args and exactly env in a new container to completion.
func (c *container) exec(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	id := c.configure(t, env, args)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, c.im.runc, "run", "--bundle", c.bundle, id).CombinedOutput()
	exec.Command(c.im.runc, "delete", "--force", id).Run() //nolint:errcheck // gone already when it exited
	return string(out), err
}

// start starts the collector with args in a new container and stops it when t ends.
func (c *container) start(t *testing.T, env []string, args ...string) string {
	t.Helper()
	id := c.configure(t, append(slices.Clone(c.imageEnv), env...), args)
	out := &strings.Builder{}
	c.outputs[id] = out
	cmd := exec.Command(c.im.runc, "run", "--bundle", c.bundle, id)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		exec.Command(c.im.runc, "kill", id, "TERM").Run() //nolint:errcheck // it may have exited
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Errorf("the collector did not stop within 30 s of SIGTERM")
		}
		if err := exec.Command(c.im.runc, "delete", "--force", id).Run(); err != nil {
			t.Errorf("runc delete %s: %v", id, err)
		}
	})
	return id
}

func (c *container) output(id string) string { return c.outputs[id].String() }

// pid waits until runc reports the container running and returns its init process id (host pid).
func (c *container) pid(t *testing.T, id string) int {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := exec.Command(c.im.runc, "state", id).Output()
		var st struct {
			Status string `json:"status"`
			Pid    int    `json:"pid"`
		}
		if err == nil && json.Unmarshal(out, &st) == nil && st.Status == "running" && st.Pid > 0 {
			return st.Pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("container %s not running after 30 s (%v %s); output:\n%s", id, err, out, c.output(id))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// netnsClient is an HTTP client whose connections are made inside the network namespace of pid: a
// locked OS thread enters the namespace, creates the socket and then ends with the goroutine (a thread
// in another namespace is never returned to the scheduler).
func netnsClient(t *testing.T, pid int) *http.Client {
	t.Helper()
	nsPath := fmt.Sprintf("/proc/%d/ns/net", pid)
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		type result struct {
			conn net.Conn
			err  error
		}
		ch := make(chan result, 1)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread exits with this goroutine
			fd, err := unix.Open(nsPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				ch <- result{err: fmt.Errorf("open %s: %w", nsPath, err)}
				return
			}
			defer unix.Close(fd)
			if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
				ch <- result{err: fmt.Errorf("setns %s: %w", nsPath, err)}
				return
			}
			conn, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, addr)
			ch <- result{conn, err}
		}()
		r := <-ch
		return r.conn, r.err
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true}}
}
