#!/usr/bin/env bash
# ftpfleet step (provisioning, and ad hoc through SSM Run Command): converge the FTP users to the
# manifest in the bucket. Safe to re-run; only differences are applied.
#
# Targets Debian 12 and Ubuntu 24.04. Run as root by SSM Run Command (schema 2.2, ENV_VAR
# interpolation); parameters arrive as SSM_<Name> variables and are checked again here.
#   SSM_UsersManifestKey  object key of the manifest, default .ftpfleet/users.json; read through
#                         the bucket mount
#   AWS_SSM_INSTANCE_ID   set by the SSM agent (i-<hex> or mi-<hex>): names the applied report;
#                         unset, none is written
#   FTPFLEET_ROOT         sandbox prefix for every instance path; empty on AWS.
#
# Manifest: {"version":1,"layout":"bind","revision":7,"users":[{"name":"alice",
#   "passwordHash":"$6$salt$hash","disabled":false,"grants":[{"path":"projects/alpha","access":"ro"},
#   {"path":"inbox/alice","access":"rw"}]}]}
# Checked whole against lib/manifest-rules.json before any change; one bad entry rejects it.
# revision (default 0) is bumped by every write of the manifest. A disabled user (default false)
# stays in the manifest and is applied as a removed one: no login, no mounts, no home.
#
# Open sessions: those of a removed or disabled user, or of one with a new password, end. A revoked
# or changed grant is unmounted under its sessions, which keep their connection; only if a session
# keeps the folder busy (working directory, open file) do that user's sessions end. New grants
# show in open sessions.
#
# Layout "bind" (default): each home under /srv/ftpfleet/home/<user> is a local, root-owned
# directory; each grant is a bind mount of /mnt/ftpfleet/bucket/<path> onto <home>/<path>,
# read-only for "ro". pure-ftpd's real chroot then never leaves the home, whatever the bucket
# holds. Layout "symlink" (the original design, opt-in): links into the mount (and a read-only
# view of it) plus pure-ftpd-virtualchroot, which follows links out of the chroot.
#
# Writes: $FTPFLEET_ROOT/etc/ftpfleet/pure-ftpd/{pureftpd.passwd,pureftpd.pdb,layout}, homes and
# their mounts; folder markers in the bucket for missing rw grant folders; with AWS_SSM_INSTANCE_ID,
# the report .ftpfleet/applied/<instance-id>.json in the bucket, after everything else:
#   {"instanceId":"i-…","revision":7,"manifestKey":".ftpfleet/users.json",
#    "appliedAt":"2025-01-31T12:00:00Z","users":["alice"],
#    "refused":[{"user":"eve","path":"up/x","reason":"up is a link in the bucket"}]}
#   (users: the enabled users applied; refused: the grants refused, as on stderr).
# Exit: 0 applied (refused grants named on stderr), 1 failure (also: the report not written),
# 2 invalid parameter, AWS_SSM_INSTANCE_ID or manifest (nothing changed).
set -euo pipefail

step=apply-users
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

key="${SSM_UsersManifestKey:-}"
[[ -n "$key" ]] || key=.ftpfleet/users.json
[[ "$key" =~ ^\.ftpfleet/[A-Za-z0-9._-]{1,100}\.json$ ]] ||
  invalid UsersManifestKey "expected .ftpfleet/<name>.json"
# Set by the SSM agent: names this instance's report. Unset (run by hand): no report.
if [[ -n "${AWS_SSM_INSTANCE_ID+set}" ]]; then
  [[ "$AWS_SSM_INSTANCE_ID" =~ ^(i-[0-9a-f]{8,17}|mi-[0-9a-f]{17})$ ]] ||
    invalid AWS_SSM_INSTANCE_ID "expected i-<8 to 17 hex digits> or mi-<17 hex digits>"
fi

mnt="$root/mnt/ftpfleet/bucket"
ro_view="$root/mnt/ftpfleet/bucket-ro"
staging="$root/mnt/ftpfleet/staging"
homes="$root/srv/ftpfleet/home"
conf="$root/etc/ftpfleet/pure-ftpd"

read_account
mountpoint -q "$mnt" || fail "the bucket is not mounted at $mnt (run mount-bucket first)"
[[ -d "$conf" ]] || fail "missing $conf (run configure-pure-ftpd first)"

find_program pure-pw >/dev/null

release_staging() {
  if mountpoint -q "$staging/grant" 2>/dev/null; then umount -l "$staging/grant" || true; fi
  if mountpoint -q "$staging" 2>/dev/null; then umount -l "$staging" || true; fi
}
work="$(mktemp -d)"
trap 'release_staging; rm -rf "$work"' EXIT
# One local copy: what is checked is exactly what is applied, whatever S3 does meanwhile.
cp "$mnt/$key" "$work/manifest.json" 2>/dev/null || fail "cannot read the manifest $key from the bucket"

