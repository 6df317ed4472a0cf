#!/usr/bin/env bash
# Sends a signed GitHub webhook delivery to the local controller, as GitHub
# would, for trying the receiver by hand in `make run`.
#
# Usage: hack/send-webhook.sh <event> <payload.json> [url]
#   e.g. hack/send-webhook.sh workflow_run hack/webhooks/workflow_run.in_progress.json
# The secret is GITHUB_WEBHOOK_SECRET, or .local/webhook-secret.
set -euo pipefail

event="${1:?event type, e.g. workflow_run}"
payload="${2:?payload file}"
url="${3:-http://127.0.0.1:8082/webhooks/github}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
secret="${GITHUB_WEBHOOK_SECRET:-$(cat "${root}/.local/webhook-secret")}"

signature="sha256=$(openssl dgst -sha256 -hmac "${secret}" -r < "${payload}" | cut -d' ' -f1)"
curl -sS -w ' (HTTP %{http_code})\n' -X POST "${url}" \
	-H 'Content-Type: application/json' \
	-H "X-GitHub-Event: ${event}" \
	-H "X-GitHub-Delivery: $(date +%s%N)" \
	-H "X-Hub-Signature-256: ${signature}" \
	--data-binary "@${payload}"
