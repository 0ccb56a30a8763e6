#!/usr/bin/env bash
# ftpfleet provisioning step: install what the fleet's daemons need at run time, and make sure
# the distribution's own FTP daemon stays off — ftpfleet runs its own (ftpfleet-pure-ftpd).
# With a component's Source=build (the default) only the libraries its build links: the build
# step installs its compilers only when it compiles (no cached artifact), so instances that
# install cached artifacts never download a toolchain. FUSE: fuse3 (fusermount, a link to
# fusermount3, unmounts FUSE 2 mounts too; it Provides and Breaks Debian's FUSE 2 "fuse", and
# cloud images often ship it) with the FUSE 2 library libfuse2 that s3fs links (s3fs 1.95 uses the
# FUSE 2 API; building it needs libfuse-dev, which sits beside fuse3 without conflict).
#
# Targets Debian 12 and Ubuntu 24.04. Run as root by SSM Run Command (document schema 2.2,
# interpolationType ENV_VAR): parameters arrive as SSM_<Name> variables and are checked again here.
#   SSM_PureFtpdSource  build | distro   (build: pure-ftpd comes from build-daemons.sh instead)
#   SSM_S3fsSource      build | distro   (build: s3fs comes from build-daemons.sh instead)
#   FTPFLEET_ROOT       sandbox prefix for every instance path; empty on AWS.
# Writes: $FTPFLEET_ROOT/etc/ftpfleet/account ("name uid gid" of the account FTP users map to).
# Exit: 0 done, 1 failure, 2 invalid parameter (nothing changed).
set -euo pipefail

step=install-packages
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source-path=SCRIPTDIR source=lib/packages.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/packages.sh"

pure_ftpd_source="${SSM_PureFtpdSource-build}"
s3fs_source="${SSM_S3fsSource-build}"
[[ "$pure_ftpd_source" =~ ^(distro|build)$ ]] || invalid PureFtpdSource "expected distro or build"
[[ "$s3fs_source" =~ ^(distro|build)$ ]] || invalid S3fsSource "expected distro or build"

account=ftpfleet
# The sandbox never touches the host's accounts: its files belong to a fixed, unused uid/gid.
sandbox_id=2121

# openssl and python3: the health agent (configure-health.sh); both on the official images already.
packages=(fuse3 jq curl ca-certificates procps psmisc util-linux iproute2 openssl python3)
# The libraries the builds link. "a|b": Ubuntu 24.04 renamed some for 64-bit time (…t64).
if [[ "$s3fs_source" == distro ]]; then
  packages+=(s3fs)
else
  packages+=("libfuse2t64|libfuse2" "libcurl4t64|libcurl4" "libxml2" "libssl3t64|libssl3")
fi
if [[ "$pure_ftpd_source" == distro ]]; then
  packages+=(pure-ftpd)
else
  packages+=("libssl3t64|libssl3" libsodium23)
fi

mapfile -t missing < <(missing_packages "${packages[@]}")
if ((${#missing[@]} > 0)); then
  echo "installing: ${missing[*]}"
  apt_install_without_service_starts "${missing[@]}"
else
  echo "packages already installed: ${packages[*]}"
fi

if [[ -z "$root" ]]; then
  # We run our own unit; the distribution's daemon (standalone or via inetd) must not hold :21.
  if command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
    systemctl disable --now pure-ftpd.service >/dev/null 2>&1 || true
    systemctl mask pure-ftpd.service >/dev/null 2>&1 || true
  fi
  if [[ -f /etc/inetd.conf ]] && grep -qE '^[^#]*pure-ftpd' /etc/inetd.conf; then
    sed -i -E 's/^([^#]*pure-ftpd)/#ftpfleet-disabled# \1/' /etc/inetd.conf
  fi
  if ! getent passwd "$account" >/dev/null; then
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin "$account"
  fi
  uid="$(id -u "$account")"
  gid="$(id -g "$account")"
else
  echo "sandbox ($root): host services and accounts left alone"
  uid="$sandbox_id"
  gid="$sandbox_id"
fi

install -d -m 0755 "$root/etc/ftpfleet"
printf '%s %s %s\n' "$account" "$uid" "$gid" >"$root/etc/ftpfleet/account"
echo "account: $account uid=$uid gid=$gid"
