// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"encoding/json"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

// DecodePods decodes what `kubectl get pod NAME -o json` (one Pod) or
// `kubectl get pods -o json` (a List) prints.
func DecodePods(data []byte) ([]corev1.Pod, error) {
	return decodeObjects[corev1.Pod](data, "Pod", "kubectl get pod -o json")
}

// DecodeEvents decodes what `kubectl get events -o json` prints (a List), or
// one Event.
func DecodeEvents(data []byte) ([]corev1.Event, error) {
	return decodeObjects[corev1.Event](data, "Event", "kubectl get events -o json")
}

// decodeObjects decodes one object of kind, or a List (or <kind>List) of them.
func decodeObjects[T any](data []byte, kind, printedBy string) ([]T, error) {
	got, err := kindOf(data)
	if err != nil {
		return nil, err
	}
	switch got {
	case kind:
		var one T
		if err := json.Unmarshal(data, &one); err != nil {
			return nil, fmt.Errorf("decoding %s: %w", kind, err)
		}
		return []T{one}, nil
	case "List", kind + "List":
		if err := checkItems(data, kind); err != nil {
			return nil, err
		}
		var l struct {
			Items []T `json:"items"`
		}
		if err := json.Unmarshal(data, &l); err != nil {
			return nil, fmt.Errorf("decoding %s of %ss: %w", got, kind, err)
		}
		return l.Items, nil
	default:
		return nil, fmt.Errorf("expected a %s or a List of %ss (%s), got kind %q", kind, kind, printedBy, got)
	}
}

// checkItems makes sure every item of a List that names its kind is a want.
func checkItems(data []byte, want string) error {
	var l struct {
		Items []struct {
			Kind string `json:"kind"`
		} `json:"items"`
	}
	if err := json.Unmarshal(data, &l); err != nil {
		return fmt.Errorf("decoding List: %w", err)
	}
	for i, it := range l.Items {
		if it.Kind != "" && it.Kind != want {
			return fmt.Errorf("expected a List of %ss, but item %d is a %s", want, i, it.Kind)
		}
	}
	return nil
}

func kindOf(data []byte) (string, error) {
	var tm struct {
		Kind string `json:"kind"`
	}
	if err := json.Unmarshal(data, &tm); err != nil {
		return "", fmt.Errorf("not a Kubernetes JSON object: %w", err)
	}
	if tm.Kind == "" {
		return "", errors.New("not a Kubernetes JSON object: no kind")
	}
	return tm.Kind, nil
}

// EventsFor returns the Warning events about pod p (matched by UID, or by
// namespace and name when the event carries no UID).
func EventsFor(p *corev1.Pod, events []corev1.Event) []corev1.Event {
	var out []corev1.Event
	for _, e := range events {
		io := e.InvolvedObject
		if e.Type != corev1.EventTypeWarning || (io.Kind != "" && io.Kind != "Pod") {
			continue
		}
		if io.UID != "" && p.UID != "" {
			if io.UID == p.UID {
				out = append(out, e)
			}
			continue
		}
		if io.Name == p.Name && (io.Namespace == "" || io.Namespace == p.Namespace) {
			out = append(out, e)
		}
	}
	return out
}
