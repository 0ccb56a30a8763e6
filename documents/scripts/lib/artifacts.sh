# shellcheck shell=bash
# Build artifacts cached in the bucket, sealed with an HMAC-SHA256 key only the fleet holds, so a
# bucket writer cannot make one an instance installs (docs/provisioning.md). Needs lib/common.sh and
# lib/bucket.sh (s3_parameters called first).
# Sealed artifact: one object, "ftpfleet-artifact v1 hmac-sha256 <hex>\n" then the payload; the
# MAC covers the file name (no replay under another version's name) and the payload.

artifact_key=""

# Sets $artifact_key (64 hex digits; empty: none) from the SecureString parameter named by
# SSM_ArtifactKeyParameter, else $root/etc/ftpfleet/artifact.key. Kept in a shell variable only.
artifact_load_key() {
  local parameter="${SSM_ArtifactKeyParameter:-}" file="${root:-}/etc/ftpfleet/artifact.key" value=""
  [[ -z "$parameter" || "$parameter" =~ ^(/[A-Za-z0-9_.-]+)+$ ]] || fail "bad ArtifactKeyParameter"
  if [[ -n "$parameter" ]]; then
    value="$(aws ssm get-parameter --name "$parameter" --with-decryption \
      --query Parameter.Value --output text)" || fail "cannot read the artifact key $parameter"
  elif [[ -f "$file" ]]; then
    value="$(<"$file")"
  fi
  [[ -z "$value" || "$value" =~ ^[0-9A-Fa-f]{64}$ ]] || fail "the artifact key must be 64 hex digits"
  artifact_key="${value,,}"
}

# HMAC-SHA256 (RFC 2104) of stdin under hex key $1, in hex; the key never becomes a process argument.
hmac_sha256() {
  local key="${1,,}" i byte ipad="" opad="" inner digest=""
  [[ "$key" =~ ^([0-9a-f]{2}){1,64}$ ]] || return 1
  while ((${#key} < 128)); do key+=0; done
  for ((i = 0; i < 128; i += 2)); do
    byte=$((16#${key:i:2}))
    printf -v ipad '%s\\x%02x' "$ipad" $((byte ^ 0x36))
    printf -v opad '%s\\x%02x' "$opad" $((byte ^ 0x5c))
  done
  inner="$({ printf '%b' "$ipad" && cat; } | sha256sum)" || return 1
  for ((i = 0; i < 64; i += 2)); do printf -v digest '%s\\x%s' "$digest" "${inner:i:2}"; done
  { printf '%b' "$opad" && printf '%b' "$digest"; } | sha256sum | cut -c1-64
}

# The MAC of payload file $2 published under the name $1.
artifact_mac() {
  { printf 'ftpfleet-artifact v1\n%s\n' "$1" && cat "$2"; } | hmac_sha256 "$artifact_key"
}

# Where the sealed artifacts are in the bucket: one object each, .ftpfleet/artifacts/<name>.
artifact_prefix=.ftpfleet/artifacts
# The ETag of the untrusted artifact the last artifact_fetch found (empty: none), for its replacement.
artifact_etag=""

# Fetches the sealed artifact named $1 from the bucket (lib/bucket.sh) and copies its payload to $2 if
# its MAC is valid. 0: $2 holds the payload; 1: there is no such artifact; 2: there is one, but it
# is not trusted (said on stderr; artifact_etag names it). A failing read of the bucket fails.
artifact_fetch() {
  local name="$1" dest="$2" sealed payload header mac status=0
  artifact_etag=""
  [[ -n "$artifact_key" ]] || { echo "no artifact key: cannot verify $name" >&2; return 2; }
  sealed="$(mktemp "$dest.sealed.XXXXXX")" && payload="$(mktemp "$dest.payload.XXXXXX")" ||
    fail "cannot create temporary files beside $dest"
  # One read of the bucket; the checks work on this private copy.
  s3_get "$artifact_prefix/$name" "$sealed" || status=$?
  if ((status != 0)); then
    rm -f "$sealed" "$payload"
    ((status == 1)) && return 1
    fail "cannot read the artifact cache ($artifact_prefix/$name)"
  fi
  artifact_etag="$s3_etag"
  header=""
  IFS= read -r -n 120 header <"$sealed" || true
  if [[ ! "$header" =~ ^ftpfleet-artifact\ v1\ hmac-sha256\ ([0-9a-f]{64})$ ]]; then
    rm -f "$sealed" "$payload"
    echo "cached artifact $name carries no MAC" >&2
    return 2
  fi
  mac="${BASH_REMATCH[1]}"
  tail -c +$((${#header} + 2)) "$sealed" >"$payload" || fail "cannot read $sealed"
  rm -f "$sealed"
  if [[ "$(artifact_mac "$name" "$payload")" != "$mac" ]]; then
    rm -f "$payload"
    echo "cached artifact $name does not match its MAC (changed without the fleet's key)" >&2
    return 2
  fi
  mv -f "$payload" "$dest"
}

# Publishes payload file $1 as the sealed artifact named $2, in one conditional write (lib/bucket.sh):
# $3 is "absent" (there was none: If-None-Match) or the ETag of the untrusted artifact it replaces
# (If-Match). Of publishers racing each other exactly one writes: 0 published, 1 another instance
# published first (its artifact stays). Anything else fails.
artifact_publish() {
  local payload="$1" name="$2" condition="$3" sealed mac status=0
  [[ -n "$artifact_key" ]] || fail "no artifact key: cannot publish $name"
  mac="$(artifact_mac "$name" "$payload")" || fail "cannot compute the MAC of $payload"
  sealed="$(mktemp "$payload.sealed.XXXXXX")" || fail "cannot create a temporary file beside $payload"
  { printf 'ftpfleet-artifact v1 hmac-sha256 %s\n' "$mac" && cat "$payload"; } >"$sealed" ||
    fail "cannot seal $payload"
  s3_put "$sealed" "$artifact_prefix/$name" "$condition" || status=$?
  rm -f "$sealed"
  case "$status" in
    0) return 0 ;;
    3) return 1 ;;
  esac
  fail "cannot publish $artifact_prefix/$name"
}

# Checks a .tar.gz before anything is extracted: only files and directories (no symlink or hard
# link), relative paths with no empty, "." or ".." segment, all in $2 or its parents. Else says
# why, returns 1.
archive_check_members() {
  local tarball="$1" prefix="$2" listing names name path
  if ! listing="$(tar -tvzf "$tarball")" || ! names="$(tar -tzf "$tarball")"; then
    echo "unreadable archive $tarball" >&2
    return 1
  fi
  if grep -qvE '^[-d]' <<<"$listing"; then
    echo "archive $tarball holds links or special files; refusing it" >&2
    return 1
  fi
  while IFS= read -r name; do
    path="${name%/}"
    if [[ "$path" == /* ]]; then
      echo "archive $tarball holds an absolute path ($name); refusing it" >&2
      return 1
    elif [[ "/$path/" == *//* || "/$path/" == */./* || "/$path/" == */../* ]]; then
      echo "archive $tarball holds a path with an empty, . or .. segment ($name); refusing it" >&2
      return 1
    elif [[ ! "$path" =~ ^[A-Za-z0-9._+/-]+$ || ("$prefix/" != "$path/"* && "$path/" != "$prefix/"*) ]]; then
      echo "archive $tarball holds paths outside $prefix ($name); refusing it" >&2
      return 1
    fi
  done <<<"$names"
}
