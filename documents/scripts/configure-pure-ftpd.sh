#!/usr/bin/env bash
# ftpfleet provisioning step: write pure-ftpd's configuration and (on AWS) (re)start it as the
# systemd unit ftpfleet-pure-ftpd. Virtual users only (puredb), no anonymous access, everyone
# chrooted into a home that apply-users.sh builds, passive mode on the instance's own address.
#
# Targets Debian 12 and Ubuntu 24.04. Run as root by SSM Run Command (schema 2.2, ENV_VAR
# interpolation); parameters arrive as SSM_<Name> variables and are checked again here.
#   SSM_PassivePorts   e.g. 30000:30099 (the range the security group opens)
#   SSM_PublicAddress  IPv4 advertised for passive data connections; empty: ask instance
#                      metadata (IMDSv2) for the public IPv4, else the private one
#   SSM_TlsMode        required (the default: FTPS only, control and data channels encrypted) |
#                      optional (plain FTP too) | off; optional/required need the operator's PEM
#                      (key + certificate) at /etc/ftpfleet/tls/pure-ftpd.pem. TLS 1.2 and 1.3
#                      only, AEAD cipher suites with forward secrecy only.
#   SSM_MaxClients     sessions at once, 1-9999 (default 50; pure-ftpd itself allows at most half
#                      the passive ports)
#   SSM_MaxClientsPerIp  sessions at once from one address, 1-MaxClients (default 10)
#   FTPFLEET_ROOT      sandbox prefix for every instance path; empty on AWS. When set, systemd is
#                      not touched: whoever runs the sandbox starts the command line in `args`.
# Needs $FTPFLEET_ROOT/etc/ftpfleet/account (install-packages.sh).
# Writes under $FTPFLEET_ROOT/etc/ftpfleet/pure-ftpd/: args (the daemon's command line, one
# argument per line), pureftpd.passwd + pureftpd.pdb (created empty if missing); on AWS also
# /etc/systemd/system/ftpfleet-pure-ftpd.service.
# Exit: 0 configured (and restarted), 1 failure, 2 invalid parameter (nothing changed).
set -euo pipefail

