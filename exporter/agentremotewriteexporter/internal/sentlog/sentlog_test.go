// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package sentlog

import (
	"os"
	"path/filepath"
	"testing"
)

func TestLog(t *testing.T) {
	tests := []struct {
		name    string
		batches [][]Entry
		torn    int // bytes of a half-written record appended before reopening
		forget  int64
		want    map[uint64]int64
	}{
		{name: "empty", want: map[uint64]int64{}},
		{name: "newest wins, older ignored",
			batches: [][]Entry{{{1, 10}, {2, 5}}, {{1, 8}, {2, 7}}, {{1, 12}}},
			want:    map[uint64]int64{1: 12, 2: 7}},
		{name: "a torn last record is ignored",
			batches: [][]Entry{{{1, 10}}, {{1, 11}}}, torn: 9,
			want: map[uint64]int64{1: 11}},
		{name: "forget drops series older than the cutoff",
			batches: [][]Entry{{{1, 10}, {2, 50}}}, forget: 20,
			want: map[uint64]int64{2: 50}},
		{name: "compaction keeps the newest per series",
			batches: [][]Entry{{{1, 1}}, {{1, 2}}, {{1, 3}}, {{2, 1}}, {{1, 4}}},
			want:    map[uint64]int64{1: 4, 2: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "sent-log")
			l, err := Open(path, 2*recordSize) // compacts every few records
			if err != nil {
				t.Fatal(err)
			}
			for _, b := range tc.batches {
				if err := l.Record(b); err != nil {
					t.Fatal(err)
				}
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			if tc.torn > 0 {
				f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
				if err != nil {
					t.Fatal(err)
				}
				_, _ = f.Write(make([]byte, tc.torn))
				_ = f.Close()
			}
			// Reopened as after a kill: the file alone holds the state.
			l, err = Open(path, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			if tc.forget != 0 {
				l.Forget(tc.forget)
			}
			if l.Len() != len(tc.want) {
				t.Errorf("%d series, want %d", l.Len(), len(tc.want))
			}
			for k, want := range tc.want {
				if got, ok := l.Newest(k); !ok || got != want {
					t.Errorf("series %d: %d (%v), want %d", k, got, ok, want)
				}
			}
		})
	}
}

// A fresh wal.directory does not exist yet when the exporter opens the sent log (the WAL is opened after it).
func TestOpenCreatesItsDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "not", "yet", "sent-log")
	l, err := Open(path, 1<<20)
	if err != nil {
		t.Fatalf("Open in a missing directory: %v", err)
	}
	if err := l.Record([]Entry{{1, 10}}); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
}
