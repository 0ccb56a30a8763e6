#!/usr/bin/env bash
# ftpfleet provisioning step (PureFtpdSource=build): install pure-ftpd built from a pinned
# upstream release. The build runs once per version and flags: the install tree is cached in the
# bucket (.ftpfleet/artifacts/) sealed with the fleet's artifact key (lib/artifacts.sh), and later
# instances unpack it instead of compiling. A cached artifact with a missing or wrong MAC, or
# holding anything but files and directories in usr/local, is never installed: the step builds
# instead and replaces it. Two binaries, as Debian ships them: pure-ftpd (real chroot; the
# default bind layout) and pure-ftpd-virtualchroot (follows links out of the chroot; only the
# opt-in symlink layout). Neither uses sendfile: deleting a large file on s3fs must not copy it.
#
# Targets Debian 12 and Ubuntu 24.04. Run as root by SSM Run Command after mount-bucket.sh
# (schema 2.2, ENV_VAR interpolation; parameters are checked again here).
#   SSM_PureFtpdSource            distro | build; with distro this step does nothing
#   SSM_ArtifactKeyParameter      SecureString parameter holding the artifact key; empty:
#                                 $FTPFLEET_ROOT/etc/ftpfleet/artifact.key. No key: no caching.
#   FTPFLEET_ROOT                 sandbox prefix for every instance path; empty on AWS.
#   FTPFLEET_PUREFTPD_SOURCE_URL  override of the source tarball's location (https:// or
#                                 file://), for mirrors and tests; the checksum still applies.
# Writes: $FTPFLEET_ROOT/usr/local/{sbin,bin}/pure-*, the artifact in the bucket (after a build),
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
# shellcheck source-path=SCRIPTDIR source=lib/artifacts.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/artifacts.sh"

source_kind="${SSM_PureFtpdSource:-}"
key_parameter="${SSM_ArtifactKeyParameter:-}"
url="${FTPFLEET_PUREFTPD_SOURCE_URL:-https://download.pureftpd.org/pub/pure-ftpd/releases/pure-ftpd-$version.tar.gz}"
[[ "$source_kind" =~ ^(distro|build)$ ]] || invalid PureFtpdSource "expected distro or build"
[[ -z "$key_parameter" || "$key_parameter" =~ ^(/[A-Za-z0-9_.-]+)+$ ]] ||
  invalid ArtifactKeyParameter "expected an SSM parameter name such as /ftpfleet/artifact-key"
[[ "$url" =~ ^(https://[A-Za-z0-9.-]+|file://)/[A-Za-z0-9._/%+-]+$ && "$url" != *..* ]] ||
  invalid FTPFLEET_PUREFTPD_SOURCE_URL "expected an https:// or file:// URL"

if [[ "$source_kind" == distro ]]; then
  echo "PureFtpdSource=distro: using the distribution's pure-ftpd; nothing to build"
  exit 0
fi

mnt="$root/mnt/ftpfleet/bucket"
conf="$root/etc/ftpfleet/pure-ftpd"
cache_key="$(printf '%s\n' "$version" "${plain_flags[*]}" "${virtualchroot_flags[*]}" | sha256sum | cut -c1-16)"
name="pure-ftpd-$version-$cache_key.tar.gz"
# The sealed artifact (lib/artifacts.sh): MAC line, then the .tar.gz.
artifact="$mnt/.ftpfleet/artifacts/$name.sealed"
marker="$conf/installed-artifact"

if [[ "$(cat "$marker" 2>/dev/null || true)" == "$name" && -x "$root/usr/local/sbin/pure-ftpd" ]]; then
  echo "already installed: $name"
  exit 0
fi
mountpoint -q "$mnt" || fail "the bucket is not mounted at $mnt (run mount-bucket first)"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
artifact_load_key

# Unpacks an install tree into the root once archive_check_members has passed it (only plain
# files and directories under usr/local); returns 1, extracting nothing, otherwise.
install_tree() {
  local tarball="$1"
  archive_check_members "$tarball" usr/local || return 1
  if ! grep -qxE 'usr/local/sbin/pure-ftpd' <<<"$(tar -tzf "$tarball")"; then
    echo "artifact $tarball has no usr/local/sbin/pure-ftpd; refusing it" >&2
    return 1
  fi
  mkdir -p "${root:-/}"
  tar -xzf "$tarball" -C "${root:-/}" --no-same-owner --no-overwrite-dir || return 1
  install -d -m 0755 "$conf"
  echo "$name" >"$marker"
}

# Cache hit: installed only if sealed with the fleet's key and its members pass the check.
if [[ -z "$artifact_key" ]]; then
  echo "no artifact key (ArtifactKeyParameter or $root/etc/ftpfleet/artifact.key): the cache is" \
    "neither trusted nor written; building from source" >&2
elif [[ -e "$artifact" ]]; then
  if artifact_fetch "$artifact" "$work/$name" && install_tree "$work/$name"; then
    echo "installed from cached artifact $name (MAC verified, no build)"
    exit 0
  fi
  rm -f "$work/$name"
  echo "cached artifact $name was NOT installed; building from source to replace it" >&2
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
install_tree "$work/$name" || fail "the build of $name did not pass its own checks; nothing installed"
if [[ -z "$artifact_key" ]]; then
  echo "built pure-ftpd $version; not cached (no artifact key)"
elif artifact_fetch "$artifact" "$work/published.tar.gz" 2>/dev/null; then
  # Another instance built and published meanwhile: keep its artifact rather than publish twice.
  echo "built pure-ftpd $version; $name was published meanwhile by another instance"
else
  artifact_publish "$work/$name" "$artifact"
  echo "built pure-ftpd $version and cached $name"
fi
