#!/usr/bin/env bash
# ftpfleet provisioning step: mount the bucket with s3fs at /mnt/ftpfleet/bucket, with options
# that never serve stale or truncated files, and record the mount in fstab for reboots.
#
# Targets Debian 12 and Ubuntu 24.04. Run as root by SSM Run Command (schema 2.2, ENV_VAR
# interpolation); parameters arrive as SSM_<Name> variables and are checked again here.
#   SSM_BucketName    S3 bucket name
#   SSM_BucketRegion  e.g. eu-west-1
#   SSM_S3Endpoint    empty on AWS (instance role credentials); http(s)://host[:port] for an
#                     S3-compatible server: path-style requests, keys from
#                     $FTPFLEET_ROOT/etc/ftpfleet/s3fs.passwd (supplied by whoever runs it)
#   FTPFLEET_ROOT     sandbox prefix for every instance path; empty on AWS.
# Needs $FTPFLEET_ROOT/etc/ftpfleet/account (install-packages.sh).
# Uses $FTPFLEET_ROOT/usr/local/bin/s3fs (build-daemons.sh) when installed, else the distribution's.
# Writes: the fstab line in $FTPFLEET_ROOT/etc/fstab; the mount itself (nosymfollow); s3fs's
# temporary folder /var/lib/ftpfleet/s3fs (sandbox: $FTPFLEET_ROOT-s3fs-tmp).
# Exit: 0 mounted (or already was), 1 failure, 2 invalid parameter (nothing changed).
set -euo pipefail

step=mount-bucket
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

bucket="${SSM_BucketName:-}"
region="${SSM_BucketRegion:-}"
endpoint="${SSM_S3Endpoint:-}"
[[ "$bucket" =~ ^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$ && "$bucket" != *..* ]] ||
  invalid BucketName "expected an S3 bucket name"
[[ "$region" =~ ^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$ ]] || invalid BucketRegion "expected e.g. eu-west-1"
[[ -z "$endpoint" || "$endpoint" =~ ^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$ ]] ||
  invalid S3Endpoint "expected empty or http(s)://host[:port]"

mnt="$root/mnt/ftpfleet/bucket"
fstab="$root/etc/fstab"
# s3fs stages every file it serves or receives whole in a temporary file: a folder of its own on
# the root disk (not /tmp, a small tmpfs on some images), which the health agent keeps watch on.
# In the sandbox it sits beside the instance's root, like /tmp outside what the instance holds.
staging=/var/lib/ftpfleet/s3fs
[[ -z "$root" ]] || staging="${root%/}-s3fs-tmp"

read_account
# The kernel follows no link object of the bucket, for root as for pure-ftpd (see apply-users.sh).
# s3fs (libfuse 2) refuses nosymfollow as a mount option: it is a bind remount.
nosymfollow() {
  mount --no-canonicalize -o remount,bind,nosymfollow "$mnt" || fail "cannot set nosymfollow on $mnt"
}
# The s3fs build-daemons.sh installed (S3fsSource=build, the default), else the distribution's.
if [[ -x "$root/usr/local/bin/s3fs" ]]; then
  s3fs="$root/usr/local/bin/s3fs"
else
  s3fs="$(command -v s3fs)" || fail "s3fs is not installed"
fi
version="$("$s3fs" --version 2>/dev/null | sed -nE 's/.*V([0-9]+)\.([0-9]+).*/\1 \2/p' | head -n 1)"
read -r major minor <<<"$version" || true
[[ "${major:-}" =~ ^[0-9]+$ && "${minor:-}" =~ ^[0-9]+$ ]] || fail "cannot read the s3fs version of $s3fs"
at_least() { ((major > $1 || (major == $1 && minor >= $2))); }

