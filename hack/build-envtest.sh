#!/usr/bin/env bash
# Builds the envtest control plane (kube-apiserver and etcd) from source
# through the Go module proxy into bin/k8s/<version>-<os>-<arch>/, once,
# with etcdctl and etcdutl of the same etcd release (the fault suite's
# etcd-restore spec saves and restores a snapshot with them).
# Later runs reuse the binaries; a user's KUBEBUILDER_ASSETS wins over all.
#
# Usage: hack/build-envtest.sh <k8s-version> <output-dir>
set -euo pipefail

version="${1:?kubernetes version, e.g. 1.37.2}"
out="${2:?output directory}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if [[ -n "${KUBEBUILDER_ASSETS:-}" && "${KUBEBUILDER_ASSETS}" != "${out}" ]]; then
	for b in kube-apiserver etcd; do
		if [[ ! -x "${KUBEBUILDER_ASSETS}/${b}" ]]; then
			echo "KUBEBUILDER_ASSETS=${KUBEBUILDER_ASSETS} has no ${b}" >&2
			exit 1
		fi
	done
	echo "envtest: using KUBEBUILDER_ASSETS=${KUBEBUILDER_ASSETS}"
	exit 0
fi

if ! grep -Eq "k8s.io/kubernetes v${version}( |$)" "${root}/hack/envtest/kube-apiserver/go.mod"; then
	echo "envtest: hack/envtest/kube-apiserver/go.mod does not pin k8s.io/kubernetes v${version}" >&2
	exit 1
fi
mkdir -p "${out}"

# build <name> <module dir> <package> [ldflags]: go build with one progress
# line per 250 packages compiled, so a first build (minutes) visibly moves.
build() {
	local name="$1" dir="$2" pkg="$3" ldflags="${4:-}"
	if [[ -x "${out}/${name}" ]]; then
		echo "envtest: ${name} present in ${out#"${root}/"}"
		return
	fi
	echo "envtest: building ${name} for Kubernetes ${version} from source (first time: several minutes; cached afterwards)"
	local start=$SECONDS tmp="${out}/.${name}.tmp"
	(cd "${dir}" && go build -v -ldflags "${ldflags}" -o "${tmp}" "${pkg}" 2>&1) |
		awk -v n="${name}" '/^#|: /{print; next} {c++} c%250==0 {printf "envtest: %s: %d packages compiled\n", n, c; fflush()}'
	mv "${tmp}" "${out}/${name}"
	echo "envtest: ${name} built in $((SECONDS - start))s"
}

# Stamp the version kube-apiserver reports (`kubectl version`), as a release
# build would; a plain go build says v0.0.0-master.
minor="${version#*.}"
minor="${minor%%.*}"
vpkg=k8s.io/component-base/version
build kube-apiserver "${root}/hack/envtest/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver \
	"-X ${vpkg}.gitVersion=v${version} -X ${vpkg}.gitMajor=1 -X ${vpkg}.gitMinor=${minor} -X ${vpkg}.gitTreeState=clean"
build etcd "${root}/hack/envtest/etcd" .
# Same etcd release as above (hack/envtest/etcdutl/go.mod pins it).
etcd_version="$(grep -Eo 'go.etcd.io/etcd/server/v3 v[0-9.]+' "${root}/hack/envtest/etcd/go.mod" | cut -d" " -f2)"
if ! grep -Eq "go.etcd.io/etcd/etcdutl/v3 ${etcd_version}( |$)" "${root}/hack/envtest/etcdutl/go.mod"; then
	echo "envtest: hack/envtest/etcdutl/go.mod does not pin etcd ${etcd_version}" >&2
	exit 1
fi
build etcdctl "${root}/hack/envtest/etcdutl" go.etcd.io/etcd/etcdctl/v3
build etcdutl "${root}/hack/envtest/etcdutl" go.etcd.io/etcd/etcdutl/v3
