#!/usr/bin/env bash
# Installs the Debian packages the data plane and its tests need (s3fs, pure-ftpd, an FTP client,
# a shell linter, namespace and mount tools). Idempotent and quick when nothing is missing.
# Not root: lists what is missing and exits 0, so `npm test` can still run (and skip what needs it).
set -euo pipefail

packages=(
  s3fs fuse3 pure-ftpd lftp shellcheck iproute2 openssl jq procps psmisc util-linux curl dnsutils
  ca-certificates
)

installed() {
  [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" == "installed" ]]
}

missing=()
for pkg in "${packages[@]}"; do
  installed "$pkg" || missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

if ((EUID != 0)); then
  echo "install-system-packages: not root; missing Debian packages: ${missing[*]}" >&2
  echo "install-system-packages: data-plane tests will be skipped (run as root to install)" >&2
  exit 0
fi

# pure-ftpd pulls an inetd and would start daemons on :21 during the install: refuse every
# service start until we are done. A policy-rc.d already present (e.g. Docker's) is put back.
policy=/usr/sbin/policy-rc.d
backup=""
if [[ -e "$policy" ]]; then
  backup="$(mktemp "${policy}.ftpfleet-backup.XXXXXX")"
  cp -p "$policy" "$backup"
fi
restore_policy() {
  if [[ -n "$backup" ]]; then
    mv -f "$backup" "$policy"
  else
    rm -f "$policy"
  fi
}
trap restore_policy EXIT
printf '#!/bin/sh\n# ftpfleet install guard: no service starts during package installation.\nexit 101\n' >"$policy"
chmod 0755 "$policy"

echo "install-system-packages: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-system-packages: done" >&2
