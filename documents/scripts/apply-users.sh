#!/usr/bin/env bash
# ftpfleet step (provisioning, and ad hoc through SSM Run Command): converge the FTP users to the
# manifest in the bucket. Safe to re-run; only differences are applied.
#
# Targets Debian 12 and Ubuntu 24.04. Run as root by SSM Run Command (schema 2.2, ENV_VAR
# interpolation); parameters arrive as SSM_<Name> variables and are checked again here.
#   SSM_UsersManifestKey  object key of the manifest, default .ftpfleet/users.json; read through
#                         the bucket mount
#   FTPFLEET_ROOT         sandbox prefix for every instance path; empty on AWS.
#
# Manifest: {"version":1,"layout":"bind","users":[{"name":"alice","passwordHash":"$6$salt$hash",
#   "grants":[{"path":"projects/alpha","access":"ro"},{"path":"inbox/alice","access":"rw"}]}]}
# The whole manifest is checked before anything changes; one bad entry rejects it (exit 2).
#
# Layout "bind" (default): each home under /srv/ftpfleet/home/<user> is a local, root-owned
# directory; each grant is a bind mount of /mnt/ftpfleet/bucket/<path> onto <home>/<path>,
# remounted read-only for "ro". pure-ftpd's real chroot then never leaves the home, whatever
# the bucket holds. Layout "symlink" (the original design, opt-in): links into the mount (and a
# read-only view of it) plus pure-ftpd-virtualchroot, which follows links out of the chroot.
#
# Writes: $FTPFLEET_ROOT/etc/ftpfleet/pure-ftpd/{pureftpd.passwd,pureftpd.pdb,layout}, homes and
# their mounts; folder markers in the bucket for missing rw grant folders.
# Exit: 0 applied, 1 failure, 2 invalid parameter or manifest (nothing changed).
set -euo pipefail

step=apply-users
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

key="${SSM_UsersManifestKey:-}"
[[ -n "$key" ]] || key=.ftpfleet/users.json
[[ "$key" =~ ^\.ftpfleet/[A-Za-z0-9._-]{1,100}\.json$ ]] ||
  invalid UsersManifestKey "expected .ftpfleet/<name>.json"

mnt="$root/mnt/ftpfleet/bucket"
ro_view="$root/mnt/ftpfleet/bucket-ro"
homes="$root/srv/ftpfleet/home"
conf="$root/etc/ftpfleet/pure-ftpd"

read_account
mountpoint -q "$mnt" || fail "the bucket is not mounted at $mnt (run mount-bucket first)"
[[ -d "$conf" ]] || fail "missing $conf (run configure-pure-ftpd first)"

pure_pw="$(find_program pure-pw)"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# One local copy: what is checked is exactly what is applied, whatever S3 does meanwhile.
cp "$mnt/$key" "$work/manifest.json" 2>/dev/null || fail "cannot read the manifest $key from the bucket"

# Validation and flattening in one jq program; any error() rejects the whole manifest.
# Output lines: L<TAB>layout, U<TAB>name<TAB>hash, G<TAB>user<TAB>access<TAB>path.
cat >"$work/check.jq" <<'JQ'
def only_keys($allowed; $what):
  (keys - $allowed) as $extra
  | if $extra == [] then . else error("\($what): unknown field(s) \($extra | join(", "))") end;
def is_string: type == "string";
def grant_path_ok:
  is_string and length <= 1024 and (split("/") | all(test("^[A-Za-z0-9_ -][A-Za-z0-9._ -]*$")));
if type != "object" then error("the manifest must be a JSON object") else . end
| only_keys(["version", "layout", "users"]; "manifest")
| if .version != 1 then error("version must be 1") else . end
| (.layout // "bind") as $layout
| if ($layout | IN("bind", "symlink")) then . else error("layout must be bind or symlink") end
| if (.users | type) != "array" then error("users must be an array") else . end
| "L\t\($layout)",
  (.users | to_entries[] | .key as $i | .value
   | if type != "object" then error("users[\($i)] must be an object") else . end
   | only_keys(["name", "passwordHash", "grants"]; "users[\($i)]")
   | if (.name | is_string) and (.name | test("^[a-z][a-z0-9_-]{0,31}$")) then .
     else error("users[\($i)]: invalid name \(.name | tojson)") end
   | .name as $name
   | if (.passwordHash | is_string)
        and (.passwordHash | test("^\\$6\\$(rounds=[0-9]{4,9}\\$)?[./A-Za-z0-9]{1,16}\\$[./A-Za-z0-9]{86}$"))
     then . else error("user \($name): passwordHash must be a SHA-512 crypt hash ($6$...)") end
   | (.grants // []) as $grants
   | if ($grants | type) != "array" then error("user \($name): grants must be an array") else . end
   | [$grants | to_entries[] | .key as $j | .value
      | if type != "object" then error("user \($name): grants[\($j)] must be an object") else . end
      | only_keys(["path", "access"]; "user \($name): grants[\($j)]")
      | if .path | grant_path_ok then . else
          error("user \($name): grant path \(.path | tojson) must be relative, without . or .. segments")
        end
      | if .access | IN("ro", "rw") then . else error("user \($name): access must be ro or rw") end
     ] as $_
   | [$grants[].path] as $paths
   | if ($paths | length) != ($paths | unique | length) then error("user \($name): duplicate grant") else . end
   | if [$paths[] as $a | $paths[] as $b | select($a != $b and ($a | startswith($b + "/")))] != []
     then error("user \($name): grants must not nest inside each other") else . end
   | "U\t\($name)\t\(.passwordHash)", ($grants[] | "G\t\($name)\t\(.access)\t\(.path)"))
JQ
if ! jq -r -f "$work/check.jq" "$work/manifest.json" >"$work/plan" 2>"$work/error"; then
  echo "invalid manifest $key: $(sed -e 's/^jq: error (at [^)]*): //' "$work/error")" >&2
  exit 2
fi
names=$(awk -F'\t' '$1 == "U" { print $2 }' "$work/plan" | sort)
if [[ -n "$names" && "$(uniq -d <<<"$names")" != "" ]]; then
  echo "invalid manifest $key: duplicate user names: $(uniq -d <<<"$names" | tr '\n' ' ')" >&2
  exit 2
fi

# ---- apply ----
layout=bind
declare -A hashes=() want=()
users=()
grants=()
while IFS=$'\t' read -r kind a b c; do
  case "$kind" in
    L) layout="$a" ;;
    U)
      users+=("$a")
      hashes["$a"]="$b"
      ;;
    G)
      grants+=("$a"$'\t'"$b"$'\t'"$c")
      want["$homes/$a/$c"]="$b"
      ;;
  esac
