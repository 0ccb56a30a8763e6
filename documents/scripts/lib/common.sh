# shellcheck shell=bash
# Shared by every step script. Scripts source it as files; the document bundler inlines it into
# each step, since an SSM step is one self-contained script. Each script sets $step first.

# A parameter with a value outside its pattern: nothing has been changed.
invalid() {
  echo "invalid parameter $1: $2" >&2
  exit 2
}

fail() {
  echo "${step:-ftpfleet}: $*" >&2
  exit 1
}

# The sandbox prefix used by tests and local mode; empty on AWS.
root="${FTPFLEET_ROOT:-}"
[[ -z "$root" || "$root" =~ ^/[A-Za-z0-9._/-]+$ ]] || invalid FTPFLEET_ROOT "expected an absolute path"

# A build from source (build-daemons.sh) lands in /usr/local and wins over the distro package.
find_program() {
  local dir
  for dir in "$root/usr/local/sbin" "$root/usr/local/bin" /usr/sbin /usr/bin; do
    if [[ -x "$dir/$1" ]]; then
      printf '%s\n' "$dir/$1"
      return 0
    fi
  done
  fail "$1 is not installed"
}

# Sets uid and gid of the system account FTP users map to (written by install-packages).
read_account() {
  local file="$root/etc/ftpfleet/account"
  [[ -r "$file" ]] || fail "missing $file (run install-packages first)"
  read -r _ uid gid <"$file"
  [[ "$uid" =~ ^[0-9]{1,9}$ && "$gid" =~ ^[0-9]{1,9}$ ]] || fail "malformed $file"
}

# Prints "pid account" for each FTP session of a client on this host; nothing if there is no
# scoreboard yet. pure-ftpwho -s fields: pid|account|time|state|file|peer|local|port|... (-n: no
# DNS lookups). Only this host's addresses count: sandboxed instances in tests share one
# scoreboard. Sessions from 127.0.0.1 are the health agent's (configure-health.sh), not clients'.
ftp_sessions() {
  local who ours
  who="$(find_program pure-ftpwho)" || return
  ours=" $(ip -o -4 addr show | awk '{ sub(/\/.*/, "", $4); printf "%s ", $4 }')" || return
  { "$who" -s -n 2>/dev/null || true; } |
    awk -F'|' -v ours="$ours" 'index(ours, " " $7 " ") && $6 != "127.0.0.1" { print $1, $2 }'
}

# Builds pure-ftpd's puredb from the users' passwd file $1 and the health account's. One file for
# both: pure-ftpd 1.0.54 keeps one puredb name, so every --login puredb:FILE reads the last FILE
# given (pw_puredb_parse in log_puredb.c).
puredb_build() {
  local conf="$root/etc/ftpfleet/pure-ftpd" all
  all="$(mktemp "$conf/all.XXXXXX")"
  cat -- "$1" >"$all"
  if [[ -r "$conf/health.passwd" ]]; then cat -- "$conf/health.passwd" >>"$all"; fi
  "$(find_program pure-pw)" mkdb "$conf/pureftpd.pdb" -f "$all" >/dev/null || {
    rm -f "$all"
    fail "pure-pw mkdb failed"
  }
  rm -f "$all"
}
