#!/usr/bin/env bash
# ftpfleet provisioning step: install s3fs-fuse 1.95 and pure-ftpd 1.0.54 built from their pinned
# releases (each <Component>Source=build, the default), before mount-bucket.sh mounts the bucket
# with that s3fs. Each is compiled once per fleet, OS release and architecture; later instances
# install the sealed artifact the first one cached in the bucket (lib/build.sh: sources from
# https:// or from the bucket, read with lib/bucket.sh since s3fs is not there yet to mount it;
# checksum; artifact cache). One step for both, built at once: SSM documents are limited to
# 64 KiB, and every step carries its own copy of the libraries.
#
# Why s3fs 1.95 and not the distribution's (Debian 12: 1.90): 1.91+ can skip hashing upload
# payloads (enable_unsigned_payload, the biggest upload lever measured), 1.90 fails uploads larger
# than its temp folder's free space, 1.95 retries HTTP 429 and fixes a deadlock and a
# use-after-free; 1.96 and 1.97 fail renames of files over 512 MB.
# Why pure-ftpd 1.0.54 and not the distribution's (1.0.50, built --with-quotas): with quotas
# compiled in, DELE renames a file to a dot-file before unlinking it, and on s3fs a rename is a
# server-side copy of the whole object; 1.0.52/1.0.53 fixed out-of-bounds reads in MLSD, 1.0.54 is
# a hardening round. Two daemons, as Debian ships them: pure-ftpd (real chroot; the default bind
# layout) and pure-ftpd-virtualchroot (follows links out of the chroot; only the opt-in symlink
# layout). Neither uses sendfile, neither has quotas.
#
# Targets Debian 12 and Ubuntu 24.04. Run as root by SSM Run Command after install-packages.sh
# (schema 2.2, ENV_VAR interpolation; parameters are checked again here).
#   SSM_S3fsSource, SSM_PureFtpdSource   build | distro (install-packages.sh installed the
#                               distribution's package: nothing to do here)
#   SSM_S3fsSourceUrl, SSM_PureFtpdSourceUrl   https://host/path or bucket:.ftpfleet/sources/NAME
#                               (an object in the fleet's bucket); default: the official release
#   SSM_S3fsSourceSha256, SSM_PureFtpdSourceSha256   SHA-256 of that tarball; a mismatch is
#                               refused, nothing extracted or installed
#   SSM_BucketName, SSM_BucketRegion, SSM_S3Endpoint   the bucket (see lib/bucket.sh)
#   SSM_ArtifactKeyParameter    SecureString parameter holding the artifact key; empty:
#                               $FTPFLEET_ROOT/etc/ftpfleet/artifact.key. No key: no caching.
#   FTPFLEET_ROOT               sandbox prefix for every instance path; empty on AWS.
# Writes: $FTPFLEET_ROOT/usr/local/bin/s3fs, $FTPFLEET_ROOT/usr/local/{sbin,bin}/pure-*, the
# artifacts in the bucket (after a build), $FTPFLEET_ROOT/etc/ftpfleet/installed/<component>
# (the installed artifact's name).
# Exit: 0 installed (or already were), 1 failure (checksum mismatch: nothing extracted or
# installed), 2 invalid parameter (nothing changed).
set -euo pipefail

step=build-daemons
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source-path=SCRIPTDIR source=lib/packages.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/packages.sh"
# shellcheck source-path=SCRIPTDIR source=lib/bucket.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/bucket.sh"
# shellcheck source-path=SCRIPTDIR source=lib/artifacts.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/artifacts.sh"
# shellcheck source-path=SCRIPTDIR source=lib/build.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/build.sh"

s3fs_kind="${SSM_S3fsSource-build}"
s3fs_url="${SSM_S3fsSourceUrl-https://github.com/s3fs-fuse/s3fs-fuse/archive/refs/tags/v1.95.tar.gz}"
s3fs_sha256="${SSM_S3fsSourceSha256-0c97b8922f005500d36f72aee29a1345c94191f61d795e2a7b79fb7e3e6f5517}"
pure_ftpd_kind="${SSM_PureFtpdSource-build}"
pure_ftpd_url="${SSM_PureFtpdSourceUrl-https://download.pureftpd.org/pub/pure-ftpd/releases/pure-ftpd-1.0.54.tar.gz}"
pure_ftpd_sha256="${SSM_PureFtpdSourceSha256-dc9140420ec44f7829579591ff378aa6396b4604b9c6aeae847368e0f35bd7b2}"
build_parameters S3fs "$s3fs_kind" "$s3fs_url" "$s3fs_sha256"
build_parameters PureFtpd "$pure_ftpd_kind" "$pure_ftpd_url" "$pure_ftpd_sha256"
[[ -z "${SSM_ArtifactKeyParameter:-}" || "${SSM_ArtifactKeyParameter:-}" =~ ^(/[A-Za-z0-9_.-]+)+$ ]] ||
  invalid ArtifactKeyParameter "expected an SSM parameter name such as /ftpfleet/artifact-key"

