#!/usr/bin/env bash
# ftpfleet provisioning step: the deep health check (docs/provisioning.md, "Deep health"). Makes the
# health account (a password made here, readable only by the agent's own system account), its
# read-only view of the bucket folder .ftpfleet/health/, the probe object there when it is missing,
# and runs lib/health-agent.py as ftpfleet-health.service: it logs in over FTP(S) as a client
# would, and answers GET /health on HealthPort for Route53 health checks.
#
# Targets Debian 12 and Ubuntu 24.04. Run as root by SSM Run Command after configure-pure-ftpd.sh
# (schema 2.2, ENV_VAR interpolation); parameters arrive as SSM_<Name> variables and are checked
# again here.
#   SSM_HealthPort             TCP port of GET /health, 1024-65535, outside the passive range
#   FTPFLEET_ROOT              sandbox prefix for every instance path; empty on AWS. When set,
#                              systemd is not touched: whoever runs the sandbox starts the command
#                              line in health/args as the uid and gid in health/account.
# Writes: $FTPFLEET_ROOT/etc/ftpfleet/health/{secret (0600, the agent's account only), args,
# account}; $FTPFLEET_ROOT/etc/ftpfleet/pure-ftpd/health.passwd and the puredb;
# $FTPFLEET_ROOT/usr/local/lib/ftpfleet/health-agent.py; the mount at
# $FTPFLEET_ROOT/srv/ftpfleet/health; the object .ftpfleet/health/probe when missing; on AWS the
# unit /etc/systemd/system/ftpfleet-health.service.
# Exit: 0 configured (and the agent restarted), 1 failure, 2 invalid parameter (nothing changed).
set -euo pipefail

step=configure-health
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

port="${SSM_HealthPort-8021}"
if [[ ! "$port" =~ ^[1-9][0-9]{3,4}$ ]] || ((port > 65535)); then invalid HealthPort "expected 1024 to 65535"; fi

conf="$root/etc/ftpfleet/pure-ftpd"
[[ -r "$conf/args" ]] || fail "missing $conf/args (run configure-pure-ftpd first)"
# pure-ftpd would hand the port to a passive data connection.
range="$(grep -A 1 -x -e --passiveportrange "$conf/args" | tail -n 1 || true)"
if [[ "$range" =~ ^([0-9]+):([0-9]+)$ ]] && ((port >= BASH_REMATCH[1] && port <= BASH_REMATCH[2])); then
  invalid HealthPort "expected a port outside the passive range $range"
fi

user=ftpfleet-health
mnt="$root/mnt/ftpfleet/bucket"
home="$root/srv/ftpfleet/health"
health="$root/etc/ftpfleet/health"
agent="$root/usr/local/lib/ftpfleet/health-agent.py"
read_account
mountpoint -q "$mnt" || fail "the bucket is not mounted at $mnt (run mount-bucket first)"
python="$(command -v python3)" || fail "python3 is not installed"
command -v openssl >/dev/null || fail "openssl is not installed"

if [[ -z "$root" ]]; then
  if ! getent passwd "$user" >/dev/null; then
    useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$user"
  fi
  agent_uid="$(id -u "$user")"
  agent_gid="$(id -g "$user")"
else
  # The sandbox never touches the host's accounts (install-packages.sh uses 2121).
  agent_uid=2122
  agent_gid=2122
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# 1. The probe, written through the mount only when it is missing (noclobber: O_EXCL), never
# over an object someone else wrote: other content stays, and every check fails until an operator
# puts it right. Instances racing to create it write the same bytes. (Not lib/bucket.sh's
# conditional PUT: this step could not carry it within SSM's 64 KiB.)
probe="$mnt/.ftpfleet/health/probe"
printf 'ftpfleet health probe\n' >"$work/probe"
if [[ ! -e "$probe" ]]; then
  mkdir -p "$mnt/.ftpfleet/health"
  if (set -C && cat "$work/probe" >"$probe") 2>/dev/null; then echo "created .ftpfleet/health/probe"; fi
fi
[[ -f "$probe" ]] || fail "cannot write .ftpfleet/health/probe to the bucket"
if ! cmp -s "$work/probe" "$probe"; then
  echo "warning: .ftpfleet/health/probe is not 'ftpfleet health probe': every check fails until it is" >&2
