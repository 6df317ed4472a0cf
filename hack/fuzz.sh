#!/usr/bin/env bash
# Runs every Go fuzz target in the module for FUZZTIME each. Targets are
# found, not listed, so a new one cannot be forgotten.
#
# Usage: hack/fuzz.sh [fuzztime]   (default 30s)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
fuzztime="${1:-30s}"

grep -rl --include='*_test.go' '^func Fuzz' --exclude-dir=hack --exclude-dir=bin . | sort | while read -r file; do
	pkg="./$(dirname "${file#./}")"
	grep -o '^func Fuzz[A-Za-z0-9_]*' "${file}" | sed 's/^func //' | while read -r target; do
		echo "fuzz: ${pkg} ${target} for ${fuzztime}"
		go test "${pkg}" -run='^$' -fuzz="^${target}\$" -fuzztime="${fuzztime}"
	done
done
