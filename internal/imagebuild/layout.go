// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

// Package imagebuild writes the otelcol-sre OCI image without a container engine or a base image: one
// layer per platform holding the static binary and a minimal filesystem (CA bundle, passwd/group for the
// non-root uid, /tmp), an image config, a manifest per platform and an image index, as an OCI image
// layout (https://github.com/opencontainers/image-spec/blob/main/image-layout.md) that skopeo, crane or
// oras can push. Everything is a function of the inputs: fixed timestamps, sorted tar entries, no
// owner names, deterministic gzip — building twice from the same binaries gives the same digest.
package imagebuild

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// OCI media types (image-spec v1.1).
const (
	MediaTypeIndex    = "application/vnd.oci.image.index.v1+json"
	MediaTypeManifest = "application/vnd.oci.image.manifest.v1+json"
	MediaTypeConfig   = "application/vnd.oci.image.config.v1+json"
	MediaTypeLayer    = "application/vnd.oci.image.layer.v1.tar+gzip"
)

// The user the image runs as; the Kubernetes manifests set the same numeric ids.
const (
	UID = 10001
	GID = 10001
)

// Platform is one binary of the image: linux/amd64, linux/arm64.
type Platform struct {
	OS, Architecture string
	// Binary is the path of the static collector binary for this platform.
	Binary string
}

func (p Platform) String() string { return p.OS + "/" + p.Architecture }

// Options is everything the image is built from.
type Options struct {
	// Name is the binary's name in the image (/<Name>, the entrypoint) and the image title.
	Name        string
	Description string
	// Version is the release (ocb's dist.version); Revision the git commit it was built from.
	Version, Revision string
	// Source is the repository URL (org.opencontainers.image.source); Licenses an SPDX expression.
	Source, Licenses string
	// Created stamps every timestamp: file mtimes, the config's created, labels, the SBOM.
	Created time.Time
	// CABundle is the path of the PEM bundle installed as /etc/ssl/certs/ca-certificates.crt.
	CABundle string
	// ZoneInfo is the path of Go's zoneinfo.zip (GOROOT/lib/time), installed as /usr/share/zoneinfo.zip.
	ZoneInfo string
	// ExposedPorts as "4317/tcp".
	ExposedPorts []string
	Platforms    []Platform
}

