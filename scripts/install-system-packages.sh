#!/usr/bin/env bash
# Installs the Debian packages the data plane and its tests need (s3fs, pure-ftpd, an FTP client,
# a shell linter, namespace and mount tools), and what building s3fs 1.95 and pure-ftpd 1.0.54
# from the vendored sources takes (the provision document's default, run by the data-plane tests
# and local mode; the build step would otherwise install these itself, on the host). The
# distributions' s3fs and pure-ftpd stay: the tests compare against them (S3fsSource/PureFtpdSource
# distro). Idempotent and quick when nothing is missing.
# Not root: lists what is missing and exits 0, so `npm test` can still run (and skip what needs it).
set -euo pipefail

# The provisioning steps' package helpers: the same check and the same install guard.
# shellcheck source-path=SCRIPTDIR source=../documents/scripts/lib/packages.sh
source "$(dirname "${BASH_SOURCE[0]}")/../documents/scripts/lib/packages.sh"

packages=(
  s3fs fuse3 pure-ftpd lftp shellcheck iproute2 openssl jq procps psmisc util-linux curl dnsutils
  ca-certificates
  # build-daemons.sh: pure-ftpd
  build-essential libssl-dev libsodium-dev
  # build-daemons.sh: s3fs (FUSE 2 headers; libfuse-dev sits beside fuse3 without conflict)
  autoconf automake pkg-config g++ make libfuse-dev libcurl4-openssl-dev libxml2-dev
)

mapfile -t missing < <(missing_packages "${packages[@]}")
if ((${#missing[@]} == 0)); then
  exit 0
fi

if ((EUID != 0)); then
  echo "install-system-packages: not root; missing Debian packages: ${missing[*]}" >&2
  echo "install-system-packages: data-plane tests will be skipped (run as root to install)" >&2
  exit 0
fi

echo "install-system-packages: installing ${missing[*]}" >&2
apt_install_without_service_starts "${missing[@]}"
echo "install-system-packages: done" >&2
