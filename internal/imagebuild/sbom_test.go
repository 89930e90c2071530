// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package imagebuild

import (
	"os"
	"reflect"
	"runtime"
	"runtime/debug"
	"slices"
	"testing"
)

func TestModuleComponent(t *testing.T) {
	for _, tt := range []struct {
		name string
		mod  debug.Module
		want Component
	}{
		{
			name: "plain module",
			mod:  debug.Module{Path: "go.opentelemetry.io/collector/component", Version: "v1.61.0", Sum: "h1:abc="},
			want: Component{Type: "library", Name: "go.opentelemetry.io/collector/component", Version: "v1.61.0",
				PURL: "pkg:golang/go.opentelemetry.io/collector/component@v1.61.0", Properties: []Property{{"go:sum", "h1:abc="}}},
		},
		{
			name: "replaced by another version",
			mod: debug.Module{Path: "github.com/a/b", Version: "v0.155.0", Sum: "h1:old=",
				Replace: &debug.Module{Path: "github.com/a/b", Version: "v0.152.0", Sum: "h1:new="}},
			want: Component{Type: "library", Name: "github.com/a/b", Version: "v0.152.0", PURL: "pkg:golang/github.com/a/b@v0.152.0",
				Properties: []Property{{"go:replaced-by", "github.com/a/b v0.152.0"}, {"go:sum", "h1:new="}}},
		},
		{
			name: "replaced by a local path (this repository)",
			mod:  debug.Module{Path: "github.com/otelcol-sre/otelcol-sre", Version: "v0.0.0", Replace: &debug.Module{Path: ".."}},
			want: Component{Type: "library", Name: "github.com/otelcol-sre/otelcol-sre", Version: "(devel)",
				PURL: "pkg:golang/github.com/otelcol-sre/otelcol-sre@%28devel%29", Properties: []Property{{"go:replaced-by", ".."}}},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.want.BOMRef = tt.want.PURL
			if got := moduleComponent(&tt.mod); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// The SBOM of a real binary (this test's) carries its build info: toolchain, GOARCH, the stdlib, the
// CA bundle's Debian package, and the same serial number for the same binary.
func TestSBOM(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	o := testOptions(t, exe)
	ca := DebianPackage{Name: "ca-certificates", Version: "20230311+deb12u1"}
	bom, err := SBOM(o, o.Platforms[1], ca)
	if err != nil {
		t.Fatal(err)
	}
	m := bom.Metadata.Component
	if bom.BOMFormat != "CycloneDX" || bom.SpecVersion != "1.5" || m.Name != "otelcol-sre" || m.Version != "0.1.0+"+o.Revision {
		t.Errorf("BOM %s %s, component %s %s", bom.BOMFormat, bom.SpecVersion, m.Name, m.Version)
	}
	if m.PURL != "pkg:golang/github.com/otelcol-sre/otelcol-sre@0.1.0?arch=arm64&os=linux" || len(m.Hashes) != 1 {
		t.Errorf("main component purl %s hashes %v", m.PURL, m.Hashes)
	}
	if !slices.Contains(m.Properties, Property{"go:toolchain", runtime.Version()}) || !slices.Contains(m.Properties, Property{"go:build:GOARCH", runtime.GOARCH}) {
		t.Errorf("main component properties %v: want the toolchain and GOARCH from the build info", m.Properties)
	}
	refs := bom.Dependencies[0].DependsOn
	if !slices.Contains(refs, "pkg:golang/stdlib@"+runtime.Version()) {
		t.Errorf("dependencies %v: want the stdlib", refs)
	}
	if !slices.ContainsFunc(bom.Components, func(c Component) bool {
		return c.PURL == "pkg:deb/debian/ca-certificates@20230311+deb12u1?arch=all" && len(c.Hashes) == 1
	}) {
		t.Errorf("no ca-certificates component with the bundle's hash in %+v", bom.Components)
	}
	again, err := SBOM(o, o.Platforms[1], ca)
	if err != nil || !reflect.DeepEqual(again, bom) {
		t.Errorf("a second SBOM of the same binary differs (%v)", err)
	}
}
