// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package incident

import (
	"encoding/json"
	"fmt"
	"time"
)

// stateVersion is the version of the persisted incident table; Restore
// refuses others.
const stateVersion = 1

type state struct {
	Version   int        `json:"version"`
	Incidents []Incident `json:"incidents"`
	// The storm guard: notifications folded into the next digest (lost at a
	// restart otherwise, and their incidents later resolved unannounced), the
	// per-incident notifications inside the window and the last digest.
	Folded     []Edge      `json:"folded,omitempty"`
	Sent       []time.Time `json:"sent,omitempty"`
	LastDigest time.Time   `json:"last_digest,omitzero"`
}

// Encode returns the incident table for a storage extension.
func (e *Engine) Encode() ([]byte, error) {
	st := state{Version: stateVersion, Incidents: make([]Incident, 0, len(e.incidents)),
		Folded: e.folded, Sent: e.sent, LastDigest: e.lastDigest}
	for _, in := range e.sorted() {
		st.Incidents = append(st.Incidents, *in)
	}
	return json.Marshal(st)
}

// Restore replaces the incident table with one Encode returned, at now.
// Restored incidents are not announced again; their pods leave them only
// after a full hold-down from now, so a pod still stuck is seen again first.
func (e *Engine) Restore(data []byte, now time.Time) error {
	var st state
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("decoding the incident table: %w", err)
	}
	if st.Version != stateVersion {
		return fmt.Errorf("decoding the incident table: version %d, want %d", st.Version, stateVersion)
	}
	e.incidents = make(map[string]*Incident, len(st.Incidents))
	for i := range st.Incidents {
		in := st.Incidents[i]
		if len(in.Pods) == 0 {
			continue
		}
		e.incidents[groupKey(in.Group)] = &in
	}
	e.folded, e.sent, e.lastDigest = st.Folded, st.Sent, st.LastDigest
	e.restoredAt = now
	return nil
}