# Options, each from a measurement against a local S3 server (docs/provisioning.md, DESIGN.md §3):
# - stat_cache_expire=1,attr_timeout=0,entry_timeout=0,negative_timeout=0 and no data cache (no
#   use_cache, no kernel_cache): the only row of the cache table that never served a stale,
#   truncated or vanished file (defaults: a file listed, then grown in S3, read truncated; stat
#   stale for 900 s), with listings still fast (500 files in 0.1-0.45 s). Only FTP SIZE within a
#   second of a change can lag.
# - the negative cache off: 1.92 turned it on by default (a file uploaded through one server stays
#   invisible on the others for up to 900 s). 1.90 refuses disable_noobj_cache; 1.96 renamed it
#   disable_negative_cache (upstream's ChangeLog, not measured here: the fleet pins 1.95).
# - enable_unsigned_payload (1.91+): s3fs no longer hashes each upload 512 bytes at a time before
#   sending it; a 20 MB FTP upload went from about 0.4 to 0.7-0.9 of a direct PUT. S3 accepts
#   UNSIGNED-PAYLOAD over https (the AWS endpoint below); the local S3 server accepts it too.
# allow_other + uid/gid let the FTP users' account read and write (root-only access would hide
# everything from pure-ftpd's sessions); umask 0007 keeps every other local account out, for
# .ftpfleet/users.json holds every user's password hash.
options="_netdev,allow_other,uid=$uid,gid=$gid,umask=0007,mp_umask=0007"
options+=",stat_cache_expire=1,attr_timeout=0,entry_timeout=0,negative_timeout=0"
# 1.96 renamed endpoint (the region to sign for) to region (ChangeLog).
if at_least 1 96; then options+=",region=$region"; else options+=",endpoint=$region"; fi
options+=",retries=5,tmpdir=$staging"
if at_least 1 96; then
  options+=",disable_negative_cache"
elif at_least 1 92; then
  options+=",disable_noobj_cache"
fi
if at_least 1 91; then
  options+=",enable_unsigned_payload"
fi
if [[ -n "$endpoint" ]]; then
  passwd_file="$root/etc/ftpfleet/s3fs.passwd"
  [[ -r "$passwd_file" ]] || fail "S3Endpoint is set but $passwd_file is missing"
  options+=",url=$endpoint,use_path_request_style,passwd_file=$passwd_file"
else
  options+=",iam_role=auto,url=https://s3.$region.amazonaws.com"
fi

# fstab: replace our line (matched by mount point), keep everything else.
# At boot mount.fuse runs "s3fs" from systemd's PATH, where /usr/local/bin comes first: the same
# choice as above.
line="$bucket $mnt fuse.s3fs $options 0 0"
install -d -m 0755 "$(dirname "$fstab")"
touch "$fstab"
tmp="$(mktemp "$fstab.XXXXXX")"
awk -v mnt="$mnt" '$2 != mnt' "$fstab" >"$tmp"
printf '%s\n' "$line" >>"$tmp"
chmod 0644 "$tmp"
mv -f "$tmp" "$fstab"

if mountpoint -q "$mnt"; then
  if ls "$mnt" >/dev/null 2>&1; then
    nosymfollow
    echo "already mounted: $bucket at $mnt"
    exit 0
  fi
  # A dead FUSE mount ("transport endpoint is not connected"): clear it and mount again.
  echo "stale mount at $mnt; remounting" >&2
  fusermount -u "$mnt" 2>/dev/null || umount -l "$mnt"
fi

mkdir -p "$mnt"
install -d -m 0700 "$staging"
# s3fs checks the bucket before it detaches, so a failure here is a real one.
"$s3fs" "$bucket" "$mnt" -o "${options#_netdev,}" || fail "s3fs could not mount $bucket"
for _ in $(seq 1 50); do
  mountpoint -q "$mnt" && break
  sleep 0.1
done
mountpoint -q "$mnt" || fail "s3fs started but $mnt is not a mount point"
nosymfollow
echo "mounted $bucket at $mnt (s3fs $major.$minor)"
