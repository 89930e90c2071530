// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package deploy_test

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// No Docker engine here: check statically that the image runs the binary `make build` makes (the one
// the tests run) as a numeric non-root uid, from a base without a shell.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var stages [][]string
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "FROM ") {
			stages = append(stages, nil)
		}
		if len(stages) > 0 {
			stages[len(stages)-1] = append(stages[len(stages)-1], line)
		}
	}
	if len(stages) != 2 {
		t.Fatalf("want a build stage and a runtime stage, got %d stages", len(stages))
	}
	build, final := strings.Join(stages[0], "\n"), stages[1]
	if !strings.Contains(build, "RUN make build") {
		t.Error("the build stage must run `make build`, the build the tests use")
	}
	if !strings.Contains(final[0], "distroless/static") {
		t.Errorf("runtime base %q: want a static distroless image (no shell, no package manager)", final[0])
	}
	var user string
	copied := false
	for _, l := range final {
		if u, ok := strings.CutPrefix(l, "USER "); ok {
			user = u
		}
		copied = copied || l == "COPY --from=build /src/bin/otelcol-sre /otelcol-sre"
	}
	uid, gid, _ := strings.Cut(user, ":")
	for _, id := range []string{uid, gid} {
		if n, err := strconv.Atoi(id); err != nil || n == 0 {
			t.Errorf("USER %q: want numeric non-zero uid:gid", user)
		}
	}
	if !copied {
		t.Error("the runtime stage must copy bin/otelcol-sre from the build stage")
	}
}
