// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package cwlogspeer

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func emfEvent(mutate func(root, aws map[string]any, directive map[string]any)) string {
	directive := map[string]any{
		"Namespace":  "otelcol-sre/e2e",
		"Dimensions": []any{[]any{"service.name", "k8s.namespace.name"}, []any{}},
		"Metrics":    []any{map[string]any{"Name": "requests", "Unit": "Count"}, map[string]any{"Name": "latency"}},
	}
	aws := map[string]any{"Timestamp": 1795377600000, "CloudWatchMetrics": []any{directive}}
	root := map[string]any{"_aws": aws, "service.name": "checkout", "k8s.namespace.name": "shop", "requests": 3, "latency": []any{1.5, 2}}
	if mutate != nil {
		mutate(root, aws, directive)
	}
	b, _ := json.Marshal(root)
	return string(b)
}

func TestValidateEMF(t *testing.T) {
	tests := []struct {
		name    string
		message string
		wantErr string // substring; empty: valid
	}{
		{name: "well-formed event with two dimension sets", message: emfEvent(nil)},
		{name: "metric value as array of numbers", message: emfEvent(func(r, _, _ map[string]any) { r["requests"] = []any{1, 2, 3} })},
		{name: "high resolution storage", message: emfEvent(func(_, _, d map[string]any) {
			d["Metrics"] = []any{map[string]any{"Name": "requests", "StorageResolution": 1}}
		})},
		{name: "empty unit as awsemf writes it for unitless metrics", message: emfEvent(func(_, _, d map[string]any) {
			d["Metrics"] = []any{map[string]any{"Name": "requests", "Unit": ""}}
		})},
		{name: "OpenTelemetry annotation unit passed through untranslated", message: emfEvent(func(_, _, d map[string]any) {
			d["Metrics"] = []any{map[string]any{"Name": "requests", "Unit": "{packets}"}}
		}), wantErr: "EMF schema"},
		{name: "not JSON", message: "requests=3", wantErr: "not JSON"},
		{name: "no _aws member", message: `{"requests":3}`, wantErr: "EMF schema"},
		{name: "timestamp in seconds instead of ms", message: emfEvent(func(_, a, _ map[string]any) { a["Timestamp"] = 1795377600 }), wantErr: "EMF schema"},
		{name: "timestamp as string", message: emfEvent(func(_, a, _ map[string]any) { a["Timestamp"] = "1795377600000" }), wantErr: "EMF schema"},
		{name: "directive without Namespace", message: emfEvent(func(_, _, d map[string]any) { delete(d, "Namespace") }), wantErr: "EMF schema"},
		{name: "31 dimensions in one set", message: emfEvent(func(r, _, d map[string]any) {
			set := []any{}
			for i := range 31 {
				k := fmt.Sprintf("d%d", i)
				r[k] = "v"
				set = append(set, k)
			}
			d["Dimensions"] = []any{set}
		}), wantErr: "EMF schema"},
		{name: "101 metrics in one directive", message: emfEvent(func(r, _, d map[string]any) {
			ms := []any{}
			for i := range 101 {
				k := fmt.Sprintf("m%d", i)
				r[k] = i
				ms = append(ms, map[string]any{"Name": k})
			}
			d["Metrics"] = ms
		}), wantErr: "EMF schema"},
		{name: "unknown unit", message: emfEvent(func(_, _, d map[string]any) {
			d["Metrics"] = []any{map[string]any{"Name": "requests", "Unit": "Requests"}}
		}), wantErr: "EMF schema"},
		{name: "dimension key missing from the event", message: emfEvent(func(r, _, _ map[string]any) { delete(r, "k8s.namespace.name") }),
			wantErr: `key "k8s.namespace.name" is not a string member`},
		{name: "dimension value is a number", message: emfEvent(func(r, _, _ map[string]any) { r["service.name"] = 7 }),
			wantErr: `key "service.name" is not a string member`},
		{name: "metric missing from the event", message: emfEvent(func(r, _, _ map[string]any) { delete(r, "requests") }),
			wantErr: `metric "requests": referenced but not present`},
		{name: "metric value is a string", message: emfEvent(func(r, _, _ map[string]any) { r["requests"] = "3" }),
			wantErr: `metric "requests": value is a string`},
		{name: "metric array over 100 values", message: emfEvent(func(r, _, _ map[string]any) {
			vs := make([]any, 101)
			for i := range vs {
				vs[i] = i
			}
			r["requests"] = vs
		}), wantErr: "array of 101 values"},
		{name: "event over 256 KB", message: emfEvent(func(r, _, _ map[string]any) { r["padding"] = strings.Repeat("x", MaxEventBytes) }),
			wantErr: "over the 262144 byte limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateEMF(tt.message)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("valid event rejected: %v", err)
			case tt.wantErr != "" && err == nil:
				t.Fatalf("invalid event accepted, want error containing %q", tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Fatalf("error %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func FuzzValidateEMF(f *testing.F) {
	f.Add(emfEvent(nil))
	f.Add(`{"_aws":{"Timestamp":1795377600000,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[["a"]],"Metrics":[{"Name":"m"}]}]},"a":"x","m":[1]}`)
	f.Add(`{"_aws":{"Timestamp":1,"CloudWatchMetrics":[]}}`)
	f.Fuzz(func(_ *testing.T, message string) {
		_ = ValidateEMF(message) // must not panic on any input
	})
}
