# shellcheck shell=bash
# Debian package helpers, for the steps that install packages (and for the project's own
# scripts/install-system-packages.sh). Inlined into a step like lib/common.sh.

# Prints each named Debian package that is not installed, one a line. "a|b" names alternatives
# (a library renamed between releases, e.g. Ubuntu 24.04's libssl3t64 for libssl3): nothing if one
# of them is installed, else the first one apt has a candidate for (the package lists are updated
# once for that), else the last.
missing_packages() {
  local pkg alternative chosen updated=0 alternatives=()
  package_installed() { [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" == installed ]]; }
  for pkg in "$@"; do
    IFS='|' read -ra alternatives <<<"$pkg"
    chosen=""
    for alternative in "${alternatives[@]}"; do
      if package_installed "$alternative"; then
        chosen="$alternative"
        break
      fi
    done
    [[ -z "$chosen" ]] || continue
    if ((${#alternatives[@]} > 1)); then
      if ((updated == 0)); then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1 || true
        updated=1
      fi
      for alternative in "${alternatives[@]}"; do
        if [[ "$(apt-cache policy "$alternative" 2>/dev/null | sed -n 's/^ *Candidate: //p')" =~ ^[0-9] ]]; then
          chosen="$alternative"
          break
        fi
      done
    fi
    printf '%s\n' "${chosen:-${alternatives[-1]}}"
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
