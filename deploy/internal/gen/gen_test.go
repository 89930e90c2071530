// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package gen

import (
	"bytes"
	"testing"

	"sigs.k8s.io/yaml"
)

func TestIndentBlock(t *testing.T) {
	for _, tc := range []struct {
		name, content string
		ok            bool
	}{
		{"rule file with blank lines and quotes", "groups:\n  - name: g\n\n    rules: []  # \"quoted\" {{ $labels.x }}\n", true},
		{"no final newline", "groups: []", false},
		{"two final newlines", "groups: []\n\n", false},
		{"trailing space", "groups: [] \n", false},
		{"tab", "groups:\n\t- x\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			b.WriteString("configuration: |\n")
			err := indentBlock(&b, []byte(tc.content), "  ")
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			if !tc.ok {
				return
			}
			var got struct{ Configuration string }
			if err := yaml.Unmarshal(b.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if got.Configuration != tc.content {
				t.Fatalf("round trip:\n got %q\nwant %q", got.Configuration, tc.content)
			}
		})
	}
}

func TestRuleGroupsNamespaceName(t *testing.T) {
	if got := RuleGroupsNamespaceName("rules/stuck-pods.yaml"); got != "otelcol-sre-stuck-pods" {
		t.Fatalf("got %q", got)
	}
}
