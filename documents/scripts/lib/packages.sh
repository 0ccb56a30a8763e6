# shellcheck shell=bash
# Debian package helpers, for the steps that install packages (and for the project's own
# scripts/install-system-packages.sh). Inlined into a step like lib/common.sh.

# Prints each named Debian package that is not installed, one a line.
missing_packages() {
  local pkg
  for pkg in "$@"; do
    [[ "$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)" == installed ]] ||
      printf '%s\n' "$pkg"
  done
}

# apt-get install that no package can start a service during (pure-ftpd pulls an inetd, which
# would take :21); a policy-rc.d already present (e.g. Docker's) is put back. A subshell, so its
# EXIT trap restores on any failure without replacing the caller's own EXIT trap.
apt_install_without_service_starts() (
  (($# > 0)) || exit 0
  policy=/usr/sbin/policy-rc.d
  backup=""
  if [[ -e "$policy" ]]; then
    backup="$(mktemp "$policy.ftpfleet-backup.XXXXXX")"
    cp -p "$policy" "$backup"
  fi
  trap 'if [[ -n "$backup" ]]; then mv -f "$backup" "$policy"; else rm -f "$policy"; fi' EXIT
  printf '#!/bin/sh\n# ftpfleet: no service starts during package installation.\nexit 101\n' >"$policy"
  chmod 0755 "$policy"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
)
