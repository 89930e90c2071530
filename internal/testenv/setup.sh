#!/usr/bin/env bash
# Sets up what the tests need from the machine, the same way for `make test` and CI (.ci/run calls
# `make test`), then says once which tests will skip because something is still missing:
#   - Debian packages ethtool, iproute2, prometheus (prometheus + promtool), prometheus-alertmanager (amtool):
#     installed with apt-get when running as root and missing;
#   - the test control plane (etcd, kube-apiserver, kube-scheduler): built once per machine, cached by
#     version under ${XDG_CACHE_HOME:-$HOME/.cache}/otelcol-sre (internal/testcluster/build.sh; no root needed);
#   - root itself (network namespaces and veth pairs for the ethtool tests).
# Tests that need something missing skip outside CI and fail under CI (internal/testenv).
set -euo pipefail
cd "$(dirname "$0")/../.."

packages=(ethtool iproute2 prometheus prometheus-alertmanager)
declare -A skips=(
	[root]="network namespace / veth tests: receiver/ethtoolreceiver (nic, scraper), test/e2e TestEthtoolReceiverSeriesInPrometheus"
	[ethtool]="receiver/ethtoolreceiver tests comparing with the ethtool CLI"
	[iproute2]="every network namespace / veth test (receiver/ethtoolreceiver, test/e2e ethtool)"
	[prometheus]="Prometheus and promtool tests: processor/sloprocessor (agreement with Prometheus), deploy (promtool check/test rules), test/e2e (remote write, SLO, ethtool, k8spoddiagnostics)"
	[prometheus-alertmanager]="amtool check-config of deploy/rules/alertmanager.yaml (deploy)"
	[controlplane]="real API server tests: deploy (server-side dry run, ServiceAccount tokens), internal/testcluster, processor/k8spoddiagnosticsprocessor/integrationtest, test/e2e k8spoddiagnostics"
)

root=false
[ "$(id -u)" -eq 0 ] && root=true
missing=()
if command -v dpkg >/dev/null; then
	for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
else
	command -v ethtool >/dev/null || missing+=(ethtool)
	command -v ip >/dev/null || missing+=(iproute2)
	command -v promtool >/dev/null || missing+=(prometheus)
	command -v amtool >/dev/null || missing+=(prometheus-alertmanager)
fi
if [ ${#missing[@]} -gt 0 ] && $root && command -v apt-get >/dev/null; then
	echo "testenv: apt-get install ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	missing=()
fi

unavailable=()
$root || unavailable+=(root)
unavailable+=("${missing[@]}")
if [ -n "${OTELCOL_SRE_KUBE_BIN:-}" ]; then # the tests take the binaries from there instead of the cache
	for b in etcd kube-apiserver kube-scheduler; do
		[ -x "$OTELCOL_SRE_KUBE_BIN/$b" ] || { unavailable+=(controlplane); break; }
	done
elif ! bash internal/testcluster/build.sh >/dev/null; then
	unavailable+=(controlplane)
fi

if [ ${#unavailable[@]} -eq 0 ]; then
	echo "testenv: root, Debian packages (${packages[*]}) and the test control plane are here: no test skips for a missing prerequisite" >&2
	exit 0
fi
{
	echo "testenv: these tests will SKIP (under CI they fail) because something is missing:"
	for u in "${unavailable[@]}"; do
		case "$u" in
		root) why="not running as root" ;;
		controlplane) why="no test control plane (bash internal/testcluster/build.sh, or OTELCOL_SRE_KUBE_BIN)" ;;
		*) why="Debian package $u missing ($($root && echo "apt-get could not install it" || echo "run make test as root to install it"))" ;;
		esac
		printf '  - %s: %s\n' "$why" "${skips[$u]}"
	done
} >&2
