#!/usr/bin/env bash
# ftpfleet repair step: take the bucket mount down completely, so that mount-bucket.sh mounts it
# again with the safe options and apply-users.sh binds every home to the new mount. Run by the
# audit's repair on an instance it has taken out of rotation: the instance served stale or
# unreadable data (a hand-edited fstab, an old image's options, a hung or dead s3fs).
# Ends the instance's FTP sessions (what they see is what is being repaired), lazily unmounts every
# view of the bucket (the homes' binds, then the mount itself) and kills the s3fs process behind
# it, stopped or not. Never touches objects in the bucket.
#
# Targets Debian 12 and Ubuntu 24.04. Run as root by SSM Run Command (schema 2.2).
#   FTPFLEET_ROOT   sandbox prefix for every instance path; empty on AWS.
# Exit: 0 unmounted (or was not mounted), 1 failure.
set -euo pipefail

step=unmount-bucket
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

mnt="$root/mnt/ftpfleet/bucket"

# FTP sessions first: a session inside a bind would keep the old view alive.
sessions=0
while read -r pid _; do
  if [[ "$pid" =~ ^[0-9]+$ ]]; then
    kill "$pid" 2>/dev/null || true
    sessions=$((sessions + 1))
  fi
done < <(ftp_sessions || true)

# The s3fs process serving this mount point (each instance has its own; in the sandbox they share
# one process table, so the mount point in its arguments tells them apart).
pids=()
for pid in $(pgrep -x s3fs || true); do
  if tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qxF -- "$mnt"; then pids+=("$pid"); fi
done

views=0
if mountpoint -q "$mnt" 2>/dev/null || [[ -n "$(findmnt -n -r -o TARGET --mountpoint "$mnt" 2>/dev/null)" ]]; then
  dev="$(findmnt -n -r -o MAJ:MIN --mountpoint "$mnt" | head -n 1)"
  # Every other mount of the same FUSE device is a bind of it (homes, grants), deepest first.
  while read -r target; do
    [[ -n "$target" && "$target" != "$mnt" ]] || continue
    umount -l -- "$target" 2>/dev/null || fail "cannot unmount $target"
    views=$((views + 1))
  done < <(findmnt -n -r -o MAJ:MIN,TARGET | awk -v dev="$dev" '$1 == dev { print $2 }' | sort -r |
    sed 's/\\x20/ /g')
  umount -l -- "$mnt" || fail "cannot unmount $mnt"
fi
for pid in "${pids[@]}"; do
  kill -KILL "$pid" 2>/dev/null || true
done
echo "unmounted $mnt: $views view(s) of it, $sessions FTP session(s) ended, ${#pids[@]} s3fs process(es) ended"