# Inlined by the bundler.
rules="$(cat "$(dirname "${BASH_SOURCE[0]}")/lib/manifest-rules.json")"

# One jq program (lib/manifest-check.jq, inlined by the bundler) validates, naming the field as
# manifest.ts does and never echoing a value, and flattens the manifest into the plan applied below.
check="$(cat "$(dirname "${BASH_SOURCE[0]}")/lib/manifest-check.jq")"
if ! jq -r --argjson rules "$rules" "$check" "$work/manifest.json" >"$work/plan" 2>"$work/error"; then
  echo "invalid manifest $key: $(sed -e 's/^jq: error (at [^)]*): //' "$work/error")" >&2
  exit 2
fi

# Anyone who can write to the bucket can make a link object. nosymfollow: the kernel follows none,
# for root as for pure-ftpd (bind mounts inherit it). A mount made at boot (fstab) lacks it.
if [[ ",$(findmnt -n -o VFS-OPTIONS --mountpoint "$mnt")," != *,nosymfollow,* ]]; then
  mount --no-canonicalize -o remount,bind,nosymfollow "$mnt" || fail "cannot set nosymfollow on $mnt"
fi
bucket_dev="$(findmnt -n -r -o MAJ:MIN --mountpoint "$mnt")"
refused=0
: >"$work/refused"
refuse() {
  echo "refused grant $2 of user $1: $3" >&2
  printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$work/refused"
  refused=$((refused + 1))
}
# A link at or above a grant would lead root's mkdir and mount to the host or .ftpfleet. The grant
# is refused, the rest applied: one planted object must not block revocations or provisioning.
link_problem() {
  local prefix="" part parts
  IFS=/ read -r -a parts <<<"$1"
  for part in "${parts[@]}"; do
    prefix+="${prefix:+/}$part"
    if [[ -L "$mnt/$prefix" ]]; then
      echo "$prefix is a link in the bucket"
      return
    fi
    [[ -e "$mnt/$prefix" ]] || return 0
    if [[ ! -d "$mnt/$prefix" ]]; then
      echo "$prefix is not a folder in the bucket"
      return
    fi
  done
}

layout=bind
revision=0
declare -A hashes=() want=() ended=() disabled=()
users=()
grants=()
total=0
while IFS=$'\t' read -r kind a b c; do
  case "$kind" in
    L) layout="$a" ;;
    R) revision="$a" ;;
    # A disabled user is applied as a removed one: no account, no mounts, no home, no session.
    D) disabled["$a"]=1 ;;
    U)
      users+=("$a")
      hashes["$a"]="$b"
      ;;
    G)
      total=$((total + 1))
      problem="$(link_problem "$c")"
      if [[ -n "$problem" ]]; then
        refuse "$a" "$c" "$problem"
        continue
      fi
      grants+=("$a"$'\t'"$b"$'\t'"$c")
      want["$homes/$a/$c"]="$b"
      ;;
  esac
done <"$work/plan"

if [[ "$layout" == symlink ]]; then
  echo "WARNING: layout=symlink: pure-ftpd-virtualchroot follows links out of the chroot; only" \
    "nosymfollow keeps a symlink object in the bucket from letting an FTP user read files of this host." \
    "Use layout=bind unless you must keep the original layout." >&2
fi

# An open session keeps its login and what it reaches until it leaves: to lose them, it must end.
end_sessions() {
  local pid account
  [[ -z "${ended[$1]+set}" ]] || return 0
  ended["$1"]=1
  ftp_sessions | while read -r pid account; do
    if [[ "$account" == "$1" && "$pid" =~ ^[0-9]+$ ]]; then kill "$pid" 2>/dev/null || true; fi
  done
}

# 1. Accounts first: removed and disabled users cannot log in any more from here on. Their
# sessions, and those of users with a new password, end right after, before mounts and homes go.
install -d -m 0755 "$homes"
gone=()
if [[ -r "$conf/pureftpd.passwd" ]]; then
  while IFS=: read -r name hash _; do
    if [[ -n "$name" && "${hashes[$name]-}" != "$hash" ]]; then gone+=("$name"); fi
  done <"$conf/pureftpd.passwd"
