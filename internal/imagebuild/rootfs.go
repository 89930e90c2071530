// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package imagebuild

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// File is one entry of the image's filesystem: a directory when Name ends in "/", else a regular file.
type File struct {
	Name string
	Mode int64
	Data []byte
}

// CABundlePath is where Go's crypto/x509 (and OpenSSL) look first on Linux.
const CABundlePath = "etc/ssl/certs/ca-certificates.crt"

// ZoneInfoPath is the Go toolchain's time zone database (lib/time/zoneinfo.zip) in the image; the image
// sets ZONEINFO to it, which Go's time.LoadLocation reads first (calendar SLO windows in a time zone).
const ZoneInfoPath = "usr/share/zoneinfo.zip"

// RootFS is the image's whole filesystem: the binary at /<name>, the CA bundle, the time zone database,
// passwd and group naming root and the non-root user, and a world-writable sticky /tmp (for runtimes
// that mount a volume there; the root filesystem itself is meant to be read-only).
func RootFS(name string, binary, caBundle, zoneInfo []byte) []File {
	return []File{
		{Name: "etc/", Mode: 0o755},
		{Name: "etc/group", Mode: 0o644, Data: fmt.Appendf(nil, "root:x:0:\n%s:x:%d:\n", name, GID)},
		{Name: "etc/passwd", Mode: 0o644, Data: fmt.Appendf(nil,
			"root:x:0:0:root:/root:/sbin/nologin\n%s:x:%d:%d:%s:/nonexistent:/sbin/nologin\n", name, UID, GID, name)},
		{Name: "etc/ssl/", Mode: 0o755},
		{Name: "etc/ssl/certs/", Mode: 0o755},
		{Name: CABundlePath, Mode: 0o644, Data: caBundle},
		{Name: name, Mode: 0o755, Data: binary},
		{Name: "tmp/", Mode: 0o1777},
		{Name: "usr/", Mode: 0o755},
		{Name: "usr/share/", Mode: 0o755},
		{Name: ZoneInfoPath, Mode: 0o644, Data: zoneInfo},
	}
}

// Layer returns files as a gzip-compressed tar layer and its diff ID (the digest of the uncompressed tar).
func Layer(files []File, mtime time.Time) (gz []byte, diffID string, err error) {
	var tarBuf bytes.Buffer
	if err := writeTar(&tarBuf, files, mtime); err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256(tarBuf.Bytes())
	var out bytes.Buffer
	zw := gzip.NewWriter(&out) // no name, no mtime in the header: the output depends on the input only
	if _, err := zw.Write(tarBuf.Bytes()); err != nil {
		return nil, "", err
	}
	if err := zw.Close(); err != nil {
		return nil, "", err
	}
	return out.Bytes(), "sha256:" + hex.EncodeToString(sum[:]), nil
}

// Archive writes the OCI layout directory dir as a tar file (the oci-archive format skopeo reads).
func Archive(dir, tarPath string, mtime time.Time) error {
	var files []File
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			files = append(files, File{Name: rel + "/", Mode: 0o755})
			return nil
		}
		b, err := os.ReadFile(path)
		files = append(files, File{Name: rel, Mode: 0o644, Data: b})
		return err
	})
	if err != nil {
		return err
	}
	out, err := os.Create(tarPath)
	if err != nil {
		return err
	}
	err = writeTar(out, files, mtime)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

// writeTar writes files as a tar stream that depends on its input only: entries sorted by name, owned
// by 0:0 without user or group names, every mtime the same, no extended headers.
func writeTar(w io.Writer, files []File, mtime time.Time) error {
	files = slices.Clone(files)
	slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Name, b.Name) })
	tw := tar.NewWriter(w)
	for _, f := range files {
		h := &tar.Header{Name: f.Name, Mode: f.Mode, ModTime: mtime.UTC().Truncate(time.Second), Format: tar.FormatUSTAR}
		if strings.HasSuffix(f.Name, "/") {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.Data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("tar %s: %w", f.Name, err)
		}
		if _, err := tw.Write(f.Data); err != nil {
			return fmt.Errorf("tar %s: %w", f.Name, err)
		}
	}
	return tw.Close()
}