// Descriptor is an OCI content descriptor.
type Descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Platform    *DescPlatform     `json:"platform,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// DescPlatform is the platform of a manifest in an index.
type DescPlatform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
}

type index struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType"`
	Manifests     []Descriptor      `json:"manifests"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}

type manifest struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType"`
	Config        Descriptor        `json:"config"`
	Layers        []Descriptor      `json:"layers"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}

// ImageConfig is the OCI image configuration (only the fields this image sets).
type ImageConfig struct {
	Created      string        `json:"created"`
	Architecture string        `json:"architecture"`
	OS           string        `json:"os"`
	Config       RuntimeConfig `json:"config"`
	RootFS       struct {
		Type    string   `json:"type"`
		DiffIDs []string `json:"diff_ids"`
	} `json:"rootfs"`
	History []struct {
		Created   string `json:"created"`
		CreatedBy string `json:"created_by"`
	} `json:"history"`
}

// RuntimeConfig is the "config" member of the image configuration.
type RuntimeConfig struct {
	User         string              `json:"User"`
	Env          []string            `json:"Env"`
	ExposedPorts map[string]struct{} `json:"ExposedPorts,omitempty"`
	Entrypoint   []string            `json:"Entrypoint"`
	WorkingDir   string              `json:"WorkingDir"`
	Labels       map[string]string   `json:"Labels"`
}

// Result describes what Write wrote.
type Result struct {
	// Index is the descriptor of the multi-platform image index (what a registry tag points to).
	Index     Descriptor
	Manifests []PlatformManifest
}

// PlatformManifest is one platform's image.
type PlatformManifest struct {
	Platform Platform
	Manifest Descriptor
	// Size is what a node pulls for this platform: manifest + config + layer (compressed).
	Size int64
}

// RefName is the index.json annotation that names the image in the layout (oci:<dir>:<ref>).
const RefName = "org.opencontainers.image.ref.name"

// Write builds the image into the OCI layout directory dir, which must not exist or be empty of
// anything but a previous layout (it is replaced).
func Write(dir string, o Options) (Result, error) {
	if err := o.validate(); err != nil {
		return Result{}, err
	}
	if err := os.RemoveAll(dir); err != nil {
		return Result{}, err
	}
	blobs := filepath.Join(dir, "blobs", "sha256")
	if err := os.MkdirAll(blobs, 0o755); err != nil {
		return Result{}, err
	}
	ca, err := os.ReadFile(o.CABundle)
	if err != nil {
		return Result{}, fmt.Errorf("reading the CA bundle: %w", err)
	}
	zoneInfo, err := os.ReadFile(o.ZoneInfo)
	if err != nil {
		return Result{}, fmt.Errorf("reading the time zone database: %w", err)
	}
	labels := o.labels()
	var res Result
	for _, p := range o.Platforms {
		pm, err := writePlatform(blobs, o, p, ca, zoneInfo, labels)
		if err != nil {
			return Result{}, fmt.Errorf("%s: %w", p, err)
		}
		res.Manifests = append(res.Manifests, pm)
	}
	idx := index{SchemaVersion: 2, MediaType: MediaTypeIndex, Annotations: labels}
	for _, pm := range res.Manifests {
		idx.Manifests = append(idx.Manifests, pm.Manifest)
	}
	if res.Index, err = writeJSONBlob(blobs, MediaTypeIndex, idx); err != nil {
		return Result{}, err
	}
	top := res.Index
	top.Annotations = map[string]string{RefName: o.Version}
	if err := writeJSON(filepath.Join(dir, "index.json"), index{SchemaVersion: 2, MediaType: MediaTypeIndex, Manifests: []Descriptor{top}}); err != nil {
		return Result{}, err
	}
	return res, writeJSON(filepath.Join(dir, "oci-layout"), map[string]string{"imageLayoutVersion": "1.0.0"})
}

func writePlatform(blobs string, o Options, p Platform, ca, zoneInfo []byte, labels map[string]string) (PlatformManifest, error) {
	bin, err := os.ReadFile(p.Binary)
	if err != nil {
		return PlatformManifest{}, err
	}
	layer, diffID, err := Layer(RootFS(o.Name, bin, ca, zoneInfo), o.Created)
	if err != nil {
		return PlatformManifest{}, err
	}
	layerDesc, err := writeBlob(blobs, MediaTypeLayer, layer)
	if err != nil {
		return PlatformManifest{}, err
	}
	created := o.Created.UTC().Format(time.RFC3339)
	cfg := ImageConfig{Created: created, Architecture: p.Architecture, OS: p.OS}
	cfg.Config = RuntimeConfig{
		User:       fmt.Sprintf("%d:%d", UID, GID),
		Env:        []string{"ZONEINFO=/" + ZoneInfoPath},
		Entrypoint: []string{"/" + o.Name},
		WorkingDir: "/",
		Labels:     labels,
	}
	if len(o.ExposedPorts) > 0 {
		cfg.Config.ExposedPorts = map[string]struct{}{}
		for _, port := range o.ExposedPorts {
			cfg.Config.ExposedPorts[port] = struct{}{}
		}
	}
	cfg.RootFS.Type = "layers"
	cfg.RootFS.DiffIDs = []string{diffID}
	cfg.History = append(cfg.History, struct {
		Created   string `json:"created"`
		CreatedBy string `json:"created_by"`
	}{created, "otelcol-sre imagebuild: /" + o.Name + " (" + p.String() + "), CA bundle, zoneinfo.zip, passwd/group, /tmp"})
	cfgDesc, err := writeJSONBlob(blobs, MediaTypeConfig, cfg)
	if err != nil {
		return PlatformManifest{}, err
	}
	m := manifest{SchemaVersion: 2, MediaType: MediaTypeManifest, Config: cfgDesc, Layers: []Descriptor{layerDesc}, Annotations: labels}
	mDesc, err := writeJSONBlob(blobs, MediaTypeManifest, m)
	if err != nil {
		return PlatformManifest{}, err
	}
	mDesc.Platform = &DescPlatform{Architecture: p.Architecture, OS: p.OS}
	return PlatformManifest{Platform: p, Manifest: mDesc, Size: mDesc.Size + cfgDesc.Size + layerDesc.Size}, nil
}

// labels are the image's org.opencontainers.image.* annotations, also its config labels.
func (o Options) labels() map[string]string {
	l := map[string]string{
		"org.opencontainers.image.title":    o.Name,
		"org.opencontainers.image.version":  o.Version,
		"org.opencontainers.image.revision": o.Revision,
		"org.opencontainers.image.created":  o.Created.UTC().Format(time.RFC3339),
	}
	for k, v := range map[string]string{
		"org.opencontainers.image.description": o.Description,
		"org.opencontainers.image.source":      o.Source,
		"org.opencontainers.image.licenses":    o.Licenses,
	} {
		if v != "" {
			l[k] = v
		}
	}
	return l
}

func (o Options) validate() error {
	var missing []string
	for name, v := range map[string]string{"name": o.Name, "version": o.Version, "revision": o.Revision, "ca bundle": o.CABundle, "zoneinfo": o.ZoneInfo} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return fmt.Errorf("image options: %s must be set", strings.Join(missing, ", "))
	}
	if len(o.Platforms) == 0 {
		return fmt.Errorf("image options: at least one platform binary is needed")
	}
	for _, p := range o.Platforms {
		if p.OS == "" || p.Architecture == "" || p.Binary == "" {
			return fmt.Errorf("image options: platform %+v: os, architecture and binary must be set", p)
		}
	}
	return nil
}

func writeJSONBlob(blobs, mediaType string, v any) (Descriptor, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return Descriptor{}, err
	}
	return writeBlob(blobs, mediaType, b)
}

func writeBlob(blobs, mediaType string, b []byte) (Descriptor, error) {
	sum := sha256.Sum256(b)
	h := hex.EncodeToString(sum[:])
	if err := os.WriteFile(filepath.Join(blobs, h), b, 0o644); err != nil {
		return Descriptor{}, err
	}
	return Descriptor{MediaType: mediaType, Digest: "sha256:" + h, Size: int64(len(b))}, nil
}

func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