fi
for home in "$homes"/*; do
  if [[ -d "$home" && -z "${hashes[${home##*/}]+set}" ]]; then gone+=("${home##*/}"); fi
done
: >"$work/passwd"
for name in "${users[@]}"; do
  printf '%s:%s:%s:%s::%s/./::::::::::::\n' "$name" "${hashes[$name]}" "$uid" "$gid" "$homes/$name" >>"$work/passwd"
done
install -m 0600 "$work/passwd" "$conf/pureftpd.passwd.new"
# The health account (configure-health.sh) goes into the same puredb, untouched.
puredb_build "$conf/pureftpd.passwd.new"
mv -f "$conf/pureftpd.passwd.new" "$conf/pureftpd.passwd"
for name in "${gone[@]}"; do
  end_sessions "$name"
done

# 2. Mounts under the homes that the manifest no longer wants (or wants with other access), or
# that do not show exactly their bucket folder with links off (e.g. made by an older version).
current_mounts() {
  findmnt -J -l -o TARGET,VFS-OPTIONS,MAJ:MIN,FSROOT | jq -r --arg base "$1/" \
    '.filesystems[] | select(.target | startswith($base))
     | [.target, ."vfs-options", ."maj:min", .fsroot] | join("\t")' |
    awk -F'\t' '{ print length($1) "\t" $0 }' | sort -rn | cut -f2-
}
while IFS=$'\t' read -r target options dev fsroot; do
  [[ -n "$target" ]] || continue
  access="${want[$target]:-}"
  mode=rw
  [[ ",$options," == *,ro,* ]] && mode=ro
  user="${target#"$homes/"}"
  user="${user%%/*}"
  if [[ "$layout" == bind && "$access" == "$mode" && "$dev" == "$bucket_dev" &&
    "$fsroot" == "/${target#"$homes/$user/"}" && ",$options," == *,nosymfollow,* ]]; then
    continue
  fi
  # A plain unmount fails only while a session works inside the folder (directory, open file); a
  # lazy one would leave that session the detached folder, so its user's sessions end first.
  # Sessions elsewhere keep their connection and simply no longer see the folder.
  if ! umount "$target" 2>/dev/null; then
    end_sessions "$user"
    umount -l "$target"
  fi
  echo "unmounted $target"
done < <(current_mounts "$homes")
if [[ "$layout" == bind ]] && mountpoint -q "$ro_view"; then
  umount "$ro_view" 2>/dev/null || umount -l "$ro_view"
fi

# 3. Homes of users who are gone. Nothing may still be mounted below them: rm must never reach
# into the bucket.
for home in "$homes"/*; do
  [[ -d "$home" ]] || continue
  name="${home##*/}"
  [[ -n "${hashes[$name]+set}" ]] && continue
  if [[ -n "$(current_mounts "$home")" ]]; then
    fail "mounts remain under $home; not removing it"
  fi
  rm -r --one-file-system -- "$home"
  if [[ -n "${disabled[$name]+set}" ]]; then echo "disabled user $name"; else echo "removed user $name"; fi
done

# 4. What the manifest wants.
if [[ "$layout" == symlink ]] && [[ " ${grants[*]} " == *$'\tro\t'* ]] && ! mountpoint -q "$ro_view"; then
  mkdir -p "$ro_view"
  mount --bind "$mnt" "$ro_view"
  mount -o remount,bind,ro "$ro_view"
fi
for name in "${users[@]}"; do
  home="$homes/$name"
  install -d -o root -g root -m 0755 "$home"
  # Leftovers of grants that went away: links (symlink layout) and empty mount points.
  while IFS= read -r -d '' entry; do
    [[ "$layout" == symlink && -n "${want[$entry]:-}" ]] && continue
    rm -f -- "$entry"
  done < <(find "$home" -xdev -mindepth 1 -type l -print0)
  while IFS= read -r -d '' dir; do
    [[ -n "${want[$dir]:-}" ]] && continue
    for target in "${!want[@]}"; do
      [[ "$target" == "$dir/"* ]] && continue 2
    done
    rmdir -- "$dir" 2>/dev/null || continue
    # find saw its parents before they were emptied: a revoked a/b must not leave an empty a.
    dir="${dir%/*}"
    while [[ "$dir" != "$home" && -z "${want[$dir]:-}" ]] && rmdir -- "$dir" 2>/dev/null; do
      dir="${dir%/*}"
    done
  done < <(find "$home" -xdev -mindepth 1 -depth -type d -empty -print0)
done