fi

# 2. The account's home is the read-only view of .ftpfleet/health/ (links off): every check reads
# through s3fs. Outside apply-users' homes, which never touch it. A view of an earlier mount
# (after the audit's repair) or with other options is made again.
dev="$(findmnt -n -r -o MAJ:MIN --mountpoint "$mnt")"
view() { findmnt -n -r -o MAJ:MIN,FSROOT,VFS-OPTIONS --mountpoint "$home" | tail -n 1; }
if mountpoint -q "$home" && [[ "$(view)" != "$dev /.ftpfleet/health ro,"*nosymfollow* ]]; then
  umount -l "$home"
fi
if ! mountpoint -q "$home"; then
  install -d -m 0755 "$home"
  mount --no-canonicalize --bind "$mnt/.ftpfleet/health" "$home" || fail "cannot mount .ftpfleet/health"
  mount --no-canonicalize -o remount,bind,ro,nosymfollow "$home"
  if [[ "$(view)" != "$dev /.ftpfleet/health ro,"*nosymfollow* ]]; then
    umount -l "$home"
    fail "the view at $home would not show exactly .ftpfleet/health"
  fi
fi

# 3. The password: random, in a file only the agent's account reads; never in a command line, an
# environment or output. openssl hashes it from its standard input.
install -d -m 0700 -o "$agent_uid" -g "$agent_gid" "$health"
if [[ ! -s "$health/secret" ]]; then
  (
    umask 077
    head -c 48 /dev/urandom | base64 -w 0 | tr '+/' '-_' >"$health/secret.new"
  )
  mv -f "$health/secret.new" "$health/secret"
fi
chown "$agent_uid:$agent_gid" "$health/secret"
chmod 0600 "$health/secret"
hash="$(openssl passwd -6 -stdin <"$health/secret")"
[[ "$hash" == \$6\$* ]] || fail "openssl passwd gave no SHA-512 crypt hash"
printf '%s:%s:%s:%s::%s/./::::::::::::\n' "$user" "$hash" "$uid" "$gid" "$home" >"$work/passwd"
install -m 0600 "$work/passwd" "$conf/health.passwd"
puredb_build "$conf/pureftpd.passwd"

# 4. The agent, and its command line (no secret in it). FTPS whenever pure-ftpd offers it.
program="$(cat "$(dirname "${BASH_SOURCE[0]}")/lib/health-agent.py")"
install -d -m 0755 "$(dirname "$agent")"
printf '%s\n' "$program" >"$work/agent.py"
install -m 0644 "$work/agent.py" "$agent"
# s3fs stages uploads in its tmpdir (mount-bucket.sh), /tmp by default.
staging="$(awk -v mnt="$mnt" '$2 == mnt { print $4 }' "$root/etc/fstab" | tr , '\n' | sed -n 's/^tmpdir=//p')"
args=("$python" -I "$agent" --port "$port" --secret "$health/secret"
  --disk "$root/" --disk "${staging:-/tmp}")
protocol=FTP
if grep -qx -e --tls "$conf/args"; then
  args+=(--ftps)
  protocol=FTPS
fi
printf '%s\n' "${args[@]}" >"$work/args"
install -m 0644 "$work/args" "$health/args"
echo "$user $agent_uid $agent_gid" >"$health/account"
echo "health: GET /health on port $port, checks over $protocol"
# The sandbox runs the command line itself.
[[ -z "$root" ]] || exit 0

unit=/etc/systemd/system/ftpfleet-health.service
unit_text="$(cat "$(dirname "${BASH_SOURCE[0]}")/lib/ftpfleet-health.service")"
printf '%s\n' "$unit_text" >"$unit.tmp"
mv -f "$unit.tmp" "$unit"
systemctl daemon-reload
systemctl enable ftpfleet-health.service >/dev/null
systemctl restart ftpfleet-health.service
echo "ftpfleet-health.service (re)started"
# Route53 counts a new check healthy: the instance enters DNS only once it passes its own.
for _ in {1..60}; do
  curl -fsS -o /dev/null "http://127.0.0.1:$port/health" && exit 0
  sleep 1
done
fail "GET /health did not answer 200 within 60 s"
