// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

// Package storageclient opens a component's client of the storage extension
// its `storage` setting names, with errors that say how to fix the config.
package storageclient

import (
	"context"
	"fmt"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension/xextension/storage"
)

// Open returns the client named name of the component kind/owner from the
// storage extension id of host.
func Open(ctx context.Context, host component.Host, id component.ID, kind component.Kind, owner component.ID, name string) (storage.Client, error) {
	ext, ok := host.GetExtensions()[id]
	if !ok {
		return nil, fmt.Errorf("storage: extension %q not found — add it under extensions and service.extensions", id)
	}
	se, ok := ext.(storage.Extension)
	if !ok {
		return nil, fmt.Errorf("storage: extension %q is not a storage extension — use file_storage", id)
	}
	client, err := se.GetClient(ctx, kind, owner, name)
	if err != nil {
		return nil, fmt.Errorf("storage: getting a client from %q: %w", id, err)
	}
	return client, nil
}
