// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

// Package sentlog records, per series, the newest timestamp the remote-write endpoint has answered for
// (accepted, or refused for good), so that a restarted exporter resends exactly the rest of its WAL.
//
// The file is a sequence of 16-byte records (series key, timestamp in ms, little endian), appended once per
// answered request and rewritten (compacted) when it grows past a bound. A record is written before the
// request's answer is passed on, so a process killed at any point loses at most the request whose answer it
// had not recorded yet: that request is resent (a duplicate), never skipped.
package sentlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

const recordSize = 16

// Entry is the newest timestamp answered for one series.
type Entry struct {
	Key uint64
	T   int64
}

// Log is the per-series record. It is not safe for concurrent use.
type Log struct {
	path      string
	f         *os.File
	size      int64
	compactAt int64
	newest    map[uint64]int64
	buf       []byte
}

// Open reads path (missing: empty), keeps the newest timestamp per series, and rewrites the file compacted.
// A torn last record (a kill in the middle of a write) is ignored. The file is compacted again whenever it
// exceeds compactAt bytes. Its directory is created when missing: the log is opened before the WAL, which
// would create it too, on a fresh volume.
func Open(path string, compactAt int64) (*Log, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, err
	}
	l := &Log{path: path, compactAt: max(compactAt, recordSize), newest: map[uint64]int64{}}
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	for len(data) >= recordSize {
		l.note(binary.LittleEndian.Uint64(data), int64(binary.LittleEndian.Uint64(data[8:])))
		data = data[recordSize:]
	}
	if err := l.compact(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *Log) note(key uint64, t int64) bool {
	if old, ok := l.newest[key]; ok && old >= t {
		return false
	}
	l.newest[key] = t
	return true
}

// Newest is the newest timestamp answered for the series, and whether there is one.
func (l *Log) Newest(key uint64) (int64, bool) {
	t, ok := l.newest[key]
	return t, ok
}

// Len is the number of series recorded.
func (l *Log) Len() int { return len(l.newest) }

// Record notes the entries and appends those that move a series forward to the file.
func (l *Log) Record(entries []Entry) error {
	l.buf = l.buf[:0]
	for _, e := range entries {
		if l.note(e.Key, e.T) {
			l.buf = binary.LittleEndian.AppendUint64(l.buf, e.Key)
			l.buf = binary.LittleEndian.AppendUint64(l.buf, uint64(e.T))
		}
	}
	if len(l.buf) == 0 {
		return nil
	}
	if _, err := l.f.Write(l.buf); err != nil {
		return fmt.Errorf("appending to %s: %w", l.path, err)
	}
	l.size += int64(len(l.buf))
	if l.size > l.compactAt {
		return l.compact()
	}
	return nil
}

// Forget drops the series whose newest timestamp is older than before (data the WAL no longer holds).
func (l *Log) Forget(before int64) {
	for k, t := range l.newest {
		if t < before {
			delete(l.newest, k)
		}
	}
}

// compact writes the map to a new file, renames it over the old one and appends from there on.
func (l *Log) compact() error {
	tmp := l.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	buf := make([]byte, 0, len(l.newest)*recordSize)
	for k, t := range l.newest {
		buf = binary.LittleEndian.AppendUint64(buf, k)
		buf = binary.LittleEndian.AppendUint64(buf, uint64(t))
	}
	if _, err := f.Write(buf); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	if err := os.Rename(tmp, l.path); err != nil {
		_ = f.Close()
		return err
	}
	if d, err := os.Open(filepath.Dir(l.path)); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	if l.f != nil {
		_ = l.f.Close()
	}
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		_ = f.Close()
		return err
	}
	l.f, l.size = f, int64(len(buf))
	return nil
}

// Close closes the file.
func (l *Log) Close() error {
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
