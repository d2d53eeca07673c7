#!/usr/bin/env bash
# Builds the test Kubernetes API server (kube-apiserver) and the etcd it
# stores in from the module pinned here, into OUT (default: .bin/kubeapi at
# the repository root), for internal/kubeapi.
#
#   tools/kubeapi/build.sh [OUT]
#
# Only the Go module proxy is used (no Docker, no prebuilt download). A new
# machine downloads about 670 MB of modules and compiles for about 7.5
# minutes on 2 cores (nice'd, -p 2); with a warm Go build cache it only
# links (seconds); when OUT already holds binaries built from the same
# go.mod, go.sum, script and Go version it does nothing. Concurrent runs
# take turns on a lock, so .ci/run can start one in the background and
# `make test` start another that waits for it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${1:-$root/.bin/kubeapi}
mkdir -p "$out"
out=$(cd "$out" && pwd)

exec 9>"$out/.lock"
flock 9

# The Kubernetes version is the one go.mod requires; it is also the
# version the API server reports (kubectl needs a parsable one).
kube=$(awk '$1 == "require" && $2 == "k8s.io/kubernetes" { print $3 } $1 == "k8s.io/kubernetes" { print $2 }' "$here/go.mod")
if [[ ! $kube =~ ^v([0-9]+)\.([0-9]+)\. ]]; then
	echo "tools/kubeapi/build.sh: no 'require k8s.io/kubernetes vX.Y.Z' line in go.mod" >&2
	exit 1
fi
major=${BASH_REMATCH[1]} minor=${BASH_REMATCH[2]}

stamp=$( (cat "$here/go.mod" "$here/go.sum" "$0"; go version) | sha256sum | cut -d' ' -f1)
if [[ -x $out/kube-apiserver && -x $out/etcd && -f $out/.stamp && $(cat "$out/.stamp") == "$stamp" ]]; then
	exit 0
fi
rm -f "$out/.stamp"

cd "$here"
t0=$SECONDS
echo "tools/kubeapi: building kube-apiserver $kube and etcd into $out" >&2
nice -n 19 go build -p 2 -trimpath -o "$out/kube-apiserver.new" \
	-ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$kube -X k8s.io/component-base/version.gitMajor=$major -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean" \
	k8s.io/kubernetes/cmd/kube-apiserver
nice -n 19 go build -p 2 -trimpath -o "$out/etcd.new" -ldflags "-s -w" go.etcd.io/etcd/server/v3
mv "$out/kube-apiserver.new" "$out/kube-apiserver"
mv "$out/etcd.new" "$out/etcd"
echo "$stamp" >"$out/.stamp"
echo "tools/kubeapi: built in $((SECONDS - t0))s" >&2
