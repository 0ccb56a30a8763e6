#!/usr/bin/env bash
# ftpfleet provisioning step (PureFtpdSource=build): install pure-ftpd built from a pinned
# upstream release. The build runs once per version and flags: the install tree is cached in the
# bucket (.ftpfleet/artifacts/), and every later instance unpacks it instead of compiling.
# Two binaries, as Debian ships them: pure-ftpd (real chroot; the default bind layout) and
# pure-ftpd-virtualchroot (follows links out of the chroot; only the opt-in symlink layout).
# Neither uses sendfile: deleting a large file on s3fs must not first copy it.
#
# Targets Debian 12 and Ubuntu 24.04. Run as root by SSM Run Command after mount-bucket.sh
# (schema 2.2, ENV_VAR interpolation; parameters are checked again here).
#   SSM_PureFtpdSource            distro | build; with distro this step does nothing
#   FTPFLEET_ROOT                 sandbox prefix for every instance path; empty on AWS.
#   FTPFLEET_PUREFTPD_SOURCE_URL  override of the source tarball's location (https:// or
#                                 file://), for mirrors and tests; the checksum still applies.
# Writes: $FTPFLEET_ROOT/usr/local/{sbin,bin}/pure-*, the artifact in the bucket (cache miss),
# $FTPFLEET_ROOT/etc/ftpfleet/pure-ftpd/installed-artifact.
# Exit: 0 installed (or already was), 1 failure (checksum mismatch: nothing extracted or
# installed), 2 invalid parameter.
set -euo pipefail

version=1.0.52
# SHA-256 of pure-ftpd-1.0.52.tar.gz as published upstream (the value Homebrew pins too).
source_sha256=1126f3a95856d08889ff89703cb1aa9ec9924d939d154e96904c920f05dc3c74
common_flags=(--prefix=/usr/local --without-sendfile --with-puredb --with-tls --with-ftpwho)
plain_flags=("${common_flags[@]}")
virtualchroot_flags=("${common_flags[@]}" --with-virtualchroot)

step=build-pure-ftpd
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source-path=SCRIPTDIR source=lib/packages.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/packages.sh"

source_kind="${SSM_PureFtpdSource:-}"
url="${FTPFLEET_PUREFTPD_SOURCE_URL:-https://download.pureftpd.org/pub/pure-ftpd/releases/pure-ftpd-$version.tar.gz}"
[[ "$source_kind" =~ ^(distro|build)$ ]] || invalid PureFtpdSource "expected distro or build"
[[ "$url" =~ ^(https://[A-Za-z0-9.-]+|file://)/[A-Za-z0-9._/%+-]+$ && "$url" != *..* ]] ||
  invalid FTPFLEET_PUREFTPD_SOURCE_URL "expected an https:// or file:// URL"

if [[ "$source_kind" == distro ]]; then
  echo "PureFtpdSource=distro: using the distribution's pure-ftpd; nothing to build"
  exit 0
fi

mnt="$root/mnt/ftpfleet/bucket"
conf="$root/etc/ftpfleet/pure-ftpd"
key="$(printf '%s\n' "$version" "${plain_flags[*]}" "${virtualchroot_flags[*]}" | sha256sum | cut -c1-16)"
name="pure-ftpd-$version-$key.tar.gz"
artifact="$mnt/.ftpfleet/artifacts/$name"
marker="$conf/installed-artifact"

if [[ "$(cat "$marker" 2>/dev/null || true)" == "$name" && -x "$root/usr/local/sbin/pure-ftpd" ]]; then
  echo "already installed: $name"
  exit 0
fi
mountpoint -q "$mnt" || fail "the bucket is not mounted at $mnt (run mount-bucket first)"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Unpacks an install tree into the root, refusing anything outside usr/local and any link.
install_tree() {
  local tarball="$1" listing names
  # Listings go to variables first: grep -q stops reading early, which pipefail would report.
  listing="$(tar -tvzf "$tarball")" || fail "unreadable artifact $tarball"
  names="$(tar -tzf "$tarball")" || fail "unreadable artifact $tarball"
  if grep -qvE '^[-d]' <<<"$listing"; then
    fail "artifact $tarball holds links or special files; refusing it"
  fi
  if grep -qvE '^(\./)?usr(/local(/[A-Za-z0-9._+-]+)*)?/?$' <<<"$names"; then
    fail "artifact $tarball holds paths outside usr/local; refusing it"
  fi
  grep -qE '^(\./)?usr/local/sbin/pure-ftpd$' <<<"$names" ||
    fail "artifact $tarball has no usr/local/sbin/pure-ftpd"
  mkdir -p "${root:-/}"
  tar -xzf "$tarball" -C "${root:-/}" --no-same-owner
  install -d -m 0755 "$conf"
  echo "$name" >"$marker"
}

# Cache hit: copy out of the bucket first (one read), check it against its recorded checksum.
if [[ -f "$artifact" && -f "$artifact.sha256" ]]; then
  cp "$artifact" "$work/$name"
  if [[ "$(sha256sum "$work/$name" | cut -d' ' -f1)" == "$(cut -d' ' -f1 "$artifact.sha256")" ]]; then
    install_tree "$work/$name"
    echo "installed from cached artifact $name (no build)"
    exit 0
  fi
  echo "cached artifact $name does not match its checksum; rebuilding" >&2
fi
echo "cache miss: $artifact"

curl -fsSL --retry 3 --max-time 300 -o "$work/source.tar.gz" "$url" || fail "cannot download $url"
actual="$(sha256sum "$work/source.tar.gz" | cut -d' ' -f1)"
if [[ "$actual" != "$source_sha256" ]]; then
  fail "checksum mismatch for $url: expected $source_sha256, got $actual; nothing installed"
fi

mapfile -t missing < <(missing_packages build-essential libssl-dev libsodium-dev)
if ((${#missing[@]} > 0)); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

stage="$work/stage"
build() { # build <dir> <configure flags...>
  local dir="$1"
  shift
  mkdir -p "$dir"
  tar -xzf "$work/source.tar.gz" -C "$dir" --strip-components=1
  (cd "$dir" && ./configure --quiet "$@" && make -s -j"$(nproc)")
}
build "$work/plain" "${plain_flags[@]}"
make -s -C "$work/plain" install DESTDIR="$stage"
build "$work/virtualchroot" "${virtualchroot_flags[@]}"
install -m 0755 "$work/virtualchroot/src/pure-ftpd" "$stage/usr/local/sbin/pure-ftpd-virtualchroot"
find "$stage" ! -type f ! -type d -delete

tar -czf "$work/$name" -C "$stage" usr
install_tree "$work/$name"
# Publish for the other instances: write under temporary names, then rename into place.
mkdir -p "$mnt/.ftpfleet/artifacts"
cp "$work/$name" "$artifact.$$.tmp"
mv -f "$artifact.$$.tmp" "$artifact"
sha256sum "$work/$name" | cut -d' ' -f1 >"$artifact.sha256.$$.tmp"
mv -f "$artifact.sha256.$$.tmp" "$artifact.sha256"
echo "built pure-ftpd $version and cached $name"
