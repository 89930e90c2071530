// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package xraypeer

import (
	"strings"
	"testing"
)

func TestValidateSegment(t *testing.T) {
	const ok = `{"name":"checkout","id":"70de5b6f19ff9a0a","trace_id":"1-581cf771-a006649127e371903a2de979","start_time":1478293361.271,"end_time":1478293361.449`
	for _, tc := range []struct {
		name, doc string
		wantErr   string // substring; empty: valid
	}{
		{name: "minimal segment", doc: ok + `}`},
		{name: "in progress without end", doc: `{"name":"checkout","id":"70de5b6f19ff9a0a","trace_id":"1-581cf771-a006649127e371903a2de979","start_time":1478293361.271,"in_progress":true}`},
		{name: "segment with http, annotations, metadata and nested subsegments", doc: ok +
			`,"http":{"request":{"method":"GET","url":"http://checkout/"},"response":{"status":200}},"annotations":{"tenant_id":"t1","retries":2,"cached":false},` +
			`"metadata":{"default":{"k":"v"}},"subsegments":[{"name":"db.example.com","id":"53995c3f42cd8ad8","start_time":1478293361.3,"end_time":1478293361.4,"namespace":"remote",` +
			`"subsegments":[{"name":"SELECT","id":"53995c3f42cd8ad9","start_time":1478293361.31,"end_time":1478293361.32}]}]}`},
		{name: "independent subsegment names its parent", doc: ok + `,"type":"subsegment","parent_id":"53995c3f42cd8ad8"}`},
		{name: "independent subsegment without parent", doc: ok + `,"type":"subsegment"}`, wantErr: "parent_id"},
		{name: "W3C trace id not converted", doc: strings.Replace(ok, "1-581cf771-a006649127e371903a2de979", "581cf771a006649127e371903a2de979", 1) + `}`, wantErr: "trace_id"},
		{name: "id of 15 hex digits", doc: strings.Replace(ok, "70de5b6f19ff9a0a", "70de5b6f19ff9a0", 1) + `}`, wantErr: "id"},
		{name: "no name", doc: strings.Replace(ok, `"name":"checkout",`, ``, 1) + `}`, wantErr: "name"},
		{name: "name with a character X-Ray refuses", doc: strings.Replace(ok, "checkout", "check<out>", 1) + `}`, wantErr: "name"},
		{name: "neither end_time nor in_progress", doc: strings.Replace(ok, `,"end_time":1478293361.449`, ``, 1) + `}`, wantErr: "end_time"},
		{name: "annotation key with a dash", doc: ok + `,"annotations":{"http-method":"GET"}}`, wantErr: "http-method"},
		{name: "annotation value is an object", doc: ok + `,"annotations":{"k":{"a":1}}}`, wantErr: "annotations"},
		{name: "subsegment ends before it starts", doc: ok + `,"subsegments":[{"name":"db","id":"53995c3f42cd8ad8","start_time":1478293361.4,"end_time":1478293361.3}]}`, wantErr: "before start_time"},
		{name: "not JSON", doc: `{"name":`, wantErr: "not JSON"},
		{name: "over 64 KB", doc: ok + `,"metadata":{"default":{"blob":"` + strings.Repeat("x", MaxDocumentBytes) + `"}}}`, wantErr: "65536 byte limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ValidateSegment(tc.doc)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("valid document refused: %v", err)
			case tc.wantErr != "" && err == nil:
				t.Fatalf("invalid document accepted, want an error about %q", tc.wantErr)
			case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
				t.Fatalf("error %v, want it to mention %q", err, tc.wantErr)
			}
		})
	}
}