step=configure-pure-ftpd
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
is_ipv4() {
  local IFS=. octet
  [[ "$1" =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]] || return 1
  for octet in $1; do ((10#$octet <= 255)) || return 1; done
}

# TLS 1.2 suites: ECDHE key exchange, AES-GCM or ChaCha20-Poly1305 (no CBC, no SHA-1 MAC, no
# static RSA). TLS 1.3's suites are all AEAD; TLS 1.0 and 1.1 pure-ftpd (>= 1.0.48) refuses itself.
ciphers=ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384
ciphers+=:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305

ports="${SSM_PassivePorts:-}"
address="${SSM_PublicAddress:-}"
# The document's defaults again, for a run without them: the secure choice is the default.
tls="${SSM_TlsMode-required}"
max_clients="${SSM_MaxClients-50}"
max_per_ip="${SSM_MaxClientsPerIp-10}"
[[ "$ports" =~ ^([0-9]{4,5}):([0-9]{4,5})$ ]] || invalid PassivePorts "expected LOW:HIGH, e.g. 30000:30099"
low="${BASH_REMATCH[1]}"
high="${BASH_REMATCH[2]}"
((10#$low >= 1024 && 10#$low <= 10#$high && 10#$high <= 65535)) ||
  invalid PassivePorts "expected 1024 <= LOW <= HIGH <= 65535"
# With a single port pure-ftpd would drop its session limit altogether (half of one port is 0).
((10#$high > 10#$low)) || invalid PassivePorts "expected at least two ports"
[[ -z "$address" ]] || is_ipv4 "$address" || invalid PublicAddress "expected empty or an IPv4 address"
[[ "$tls" =~ ^(off|optional|required)$ ]] || invalid TlsMode "expected off, optional or required"
[[ "$max_clients" =~ ^[1-9][0-9]{0,3}$ ]] || invalid MaxClients "expected a number from 1 to 9999"
[[ "$max_per_ip" =~ ^[1-9][0-9]{0,3}$ ]] || invalid MaxClientsPerIp "expected a number from 1 to 9999"
((max_per_ip <= max_clients)) || invalid MaxClientsPerIp "expected at most MaxClients ($max_clients)"

conf="$root/etc/ftpfleet/pure-ftpd"
pem="$root/etc/ftpfleet/tls/pure-ftpd.pem"
read_account


if [[ -z "$address" ]]; then
  imds=http://169.254.169.254/latest
  token="$(curl -fsS --max-time 2 -X PUT "$imds/api/token" \
    -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' 2>/dev/null || true)"
  [[ -n "$token" ]] || fail "PublicAddress is empty and instance metadata (IMDSv2) is unreachable"
  for item in public-ipv4 local-ipv4; do
    address="$(curl -fsS --max-time 2 -H "X-aws-ec2-metadata-token: $token" \
      "$imds/meta-data/$item" 2>/dev/null || true)"
    is_ipv4 "$address" && break
    address=""
  done
  [[ -n "$address" ]] || fail "instance metadata has no IPv4 address for this instance"
fi

# The layout apply-users.sh last applied decides the binary: only the opt-in symlink layout
# needs virtualchroot, which follows links out of the chroot.
layout="$(cat "$conf/layout" 2>/dev/null || echo bind)"
if [[ "$layout" == symlink ]]; then
  daemon="$(find_program pure-ftpd-virtualchroot)"
else
  daemon="$(find_program pure-ftpd)"
fi
pure_pw="$(find_program pure-pw)"

args=(
  "$daemon"
  --bind "0.0.0.0,21"
  --noanonymous
  --login "puredb:$conf/pureftpd.pdb"
  --chrooteveryone
  --dontresolve
  --nochmod
  --minuid "$uid"
  --passiveportrange "$low:$high"
  --forcepassiveip "$address"
  --maxclientsnumber "$max_clients"
  --maxclientsperip "$max_per_ip"
  # LIST, NLST and MLSD stop at this many entries (default 10,000: a larger folder came back cut
  # short). Each is held in memory until sent (~150-250 bytes): a bound on one listing that still
  # lists a folder of 100,000 objects whole. ls -R goes 5 levels deep, the default.
  --limitrecursion "200000:5"
)
case "$tls" in
  off) ;;
  optional | required)
    [[ -r "$pem" ]] || fail "TlsMode=$tls needs a PEM with key and certificate at $pem"
    if ! grep -q 'PRIVATE KEY-----' "$pem" || ! grep -q 'BEGIN CERTIFICATE-----' "$pem"; then
      fail "$pem must hold both a private key and a certificate"
    fi
    if [[ "$tls" == optional ]]; then level=1; else level=3; fi
    args+=(--tls "$level" --certfile "$pem" --tlsciphersuite "$ciphers")
    ;;
esac

install -d -m 0755 "$conf" "$root/run/ftpfleet"
if [[ ! -e "$conf/pureftpd.passwd" ]]; then
  install -m 0600 /dev/null "$conf/pureftpd.passwd"
fi
if [[ ! -e "$conf/pureftpd.pdb" ]]; then
  "$pure_pw" mkdb "$conf/pureftpd.pdb" -f "$conf/pureftpd.passwd" >/dev/null
fi
tmp="$(mktemp "$conf/args.XXXXXX")"
printf '%s\n' "${args[@]}" >"$tmp"
chmod 0644 "$tmp"
mv -f "$tmp" "$conf/args"
# pure-ftpd caps sessions at half the passive ports (not to run out of them), without a word.
pairs=$(((10#$high - 10#$low + 1) / 2))
effective=$((max_clients < pairs ? max_clients : pairs))
echo "pure-ftpd: $daemon, passive $low-$high on $address, TLS $tls," \
  "at most $effective sessions ($max_per_ip per address)"
if ((effective < max_clients)); then
  echo "MaxClients $max_clients lowered to $effective: pure-ftpd allows at most half the passive ports" >&2
fi

if [[ -n "$root" ]]; then
  echo "sandbox ($root): not touching systemd; the command line is in $conf/args"
  exit 0
fi

unit=/etc/systemd/system/ftpfleet-pure-ftpd.service
cat >"$unit.tmp" <<UNIT
[Unit]
Description=ftpfleet FTP server (pure-ftpd, virtual users, files in S3)
Wants=network-online.target
After=network-online.target remote-fs.target
RequiresMountsFor=/mnt/ftpfleet/bucket

[Service]
Type=simple
# The command line lives in one file, shared with the local sandbox's runner.
ExecStart=/bin/bash -c 'mapfile -t args </etc/ftpfleet/pure-ftpd/args && exec "\$\${args[@]}"'
Restart=always
RestartSec=2

[Install]
WantedBy=multi-user.target
UNIT
mv -f "$unit.tmp" "$unit"
systemctl daemon-reload
systemctl enable ftpfleet-pure-ftpd.service >/dev/null
systemctl restart ftpfleet-pure-ftpd.service
echo "ftpfleet-pure-ftpd.service (re)started"
