// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package gen

import (
	"bytes"
	"fmt"

	"sigs.k8s.io/yaml"
)

const operatorTLSPatchPath = "kustomize/overlays/sidecar-operator-tls/collector-tls.yaml"

// operatorSidecarTLS writes the JSON patch that gives overlays/sidecar-operator's OpenTelemetryCollector the
// `tls` option, from the otelcol-sre container of overlays/sidecar-tls: its merged config files
// (sidecar.yaml + gateway-client-tls.yaml) and the volumes it mounts beyond the config, which the operator
// mounts itself, and the plain sidecar's data volume, which the operator flavour has not.
func operatorSidecarTLS(deployDir string) (File, error) {
	c, pod, files, cfg, err := sidecarCollector(deployDir, "sidecar-tls")
	if err != nil {
		return File{}, err
	}
	podVolumes, _ := pod["volumes"].([]any)
	mounts, volumes := []any{}, []any{}
	list, _ := c["volumeMounts"].([]any)
	for _, m := range list {
		name := fmt.Sprint(m.(map[string]any)["name"])
		if name == "config" || name == "data" {
			continue
		}
		mounts = append(mounts, m)
		for _, v := range podVolumes {
			if v.(map[string]any)["name"] == name {
				volumes = append(volumes, v)
			}
		}
	}
	if len(mounts) == 0 || len(volumes) != len(mounts) {
		return File{}, fmt.Errorf("overlay sidecar-tls: the otelcol-sre container mounts %d volumes beyond config and data, with %d pod volumes, want the TLS volume", len(mounts), len(volumes))
	}
	patch := []any{
		map[string]any{"op": "replace", "path": "/spec/config", "value": cfg},
		map[string]any{"op": "add", "path": "/spec/volumeMounts", "value": mounts},
		map[string]any{"op": "add", "path": "/spec/volumes", "value": volumes},
	}
	out, err := yaml.Marshal(patch)
	if err != nil {
		return File{}, err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, header, sources(files, "sidecar-tls"))
	b.Write(out)
	return File{Path: operatorTLSPatchPath, Content: b.Bytes()}, nil
}
