// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package imagebuild

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testOptions builds an image for two platforms of the binary exe (layout tests need no real binary;
// the SBOM test passes this test's own, which has Go build info).
func testOptions(t *testing.T, exe string) Options {
	t.Helper()
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(ca, []byte("-----BEGIN CERTIFICATE-----\ntest\n-----END CERTIFICATE-----\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	zoneInfo := filepath.Join(dir, "zoneinfo.zip")
	if err := os.WriteFile(zoneInfo, []byte("PK zoneinfo"), 0o644); err != nil {
		t.Fatal(err)
	}
	if exe == "" {
		exe = filepath.Join(dir, "otelcol-sre")
		if err := os.WriteFile(exe, bytes.Repeat([]byte("\x7fELF binary "), 1000), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return Options{
		Name: "otelcol-sre", Description: "test", Version: "0.1.0", Revision: "0123456789abcdef0123456789abcdef01234567",
		Source: "https://example.com/repo", Licenses: "Apache-2.0", Created: time.Unix(1700000000, 0), CABundle: ca, ZoneInfo: zoneInfo,
		ExposedPorts: []string{"4317/tcp"},
		Platforms:    []Platform{{"linux", "amd64", exe}, {"linux", "arm64", exe}},
	}
}

func readBlob(t *testing.T, dir, digest string, v any) []byte {
	t.Helper()
	hexDigest, ok := strings.CutPrefix(digest, "sha256:")
	if !ok {
		t.Fatalf("digest %q is not sha256", digest)
	}
	b, err := os.ReadFile(filepath.Join(dir, "blobs", "sha256", hexDigest))
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != hexDigest {
		t.Fatalf("blob %s has digest %x", digest, sum)
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("blob %s: %v", digest, err)
		}
	}
	return b
}

// Building twice from the same inputs gives the same bytes (the layout and its archive); a different
// commit time gives a different digest (the time is in the image, not the build machine's clock).
func TestWriteIsReproducible(t *testing.T) {
	o := testOptions(t, "")
	build := func(o Options) (Result, []byte) {
		dir := t.TempDir()
		res, err := Write(filepath.Join(dir, "oci"), o)
		if err != nil {
			t.Fatal(err)
		}
		if err := Archive(filepath.Join(dir, "oci"), filepath.Join(dir, "image.tar"), o.Created); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(dir, "image.tar"))
		if err != nil {
			t.Fatal(err)
		}
		return res, b
	}
	r1, a1 := build(o)
	r2, a2 := build(o)
	if r1.Index.Digest != r2.Index.Digest || !bytes.Equal(a1, a2) {
		t.Errorf("two builds differ: index %s vs %s, archives equal %v", r1.Index.Digest, r2.Index.Digest, bytes.Equal(a1, a2))
	}
	o.Created = o.Created.Add(time.Second)
	if r3, _ := build(o); r3.Index.Digest == r1.Index.Digest {
		t.Error("a different SOURCE_DATE_EPOCH gave the same digest")
	}
}

// The layout is what the OCI image spec says: index.json → multi-platform index → one manifest per
// platform → config whose diff_id is the uncompressed layer; the layer holds exactly the minimal
// filesystem, owned by root, with the commit's mtime; labels name version and revision.
func TestWriteLayout(t *testing.T) {
	o := testOptions(t, "")
	dir := filepath.Join(t.TempDir(), "oci")
	res, err := Write(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	var top index
	b, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &top); err != nil {
		t.Fatal(err)
	}
	if len(top.Manifests) != 1 || top.Manifests[0].Digest != res.Index.Digest || top.Manifests[0].Annotations[RefName] != "0.1.0" {
		t.Fatalf("index.json = %s: want one index descriptor %s named 0.1.0", b, res.Index.Digest)
	}
	var idx index
	readBlob(t, dir, res.Index.Digest, &idx)
	if idx.MediaType != MediaTypeIndex || len(idx.Manifests) != 2 {
		t.Fatalf("image index: %+v", idx)
	}
	bin, _ := os.ReadFile(o.Platforms[0].Binary)
	ca, _ := os.ReadFile(o.CABundle)
	zoneInfo, _ := os.ReadFile(o.ZoneInfo)
	for i, d := range idx.Manifests {
		p := o.Platforms[i]
		if d.Platform == nil || d.Platform.OS != p.OS || d.Platform.Architecture != p.Architecture {
			t.Errorf("manifest %d platform %+v, want %s", i, d.Platform, p)
		}
		var m manifest
		readBlob(t, dir, d.Digest, &m)
		var cfg ImageConfig
		readBlob(t, dir, m.Config.Digest, &cfg)
		if cfg.Architecture != p.Architecture || cfg.OS != p.OS || cfg.Created != "2023-11-14T22:13:20Z" {
			t.Errorf("%s config: %s/%s created %s", p, cfg.OS, cfg.Architecture, cfg.Created)
		}
		if cfg.Config.User != "10001:10001" || strings.Join(cfg.Config.Entrypoint, " ") != "/otelcol-sre" || strings.Join(cfg.Config.Env, " ") != "ZONEINFO=/usr/share/zoneinfo.zip" {
			t.Errorf("%s runs %v as %q with %v: want /otelcol-sre as 10001:10001 with ZONEINFO", p, cfg.Config.Entrypoint, cfg.Config.User, cfg.Config.Env)
		}
		for k, want := range map[string]string{
			"org.opencontainers.image.version": "0.1.0", "org.opencontainers.image.revision": o.Revision,
			"org.opencontainers.image.created": "2023-11-14T22:13:20Z", "org.opencontainers.image.source": o.Source,
		} {
			if cfg.Config.Labels[k] != want || m.Annotations[k] != want || idx.Annotations[k] != want {
				t.Errorf("%s: %s label %q, manifest annotation %q, index annotation %q; want %q", p, k, cfg.Config.Labels[k], m.Annotations[k], idx.Annotations[k], want)
			}
		}
		if len(m.Layers) != 1 || m.Layers[0].MediaType != MediaTypeLayer {
			t.Fatalf("%s layers %+v", p, m.Layers)
		}
		gz := readBlob(t, dir, m.Layers[0].Digest, nil)
		zr, err := gzip.NewReader(bytes.NewReader(gz))
		if err != nil {
			t.Fatal(err)
		}
		raw, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		if sum := sha256.Sum256(raw); cfg.RootFS.DiffIDs[0] != "sha256:"+hex.EncodeToString(sum[:]) {
			t.Errorf("%s diff_id %s is not the uncompressed layer's digest", p, cfg.RootFS.DiffIDs)
		}
		checkLayer(t, raw, o.Created, map[string]struct {
			mode int64
			data []byte
		}{
			"etc/": {0o755, nil}, "etc/group": {0o644, []byte("root:x:0:\notelcol-sre:x:10001:\n")},
			"etc/passwd": {0o644, []byte("root:x:0:0:root:/root:/sbin/nologin\notelcol-sre:x:10001:10001:otelcol-sre:/nonexistent:/sbin/nologin\n")},
			"etc/ssl/":   {0o755, nil}, "etc/ssl/certs/": {0o755, nil}, "etc/ssl/certs/ca-certificates.crt": {0o644, ca},
			"otelcol-sre": {0o755, bin}, "tmp/": {0o1777, nil},
			"usr/": {0o755, nil}, "usr/share/": {0o755, nil}, "usr/share/zoneinfo.zip": {0o644, zoneInfo},
		})
	}
}

func checkLayer(t *testing.T, raw []byte, mtime time.Time, want map[string]struct {
	mode int64
	data []byte
}) {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(raw))
	prev, n := "", 0
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
		w, ok := want[h.Name]
		data, _ := io.ReadAll(tr)
		switch {
		case !ok:
			t.Errorf("unexpected entry %s", h.Name)
		case h.Name < prev:
			t.Errorf("entry %s after %s: not sorted", h.Name, prev)
		case h.Mode != w.mode || h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "":
			t.Errorf("%s: mode %o owner %d:%d (%q:%q), want mode %o owner 0:0 unnamed", h.Name, h.Mode, h.Uid, h.Gid, h.Uname, h.Gname, w.mode)
		case !h.ModTime.Equal(mtime):
			t.Errorf("%s: mtime %s, want %s", h.Name, h.ModTime, mtime)
		case !bytes.Equal(data, w.data):
			t.Errorf("%s: content differs from its source (%d bytes, want %d)", h.Name, len(data), len(w.data))
		}
		prev = h.Name
	}
	if n != len(want) {
		t.Errorf("layer has %d entries, want %d", n, len(want))
	}
}

func TestOptionsValidate(t *testing.T) {
	o := testOptions(t, "")
	o.Version, o.Revision = "", ""
	if _, err := Write(t.TempDir(), o); err == nil || !strings.Contains(err.Error(), "revision, version must be set") {
		t.Errorf("Write without version and revision: %v", err)
	}
	o = testOptions(t, "")
	o.Platforms = []Platform{{OS: "linux", Binary: "x"}}
	if _, err := Write(t.TempDir(), o); err == nil || !strings.Contains(err.Error(), "architecture") {
		t.Errorf("Write with a platform without architecture: %v", err)
	}
}
