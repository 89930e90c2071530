// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package cwlogspeer

import (
	"reflect"
	"testing"
)

func TestQuery(t *testing.T) {
	fb := func(stream, pod, ns, log string) Event {
		return Event{Group: "/aws/containerinsights/c1/application", Stream: stream,
			Message: `{"log":"` + log + `","stream":"stdout","kubernetes":{"pod_name":"` + pod + `","namespace_name":"` + ns + `","labels":{"app":"x"}},"n":3}`}
	}
	events := []Event{
		fb("s1", "web-1", "shop", "GET /"),
		fb("s1", "web-1", "shop", "GET /cart"),
		fb("s2", "web-2", "shop", "POST /pay"),
		fb("s3", "db-0", "data", "checkpoint"),
		{Group: "g", Stream: "s4", Message: "plain text, not JSON"},
	}
	for _, tc := range []struct {
		name, query string
		want        []map[string]string
		wantErr     bool
	}{
		{name: "filter on a nested field, stats by namespace",
			query: `filter kubernetes.pod_name = "web-1" | stats count(*) by kubernetes.namespace_name`,
			want:  []map[string]string{{"kubernetes.namespace_name": "shop", "count(*)": "2"}}},
		{name: "stats by namespace, named, sorted descending",
			query: `stats count(*) as n by kubernetes.namespace_name | sort n desc`,
			want: []map[string]string{{"kubernetes.namespace_name": "shop", "n": "3"}, {"kubernetes.namespace_name": "data", "n": "1"},
				{"kubernetes.namespace_name": "", "n": "1"}}},
		{name: "like with a regexp, by two fields",
			query: `filter log like /^GET/ | stats count(*) by kubernetes.pod_name, @logStream`,
			want:  []map[string]string{{"kubernetes.pod_name": "web-1", "@logStream": "s1", "count(*)": "2"}}},
		{name: "not equal keeps events without the field",
			query: `filter kubernetes.namespace_name != "shop" | stats count(*) by @logStream`,
			want:  []map[string]string{{"@logStream": "s3", "count(*)": "1"}, {"@logStream": "s4", "count(*)": "1"}}},
		{name: "filters chain on deeper nesting and numbers; none left gives no rows",
			query: `filter kubernetes.labels.app = "x" | filter n = "3" | filter @log = "g" | stats count(*) by @log`,
			want:  []map[string]string{}},
		{name: "no match", query: `filter kubernetes.pod_name = "nope"`, want: nil},
		{name: "unknown command", query: `parse @message "*"`, wantErr: true},
		{name: "bad filter", query: `filter kubernetes.pod_name ~ web`, wantErr: true},
		{name: "like without a regexp", query: `filter log like "GET"`, wantErr: true},
		{name: "stats other than count", query: `stats sum(n) by kubernetes.pod_name`, wantErr: true},
		{name: "bad sort direction", query: `stats count(*) by n | sort n sideways`, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Query(tc.query, events)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if !tc.wantErr && !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v\nwant %v", got, tc.want)
			}
		})
	}
}
