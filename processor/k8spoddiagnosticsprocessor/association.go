// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package k8spoddiagnosticsprocessor

import (
	"context"
	"net"

	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/otelcol-sre/otelcol-sre/internal/poddiagnosis/podcache"
)

// Resource attributes the association reads.
const (
	attrPodUID    = "k8s.pod.uid"
	attrPodName   = "k8s.pod.name"
	attrNamespace = "k8s.namespace.name"
)

// outcome of matching one resource.
type outcome int

const (
	outcomeAnnotated outcome = iota
	outcomeUnmatched
	outcomeUnidentified
	outcomeNotStarted
	outcomeCount
)

// lookup finds the diagnosis of the pod a resource belongs to: by UID, then
// name + namespace, then pod IP attributes, then the connection's peer IP.
func (pd *podDiagnostics) lookup(ctx context.Context, c *podcache.Cache, attrs pcommon.Map) (*podcache.Result, outcome) {
	identified := false
	if uid, ok := str(attrs, attrPodUID); ok && uid != "" {
		identified = true
		if r, ok := c.ByUID(uid); ok {
			return r, outcomeAnnotated
		}
	}
	if name, ok := str(attrs, attrPodName); ok && name != "" {
		if ns, ok := str(attrs, attrNamespace); ok && ns != "" {
			identified = true
			if r, ok := c.ByName(ns, name); ok {
				return r, outcomeAnnotated
			}
		}
	}
	for _, key := range pd.cfg.Association.PodIPAttributes {
		if ip, ok := str(attrs, key); ok && ip != "" {
			identified = true
			if r, ok := c.ByIP(ip); ok {
				return r, outcomeAnnotated
			}
		}
	}
	if pd.cfg.Association.FromConnection {
		if ip := peerIP(ctx); ip != "" {
			identified = true
			if r, ok := c.ByIP(ip); ok {
				return r, outcomeAnnotated
			}
		}
	}
	if identified {
		return nil, outcomeUnmatched
	}
	return nil, outcomeUnidentified
}

// str returns a string attribute; other types are rendered as text.
func str(m pcommon.Map, key string) (string, bool) {
	v, ok := m.Get(key)
	if !ok {
		return "", false
	}
	if v.Type() == pcommon.ValueTypeStr {
		return v.Str(), true
	}
	return v.AsString(), true
}

// peerIP returns the IP of the client that sent the data, if the receiver
// recorded it.
func peerIP(ctx context.Context) string {
	switch a := client.FromContext(ctx).Addr.(type) {
	case nil:
		return ""
	case *net.TCPAddr:
		return a.IP.String()
	case *net.UDPAddr:
		return a.IP.String()
	case *net.IPAddr:
		return a.IP.String()
	default:
		host, _, err := net.SplitHostPort(a.String())
		if err != nil {
			return a.String()
		}
		return host
	}
}
