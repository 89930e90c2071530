#!/usr/bin/env bash
# Sets up what the tests need from the machine, the same way for `make test` and CI (.ci/run calls
# `make test`), then says once which tests will skip because something is still missing:
#   - the Debian packages named by the tests' testenv.LookPath calls (ethtool, iproute2, prometheus,
#     prometheus-alertmanager, ...): installed with apt-get when running as root and missing;
#   - the test control plane (etcd, kube-apiserver, kube-scheduler): built once per machine, cached by
#     version under ${XDG_CACHE_HOME:-$HOME/.cache}/otelcol-sre (internal/testcluster/build.sh; no root needed);
#   - root itself (network namespaces and veth pairs for the ethtool tests).
# Tests that need something missing skip outside CI and fail under CI (internal/testenv).
set -euo pipefail
cd "$(dirname "$0")/../.."

# The Debian packages the tests need: each one a testenv.LookPath call names, so a test that needs a new
# package gets it here without editing this file.
lookpath='testenv\.LookPath\([^,]+, *"[^"]+", *"[^"]+"\)'
mapfile -t packages < <(grep -rhoE --include='*.go' "$lookpath" . | sed -E 's/.*"([^"]+)"\)$/\1/' | sort -u)

# users PATTERN: the packages (directories) whose Go files match PATTERN; for a match in a helper (not a
# _test.go file), the packages whose tests import that helper too. Derived, so the list cannot go stale.
users() {
	local f d out=()
	while read -r f; do
		d=$(dirname "${f#./}")
		out+=("$d")
		if [[ $f != *_test.go ]]; then
			mapfile -t -O "${#out[@]}" out < <(grep -rlF --include='*_test.go' "\"github.com/otelcol-sre/otelcol-sre/$d\"" . | xargs -r -n1 dirname | sed 's|^\./||')
		fi
	done < <(grep -rlE --include='*.go' "$1" .)
	printf '%s\n' "${out[@]}" | sort -u | paste -sd' ' | sed 's/ /, /g'
}
skip_users() {
	case "$1" in
	root) users 'testenv\.NeedRoot\(' ;;
	controlplane) users '"github.com/otelcol-sre/otelcol-sre/internal/testcluster"' ;;
	*) users "testenv\\.LookPath\\([^,]+, *\"[^\"]+\", *\"$1\"\\)" ;;
	esac
}

root=false
[ "$(id -u)" -eq 0 ] && root=true
missing=()
if command -v dpkg >/dev/null; then
	for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
else # no package database: look for the executables the LookPath calls name
	while read -r exe p; do
		command -v "$exe" >/dev/null || missing+=("$p")
	done < <(grep -rhoE --include='*.go' "$lookpath" . | sed -E 's/.*"([^"]+)", *"([^"]+)"\)$/\1 \2/' | sort -u)
	mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u | sed '/^$/d')
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
		printf '  - %s: tests in %s\n' "$why" "$(skip_users "$u")"
	done
} >&2