# Mounts are made aside and moved in finished: a ro grant is never writable in the home. Staging is
# private (mount --move refuses mounts under a shared one). --no-canonicalize: mount(8) would follow
# links in user space. Only a mount of exactly the bucket folder moves in, whatever raced the checks.
stage() {
  local at="$staging/grant"
  mkdir -p "$at"
  mount --no-canonicalize --bind "$mnt/$2" "$at" || return 1
  if [[ "$1" == ro ]]; then mount --no-canonicalize -o remount,bind,ro "$at"; fi
  # -r writes a space as \x20; grant paths have no other character it escapes.
  if [[ "$(findmnt -n -r -o MAJ:MIN,FSROOT,VFS-OPTIONS --mountpoint "$at")" != \
    "$bucket_dev /${2// /\\x20} $1,"*",nosymfollow"* ]]; then
    umount -l "$at"
    return 1
  fi
}

mounted=0
release_staging
for grant in "${grants[@]}"; do
  IFS=$'\t' read -r name access path <<<"$grant"
  source="$mnt/$path"
  target="$homes/$name/$path"
  if [[ ! -d "$source" ]]; then
    if [[ "$access" == rw ]]; then
      # s3fs writes the folder markers, so the folder exists for every instance and S3 client.
      # A link planted since the check makes mkdir fail (nosymfollow).
      if ! mkdir -p -- "$source"; then
        refuse "$name" "$path" "cannot create it in the bucket"
        continue
      fi
      echo "created bucket folder $path"
    else
      echo "warning: read-only grant $path of $name does not exist in the bucket; left empty" >&2
    fi
  fi
  mkdir -p "$(dirname "$target")"
  if [[ "$layout" == symlink ]]; then
    if [[ "$access" == ro ]]; then link="$ro_view/$path"; else link="$source"; fi
    [[ -d "$target" && ! -L "$target" ]] && rmdir -- "$target"
    ln -sfn -- "$link" "$target"
    continue
  fi
  if [[ -L "$target" ]]; then rm -f -- "$target"; fi
  if mountpoint -q "$target" || [[ ! -d "$source" ]]; then
    mkdir -p "$target"
    continue
  fi
  if ! mountpoint -q "$staging"; then
    mkdir -p "$staging"
    mount --bind "$staging" "$staging"
    mount --make-private "$staging"
  fi
  if ! stage "$access" "$path"; then
    refuse "$name" "$path" "its mount would not show exactly that bucket folder"
    continue
  fi
  mkdir -p "$target"
  mount --no-canonicalize --move "$staging/grant" "$target"
  mounted=$((mounted + 1))
done

# 5. The daemon matching the layout (virtualchroot only for symlinks); a switch needs a restart.
previous="$(cat "$conf/layout" 2>/dev/null || echo bind)"
echo "$layout" >"$conf/layout"
if [[ "$previous" != "$layout" && -f "$conf/args" ]]; then
  if [[ "$layout" == symlink ]]; then
    daemon="$(find_program pure-ftpd-virtualchroot)"
  else
    daemon="$(find_program pure-ftpd)"
  fi
  { echo "$daemon"; tail -n +2 "$conf/args"; } >"$conf/args.new"
  mv -f "$conf/args.new" "$conf/args"
  if [[ -z "$root" ]]; then
    systemctl restart ftpfleet-pure-ftpd.service
    echo "layout $previous -> $layout: ftpfleet-pure-ftpd restarted with $daemon"
  else
    install -d "$root/run/ftpfleet"
    touch "$root/run/ftpfleet/restart-required"
    echo "layout $previous -> $layout: restart required ($daemon)"
  fi
fi
# 6. The report: which revision this instance applied, for the operators' tools. Made whole here
# and written with one cp, which s3fs uploads in one piece as it closes the file.
if [[ -n "${AWS_SSM_INSTANCE_ID+set}" ]]; then
  report=".ftpfleet/applied/$AWS_SSM_INSTANCE_ID.json"
  jq -n -c --arg instanceId "$AWS_SSM_INSTANCE_ID" --argjson revision "$revision" --arg manifestKey "$key" \
    --arg appliedAt "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --rawfile refused "$work/refused" \
    '{$instanceId, $revision, $manifestKey, $appliedAt, users: $ARGS.positional,
      refused: [$refused | split("\n")[] | select(. != "") | split("\t") | {user: .[0], path: .[1], reason: .[2]}]}' \
    --args "${users[@]}" >"$work/applied.json"
  if ! mkdir -p -- "$mnt/.ftpfleet/applied" || ! cp -- "$work/applied.json" "$mnt/$report"; then
    fail "revision $revision was applied, but the report $report could not be written to the bucket"
  fi
  echo "reported revision $revision in $report"
fi
echo "applied $key: ${#users[@]} user(s) (${#disabled[@]} disabled), $total grant(s) ($refused refused)," \
  "$mounted new mount(s), layout $layout, revision $revision"