done <"$work/plan"

if [[ "$layout" == symlink ]]; then
  echo "WARNING: layout=symlink: pure-ftpd-virtualchroot follows links out of the chroot, so anyone" \
    "who can write a symlink object into the bucket can make an FTP user read files of this host." \
    "Use layout=bind unless you must keep the original layout." >&2
fi

# Sessions of users whose access shrinks must end, or they keep what they had until they leave.
kill_sessions() {
  local pid account
  ftp_sessions | while read -r pid account; do
    if [[ "$account" == "$1" && "$pid" =~ ^[0-9]+$ ]]; then kill "$pid" 2>/dev/null || true; fi
  done
}

# 1. Accounts first: removed users cannot log in any more from here on.
install -d -m 0755 "$homes"
: >"$work/passwd"
for name in "${users[@]}"; do
  printf '%s:%s:%s:%s::%s/./::::::::::::\n' "$name" "${hashes[$name]}" "$uid" "$gid" "$homes/$name" >>"$work/passwd"
done
install -m 0600 "$work/passwd" "$conf/pureftpd.passwd.new"
"$pure_pw" mkdb "$conf/pureftpd.pdb" -f "$conf/pureftpd.passwd.new" >/dev/null
mv -f "$conf/pureftpd.passwd.new" "$conf/pureftpd.passwd"

# 2. Mounts under the homes that the manifest no longer wants (or wants with other access).
current_mounts() {
  findmnt -J -l -o TARGET,VFS-OPTIONS | jq -r --arg base "$1/" \
    '.filesystems[] | select(.target | startswith($base)) | "\(.target)\t\(."vfs-options")"' |
    awk -F'\t' '{ print length($1) "\t" $0 }' | sort -rn | cut -f2-
}
declare -A affected=()
while IFS=$'\t' read -r target options; do
  [[ -n "$target" ]] || continue
  access="${want[$target]:-}"
  mode=rw
  [[ ",$options," == *,ro,* ]] && mode=ro
  if [[ "$layout" == bind && "$access" == "$mode" ]]; then
    continue
  fi
  user="${target#"$homes/"}"
  affected["${user%%/*}"]=1
  umount "$target" 2>/dev/null || umount -l "$target"
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
  [[ -v "hashes[$name]" ]] && continue
  affected["$name"]=1
  if [[ -n "$(current_mounts "$home")" ]]; then
    fail "mounts remain under $home; not removing it"
  fi
  rm -r --one-file-system -- "$home"
  echo "removed user $name"
done
for name in "${!affected[@]}"; do
  kill_sessions "$name"
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
    rmdir -- "$dir" 2>/dev/null || true
  done < <(find "$home" -xdev -mindepth 1 -depth -type d -empty -print0)
done

mounted=0
for grant in "${grants[@]}"; do
  IFS=$'\t' read -r name access path <<<"$grant"
  source="$mnt/$path"
  target="$homes/$name/$path"
  if [[ ! -d "$source" ]]; then
    if [[ "$access" == rw ]]; then
      # s3fs writes the folder markers, so the folder exists for every instance and S3 client.
      mkdir -p "$source"
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
  mkdir -p "$target"
  if mountpoint -q "$target" || [[ ! -d "$source" ]]; then
    continue
  fi
  mount --bind "$source" "$target"
  if [[ "$access" == ro ]]; then
    mount -o remount,bind,ro "$target"
  fi
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
echo "applied $key: ${#users[@]} user(s), ${#grants[@]} grant(s), $mounted new mount(s), layout $layout"
