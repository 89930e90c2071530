// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package embedschema

import (
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	s := MustCompile("t.json", `{"type":"object","required":["a"],"properties":{"a":{"type":"integer"}}}`)
	for _, tc := range []struct{ doc, wantErr string }{
		{doc: `{"a": 1}`},
		{doc: `{"a": "x"}`, wantErr: "test schema"},
		{doc: `{}`, wantErr: "test schema"},
		{doc: `{"a":`, wantErr: "not JSON"},
	} {
		_, err := Validate(s, "test schema", tc.doc)
		if (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%s: err %v, want %q", tc.doc, err, tc.wantErr)
		}
	}
}

func TestMustCompilePanicsOnABrokenSchema(t *testing.T) {
	for _, text := range []string{`{"type":`, `{"type":"no-such-type"}`} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", text)
				}
			}()
			MustCompile("broken.json", text)
		}()
	}
}
