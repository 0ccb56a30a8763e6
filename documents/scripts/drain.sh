#!/usr/bin/env bash
# ftpfleet scale-in step: wait until no FTP session is open on this instance, or the timeout.
# Runs after the instance left DNS (and the TTL passed), before it is allowed to terminate.
#
# Targets Debian 12 and Ubuntu 24.04. Run as root by SSM Run Command (schema 2.2, ENV_VAR
# interpolation); parameters arrive as SSM_<Name> variables and are checked again here.
#   SSM_TimeoutSeconds  0-9999
#   FTPFLEET_ROOT       sandbox prefix for every instance path; empty on AWS.
# Prints "sessions=<n>" with the count it ended with.
# Exit: 0 drained, 3 timed out with sessions open, 1 failure, 2 invalid parameter.
set -euo pipefail

step=drain
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

timeout="${SSM_TimeoutSeconds:-}"
[[ "$timeout" =~ ^[0-9]{1,4}$ ]] || invalid TimeoutSeconds "expected 0-9999"

who=""
for dir in "$root/usr/local/sbin" /usr/sbin; do
  if [[ -x "$dir/pure-ftpwho" ]]; then
    who="$dir/pure-ftpwho"
    break
  fi
done
[[ -n "$who" ]] || {
  echo "drain: pure-ftpwho is not installed" >&2
  exit 1
}

# pure-ftpwho -s -n (-n: no DNS lookups, which fail where no resolver answers) prints one line per session: pid|account|time|state|file|peer|local|port|...
# Only sessions on this host's own addresses count (several sandboxed instances share one
# scoreboard). Without a scoreboard (no session ever started) it exits non-zero: none open.
sessions() {
  local ours
  ours=" $(ip -o -4 addr show | awk '{ sub(/\/.*/, "", $4); printf "%s ", $4 }')"
  { "$who" -s -n 2>/dev/null || true; } | awk -F'|' -v ours="$ours" \
    'index(ours, " " $7 " ") { n++ } END { print n + 0 }'
}

deadline=$((SECONDS + 10#$timeout))
count="$(sessions)"
while ((count > 0 && SECONDS < deadline)); do
  sleep 1
  count="$(sessions)"
done
echo "sessions=$count"
if ((count > 0)); then
  exit 3
fi
