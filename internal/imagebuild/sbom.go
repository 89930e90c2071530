// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package imagebuild

import (
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"runtime/debug"
	"strings"
	"time"
)

// CycloneDX 1.5 JSON, the subset this SBOM uses (https://cyclonedx.org/docs/1.5/json/).
type (
	BOM struct {
		BOMFormat    string       `json:"bomFormat"`
		SpecVersion  string       `json:"specVersion"`
		SerialNumber string       `json:"serialNumber"`
		Version      int          `json:"version"`
		Metadata     BOMMetadata  `json:"metadata"`
		Components   []Component  `json:"components"`
		Dependencies []Dependency `json:"dependencies"`
	}
	BOMMetadata struct {
		Timestamp string    `json:"timestamp"`
		Tools     BOMTools  `json:"tools"`
		Component Component `json:"component"`
	}
	BOMTools struct {
		Components []Component `json:"components"`
	}
	Component struct {
		Type       string     `json:"type"`
		BOMRef     string     `json:"bom-ref,omitempty"`
		Name       string     `json:"name"`
		Version    string     `json:"version,omitempty"`
		PURL       string     `json:"purl,omitempty"`
		Hashes     []Hash     `json:"hashes,omitempty"`
		Properties []Property `json:"properties,omitempty"`
	}
	Hash struct {
		Alg     string `json:"alg"`
		Content string `json:"content"`
	}
	Property struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	}
	Dependency struct {
		Ref       string   `json:"ref"`
		DependsOn []string `json:"dependsOn"`
	}
)

// DebianPackage is a Debian package whose files are in the image (the CA bundle's ca-certificates).
type DebianPackage struct{ Name, Version string }

// SBOM describes the image of one platform: the binary (from its Go build info, as `go version -m`
// prints it: the main module, every module linked in with its go.sum hash, the toolchain and the build
// settings) and the Debian package the CA bundle comes from.
func SBOM(o Options, p Platform, ca DebianPackage) (BOM, error) {
	bi, err := buildinfo.ReadFile(p.Binary)
	if err != nil {
		return BOM{}, fmt.Errorf("reading the Go build info of %s: %w", p.Binary, err)
	}
	bin, err := os.ReadFile(p.Binary)
	if err != nil {
		return BOM{}, err
	}
	sum := sha256.Sum256(bin)
	main := Component{
		Type: "application", Name: o.Name, Version: o.Version + "+" + o.Revision,
		PURL:   purl(bi.Main.Path, o.Version) + "?" + url.Values{"arch": {p.Architecture}, "os": {p.OS}}.Encode(),
		Hashes: []Hash{{Alg: "SHA-256", Content: hex.EncodeToString(sum[:])}},
		Properties: []Property{
			{Name: "go:module", Value: bi.Main.Path},
			{Name: "go:toolchain", Value: bi.GoVersion},
		},
	}
	main.BOMRef = main.PURL
	for _, s := range bi.Settings {
		main.Properties = append(main.Properties, Property{Name: "go:build:" + s.Key, Value: s.Value})
	}
	deps := Dependency{Ref: main.BOMRef}
	var comps []Component
	for _, m := range bi.Deps {
		c := moduleComponent(m)
		comps = append(comps, c)
		deps.DependsOn = append(deps.DependsOn, c.BOMRef)
	}
	stdlib := Component{Type: "library", Name: "stdlib", Version: bi.GoVersion, PURL: purl("stdlib", bi.GoVersion)}
	stdlib.BOMRef = stdlib.PURL
	comps = append(comps, stdlib)
	deps.DependsOn = append(deps.DependsOn, stdlib.BOMRef)
	if ca.Name != "" {
		caData, err := os.ReadFile(o.CABundle)
		if err != nil {
			return BOM{}, err
		}
		caSum := sha256.Sum256(caData)
		c := Component{
			Type: "data", Name: ca.Name, Version: ca.Version,
			PURL:       "pkg:deb/debian/" + ca.Name + "@" + url.PathEscape(ca.Version) + "?arch=all",
			Hashes:     []Hash{{Alg: "SHA-256", Content: hex.EncodeToString(caSum[:])}},
			Properties: []Property{{Name: "image:path", Value: "/" + CABundlePath}},
		}
		c.BOMRef = c.PURL
		comps = append(comps, c)
	}
	return BOM{
		BOMFormat: "CycloneDX", SpecVersion: "1.5", Version: 1,
		// A UUID derived from the binary, so the same build gives the same document.
		SerialNumber: "urn:uuid:" + uuidFrom(sum),
		Metadata: BOMMetadata{
			Timestamp: o.Created.UTC().Format(time.RFC3339),
			Tools:     BOMTools{Components: []Component{{Type: "application", Name: "otelcol-sre imagebuild"}}},
			Component: main,
		},
		Components:   comps,
		Dependencies: []Dependency{deps},
	}, nil
}

// moduleComponent is a linked Go module; a replaced module is described by what replaced it (a local
// path replacement, such as this repository's own module, has no version: "(devel)").
func moduleComponent(m *debug.Module) Component {
	c := Component{Type: "library", Name: m.Path, Version: m.Version}
	sum := m.Sum
	if r := m.Replace; r != nil {
		c.Properties = append(c.Properties, Property{Name: "go:replaced-by", Value: strings.TrimSpace(r.Path + " " + r.Version)})
		c.Version, sum = r.Version, r.Sum
		if r.Version == "" {
			c.Version = "(devel)"
		}
	}
	if sum != "" {
		c.Properties = append(c.Properties, Property{Name: "go:sum", Value: sum})
	}
	c.PURL = purl(m.Path, c.Version)
	c.BOMRef = c.PURL
	return c
}

// purl is a package URL of type golang (https://github.com/package-url/purl-spec).
func purl(path, version string) string {
	segs := strings.Split(path, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return "pkg:golang/" + strings.Join(segs, "/") + "@" + url.PathEscape(version)
}

// uuidFrom formats the first 16 bytes of a digest as a version 5 (name-based, SHA) UUID.
func uuidFrom(sum [32]byte) string {
	u := sum[:16]
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	h := hex.EncodeToString(u)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