s3fs_component() {
  component=s3fs
  version=1.95
  source_dir=s3fs-fuse-1.95
  parameter=S3fs
  # OpenSSL for its hashing, as the build dependencies below. No -g: install-strip drops debug
  # information anyway (the code is the same), and generating it costs a third of the compile.
  flags=(--prefix=/usr/local --disable-dependency-tracking CXXFLAGS=-O2 --with-openssl)
  build_packages=(autoconf automake pkg-config g++ make libfuse-dev libcurl4-openssl-dev libxml2-dev libssl-dev)
  programs=(usr/local/bin/s3fs)

  # The release tag's archive: no generated configure, hence autogen.sh.
  build_source() {
    local dir="$work/s3fs"
    mkdir -p "$dir"
    tar -xzf "$1" -C "$dir" --strip-components=1
    build_run "$dir" ./autogen.sh
    build_run "$dir" ./configure "${flags[@]}"
    # Behind pure-ftpd's single-threaded configure, which would otherwise wait for a core.
    build_run "$dir" nice -n 10 make -j"$(nproc)"
    build_run "$dir" make install-strip DESTDIR="$2"
  }

  check_programs() {
    local said
    said="$("$root/usr/local/bin/s3fs" --version 2>&1 | head -n 1)" || true
    if [[ "$said" != *" V$version "* ]]; then
      echo "the installed s3fs is not $version: ${said:-it does not run}" >&2
      return 1
    fi
  }
}

pure_ftpd_component() {
  component=pure-ftpd
  version=1.0.54
  source_dir=pure-ftpd-1.0.54
  parameter=PureFtpd
  # No --with-quotas (DELE must be one unlink), no sendfile; ftpwho for the session list that
  # apply-users and drain read. The virtualchroot daemon is the same plus --with-virtualchroot.
  flags=(--prefix=/usr/local --without-sendfile --with-puredb --with-tls --with-ftpwho)
  build_packages=(build-essential libssl-dev libsodium-dev)
  programs=(usr/local/sbin/pure-ftpd usr/local/sbin/pure-ftpd-virtualchroot usr/local/sbin/pure-ftpwho
    usr/local/bin/pure-pw)

  # Two configurations of one release; the second reuses the first's configure results (its
  # cache holds what was found on this system, not the options), which saves most of its time.
  build_source() {
    local variant variant_flags
    for variant in plain virtualchroot; do
      variant_flags=("${flags[@]}")
      [[ "$variant" == plain ]] || variant_flags+=(--with-virtualchroot)
      mkdir -p "$work/$variant"
      tar -xzf "$1" -C "$work/$variant" --strip-components=1
      build_run "$work/$variant" ./configure "${variant_flags[@]}" --cache-file="$work/config.cache"
      build_run "$work/$variant" make -j"$(nproc)"
    done
    build_run "$work/plain" make install-strip DESTDIR="$2"
    build_run "$work" install -s -m 0755 virtualchroot/src/pure-ftpd "$2/usr/local/sbin/pure-ftpd-virtualchroot"
  }

  # As root, pure-ftpd --help starts with "pure-ftpd v<version>" and lists every option it was
  # compiled with: a build with quotas lists --quota.
  check_programs() {
    local daemon said
    for daemon in pure-ftpd pure-ftpd-virtualchroot; do
      said="$("$root/usr/local/sbin/$daemon" --help 2>&1)" || true
      if [[ "${said%%$'\n'*}" != "pure-ftpd v$version"* ]]; then
        echo "the installed $daemon is not $version: ${said%%$'\n'*}" >&2
        return 1
      elif grep -q -- '--quota' <<<"$said"; then
        echo "the installed $daemon was built with quotas (DELE would copy every file)" >&2
        return 1
      fi
    done
  }
}

# Here, not in a job: a bad bucket parameter exits 2 before anything starts.
[[ "$s3fs_kind$pure_ftpd_kind" == distrodistro ]] || s3_parameters

# Both at once, each in a subshell (its own variables and work folder): configure scripts use one
# core, so two builds overlap on two. Each one's output goes to files, shown whole once both end.
logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT
build_lock="$logs/apt.lock"
(
  s3fs_component
  build_step "$s3fs_kind" "$s3fs_url" "$s3fs_sha256"
) >"$logs/s3fs.out" 2>"$logs/s3fs.err" &
s3fs_pid=$!
(
  pure_ftpd_component
  build_step "$pure_ftpd_kind" "$pure_ftpd_url" "$pure_ftpd_sha256"
) >"$logs/pure-ftpd.out" 2>"$logs/pure-ftpd.err" &
failed=()
for job in "s3fs $s3fs_pid" "pure-ftpd $!"; do
  status=0
  wait "${job#* }" || status=$?
  cat "$logs/${job% *}.out"
  cat "$logs/${job% *}.err" >&2
  ((status == 0)) || failed+=("${job% *}")
done
((${#failed[@]} == 0)) || fail "not installed: ${failed[*]} (the messages above say why)"
