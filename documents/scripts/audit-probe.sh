#!/usr/bin/env bash
# ftpfleet audit probe: answers one request of the cache-consistency audit with what this instance
# serves through its bucket mount, as pure-ftpd sees it (lib/audit-probe.py says what it looks at).
# Request and answer travel through the bucket, never as command output (SSM keeps 24,000
# characters inline): the control plane writes .ftpfleet/audit/runs/<run>/<phase>/request.json,
# the answer goes beside it as <instance-id>.json. Both are read and written through the mount
# itself: an instance that cannot do that is what the audit is looking for.
#
# Targets Debian 12 and Ubuntu 24.04. Run as root by SSM Run Command (schema 2.2, ENV_VAR
# interpolation); parameters are checked again here.
#   SSM_RequestKey        .ftpfleet/audit/runs/<run id>/<phase>/request.json
#   AWS_SSM_INSTANCE_ID   set by the SSM agent: names the answer
#   FTPFLEET_ROOT         sandbox prefix for every instance path; empty on AWS.
# Changes nothing on the instance; writes only the answer object.
# Exit: 0 answered, 1 the mount could not be read or written (the audit reports the instance
# unreadable), 2 invalid parameter.
set -euo pipefail

step=audit-probe
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

key="${SSM_RequestKey:-}"
[[ "$key" =~ ^\.ftpfleet/audit/runs/[A-Za-z0-9-]{1,64}/[a-z0-9-]{1,32}/request\.json$ ]] ||
  invalid RequestKey "expected .ftpfleet/audit/runs/<run id>/<phase>/request.json"
[[ "${AWS_SSM_INSTANCE_ID:-}" =~ ^(i-[0-9a-f]{8,17}|mi-[0-9a-f]{17})$ ]] ||
  invalid AWS_SSM_INSTANCE_ID "expected i-<8 to 17 hex digits> or mi-<17 hex digits>"
command -v python3 >/dev/null || fail "python3 is not installed"

mnt="$root/mnt/ftpfleet/bucket"
mountpoint -q "$mnt" || fail "the bucket is not mounted at $mnt"
probe="$(cat "$(dirname "${BASH_SOURCE[0]}")/lib/audit-probe.py")"
answer="${key%/request.json}/$AWS_SSM_INSTANCE_ID.json"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# A hung mount must not hold the step until SSM's own timeout: the probe gets 10 minutes.
status=0
timeout -k 5 600 python3 -c "$probe" "$mnt" "$key" "$AWS_SSM_INSTANCE_ID" >"$work/answer.json" || status=$?
((status == 0)) || fail "the probe could not read the bucket through $mnt (exit $status)"
cp -- "$work/answer.json" "$mnt/$answer" || fail "cannot write the answer $answer through $mnt"
echo "answered $answer ($(stat -c %s "$work/answer.json") bytes)"
