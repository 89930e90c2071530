#!/usr/bin/env bash
# Builds the real control-plane binaries (etcd, kube-apiserver, kube-scheduler)
# that internal/testcluster starts in tests, from the `tool` directives of the
# pinned module in ./tools.
#
# The binaries go to a cache directory keyed by version:
#   ${XDG_CACHE_HOME:-$HOME/.cache}/otelcol-sre/kube-v1.36.3-etcd-v3.6.8/
# If all three are already there this is a no-op. Either way the directory is
# printed on stdout (the last line), so callers can do
#   export OTELCOL_SRE_KUBE_BIN="$(bash internal/testcluster/build.sh)"
# Concurrent runs are serialised with a lock; binaries are moved into place
# only after all of them built, so an interrupted build leaves no partial set.
# A cold build takes ~10+ min on 2 cores (~700 MB module cache, ~3 GB build cache).
set -euo pipefail

KUBE_VERSION=v1.36.3
ETCD_VERSION=v3.6.8
BINARIES=(etcd kube-apiserver kube-scheduler)

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tools="$here/tools"

# The versions above name the cache directory; refuse to build anything else
# under that name if tools/go.mod was changed without updating this script.
grep -Eq "^[[:space:]]*k8s\.io/kubernetes ${KUBE_VERSION//./\\.}( // indirect)?\$" "$tools/go.mod" ||
	{ echo "build.sh: tools/go.mod does not require k8s.io/kubernetes $KUBE_VERSION; update KUBE_VERSION" >&2; exit 1; }
grep -Eq "^[[:space:]]*go\.etcd\.io/etcd/server/v3 ${ETCD_VERSION//./\\.}( // indirect)?\$" "$tools/go.mod" ||
	{ echo "build.sh: tools/go.mod does not require go.etcd.io/etcd/server/v3 $ETCD_VERSION; update ETCD_VERSION" >&2; exit 1; }

cache="${XDG_CACHE_HOME:-$HOME/.cache}/otelcol-sre"
out="$cache/kube-$KUBE_VERSION-etcd-$ETCD_VERSION"

complete() {
	local b
	for b in "${BINARIES[@]}"; do
		[[ -x "$out/$b" ]] || return 1
	done
}

if complete; then
	echo "$out"
	exit 0
fi

mkdir -p "$cache"
exec 9>"$out.lock"
flock 9
if complete; then # another run finished the build while we waited
	echo "$out"
	exit 0
fi

work="$(mktemp -d "$cache/.build-XXXXXX")"
trap 'rm -rf "$work"' EXIT

export CGO_ENABLED=0 GOWORK=off
export GOPROXY="${GOPROXY:-https://proxy.golang.org}"
minor="${KUBE_VERSION#v1.}"
minor="${minor%%.*}"
kube_ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"

echo "build.sh: building kube-apiserver, kube-scheduler $KUBE_VERSION and etcd $ETCD_VERSION into $out (cold build ~10+ min)" >&2
start=$SECONDS
(
	cd "$tools"
	# -mod=readonly: build exactly what go.mod/go.sum pin, even when GOFLAGS=-mod=mod.
	go build -mod=readonly -trimpath -ldflags "$kube_ldflags" -o "$work/" \
		k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-scheduler
	go build -mod=readonly -trimpath -ldflags "-s -w" -o "$work/etcd" go.etcd.io/etcd/server/v3
)

# Capture first: under pipefail, `--version | grep -q` fails when grep exits at the first line and the
# binary (etcd prints several lines) gets SIGPIPE.
apiserver_version="$("$work/kube-apiserver" --version)"
grep -qx "Kubernetes $KUBE_VERSION" <<<"$apiserver_version" ||
	{ echo "build.sh: kube-apiserver reports '$apiserver_version', want Kubernetes $KUBE_VERSION" >&2; exit 1; }
etcd_version="$("$work/etcd" --version)"
grep -qx "etcd Version: ${ETCD_VERSION#v}" <<<"$etcd_version" ||
	{ echo "build.sh: etcd reports '${etcd_version%%$'\n'*}', want $ETCD_VERSION" >&2; exit 1; }

mkdir -p "$out"
for b in "${BINARIES[@]}"; do
	mv -f "$work/$b" "$out/$b"
done
echo "build.sh: built in $((SECONDS - start)) s: $(cd "$out" && du -h "${BINARIES[@]}" | tr '\t\n' ' ')" >&2
echo "$out"
