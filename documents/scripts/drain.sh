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

find_program pure-ftpwho >/dev/null

# Microseconds of EPOCHREALTIME (its radix character follows the locale): bash's integer SECONDS
# ticks at wall-clock second boundaries, so a deadline kept with it can come a second early.
[[ -n "${EPOCHREALTIME:-}" ]] || fail "bash 5 or later is required"
deadline=$((${EPOCHREALTIME//[!0-9]/} + 10#$timeout * 1000000))
count="$(ftp_sessions | wc -l)"
while ((count > 0 && ${EPOCHREALTIME//[!0-9]/} < deadline)); do
  sleep 1
  count="$(ftp_sessions | wc -l)"
done
echo "sessions=$count"
if ((count > 0)); then
  exit 3
fi
