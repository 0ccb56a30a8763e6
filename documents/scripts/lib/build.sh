# shellcheck shell=bash
# The build path of build-daemons.sh, one shape for s3fs and pure-ftpd: a pinned release,
# fetched from https:// or from the fleet's bucket (bucket:.ftpfleet/sources/NAME) and refused
# unless its SHA-256 is the one given; compiled once per fleet, OS release and architecture; the
# install tree cached in the bucket as an artifact sealed with the fleet's key (lib/artifacts.sh),
# which later instances install without compiling. Needs lib/common.sh, lib/packages.sh,
# lib/bucket.sh and lib/artifacts.sh. Inlined into the step.
#
# build_parameters checks a component's parameters first (all of them, before anything changes).
# Then, for each component, the step sets these and calls build_step SOURCE URL SHA256:
#   component       its name in messages and artifact names: s3fs, pure-ftpd
#   version         the pinned release
#   source_dir      the top directory of the release's tarball (s3fs-fuse-1.95)
#   parameter       the prefix of its parameters: <parameter>Source, <parameter>SourceUrl, ...Sha256
#   flags           array: how it is configured; part of the artifact's name
#   build_packages  array: Debian packages the build needs, installed on a cache miss only
#   programs        array: what the install tree must hold (usr/local/bin/s3fs ...)
# and defines build_source SOURCE STAGE (compile the verified tarball, install into STAGE) and
# check_programs (the installed programs are what was pinned; says why and returns 1 otherwise).
# build_step returns once the component is installed; any failure exits 1 (the step, or the
# subshell it runs in). Subshells building at once share one lock file, $build_lock.

# Bump when the way an install tree is made changes without a version or flag changing: every
# artifact name changes with it, so no instance installs a tree made the old way.
build_recipe=1
# OS release of the artifacts this instance builds and installs (ID and VERSION_ID).
os_release=/etc/os-release

# The artifact's name: component, version, OS release, architecture, and a digest of everything
# else a build depends on (the recipe, the source's checksum, the configure flags).
build_artifact_name() {
  local os_id os_version arch digest
  os_id="$(sed -nE 's/^ID="?([a-z0-9._-]{1,32})"?$/\1/p' "$os_release" 2>/dev/null | head -n 1 || true)"
  os_version="$(sed -nE 's/^VERSION_ID="?([0-9a-z.]{1,16})"?$/\1/p' "$os_release" 2>/dev/null | head -n 1 || true)"
  [[ -n "$os_id" ]] || fail "cannot read the OS release (ID) from $os_release"
  arch="$(uname -m)"
  [[ "$arch" =~ ^[a-z0-9_]{1,16}$ ]] || fail "unexpected machine architecture '$arch'"
  digest="$(printf '%s\n' "recipe $build_recipe" "$source_sha256" "${flags[@]}" | sha256sum | cut -c1-16)"
  printf '%s-%s-%s%s-%s-%s.tar.gz.sealed\n' "$component" "$version" "$os_id" "${os_version:-rolling}" \
    "$arch" "$digest"
}

build_programs_present() {
  local program
  for program in "${programs[@]}"; do [[ -x "$root/$program" ]] || return 1; done
}

# Unpacks an install tree into the root once archive_check_members has passed it (plain files
# and directories under usr/local only) and it holds every program; then checks the programs and
# records the artifact's name. Returns 1 otherwise (said on stderr), extracting nothing if refused.
build_install() {
  local tarball="$1" listing program
  archive_check_members "$tarball" usr/local || return 1
  listing="$(tar -tzf "$tarball")" || return 1
  for program in "${programs[@]}"; do
    if ! grep -qxF "$program" <<<"$listing"; then
      echo "artifact $artifact_name has no $program; refusing it" >&2
      return 1
    fi
  done
  mkdir -p "${root:-/}"
  tar -xzf "$tarball" -C "${root:-/}" --no-same-owner --no-overwrite-dir || return 1
  check_programs || return 1
  install -d -m 0755 "$root/etc/ftpfleet/installed"
  echo "$artifact_name" >"$root/etc/ftpfleet/installed/$component"
}

# Puts the source tarball at $1, refusing it (exit 1, nothing extracted) unless its SHA-256 is the
# pinned one.
build_fetch_source() {
  local dest="$1" status=0 actual
  if [[ "$source_url" == bucket:* ]]; then
    s3_get "${source_url#bucket:}" "$dest" || status=$?
    ((status != 1)) || fail "no source object ${source_url#bucket:} in the bucket $s3_bucket"
    ((status == 0)) || fail "cannot read the source object ${source_url#bucket:}"
  else
    curl -fsSL --proto '=https' --proto-redir '=https' --retry 3 --connect-timeout 20 --max-time 900 \
      -o "$dest" "$source_url" || fail "cannot download $source_url"
  fi
  actual="$(sha256sum "$dest" | cut -d' ' -f1)"
  if [[ "$actual" != "$source_sha256" ]]; then
    rm -f "$dest"
    fail "checksum mismatch for $source_url: expected $source_sha256, actual $actual;" \
      "nothing extracted or installed"
  fi
  # The checksum says which bytes; the top directory that they are the pinned release.
  if [[ "$(tar -tzf "$dest" | sed -n '1{s:/.*::;p;}')" != "$source_dir" ]]; then
    fail "$source_url is not $component $version (no top directory $source_dir/); nothing installed"
  fi
}

# build_run DIR COMMAND...: runs a build command in DIR, its output in the build log; on failure
# the log's end goes to stderr and the step fails.
build_run() {
  local dir="$1"
  shift
  if ! (cd "$dir" && "$@") >>"$build_log" 2>&1; then
    tail -n 30 "$build_log" >&2
    fail "building $component $version failed at: $*"
  fi
}

# build_parameters PREFIX SOURCE URL SHA256: checks one component's parameters (exit 2 on a bad one).
build_parameters() {
  [[ "$2" =~ ^(distro|build)$ ]] || invalid "${1}Source" "expected distro or build"
  [[ ("$3" =~ ^https://[A-Za-z0-9.-]+/[A-Za-z0-9._/%+~-]+$ ||
    "$3" =~ ^bucket:\.ftpfleet/sources/[A-Za-z0-9._-]{1,100}$) && "$3" != *..* ]] ||
    invalid "${1}SourceUrl" "expected https://host/path or bucket:.ftpfleet/sources/NAME"
  [[ "$4" =~ ^[0-9a-f]{64}$ ]] || invalid "${1}SourceSha256" "expected a SHA-256 in 64 lowercase hex digits"
}

# build_step SOURCE URL SHA256: one component, from its (checked) parameters to installed.
build_step() {
  local kind="$1" missing=() status=0 condition=absent started seconds
  source_url="$2"
  source_sha256="$3"
  if [[ "$kind" == distro ]]; then
    echo "${parameter}Source=distro: the distribution's $component is used; nothing to build"
    return 0
  fi
  [[ -n "$s3_base" ]] || s3_parameters

  artifact_name="$(build_artifact_name)"
  if [[ "$(cat "$root/etc/ftpfleet/installed/$component" 2>/dev/null || true)" == "$artifact_name" ]] &&
    build_programs_present; then
    echo "already installed: $artifact_name"
    return 0
  fi
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  build_log="$work/build.log"

  [[ -n "$artifact_key" ]] || artifact_load_key
  if [[ -z "$artifact_key" ]]; then
    echo "no artifact key (ArtifactKeyParameter or $root/etc/ftpfleet/artifact.key): the cache is" \
      "neither trusted nor written; building $component from source" >&2
  else
    artifact_fetch "$artifact_name" "$work/cached.tar.gz" || status=$?
    if ((status == 0)) && build_install "$work/cached.tar.gz"; then
      echo "installed $component $version from cached artifact $artifact_name (MAC verified, no build)"
      rm -rf "$work"
      return 0
    elif ((status == 1)); then
      echo "cache miss: $artifact_name"
    else
      # Replaced, whether its MAC or its content failed: only over this very object (If-Match).
      condition="$artifact_etag"
      echo "cached artifact $artifact_name was NOT installed; building from source to replace it" >&2
    fi
  fi

  build_fetch_source "$work/source.tar.gz"
  # One installer at a time (dpkg's lock) when the step builds both at once ($build_lock).
  {
    flock 9
    mapfile -t missing < <(missing_packages "${build_packages[@]}")
    if ((${#missing[@]} > 0)); then
      echo "installing build dependencies: ${missing[*]}"
      apt_install_without_service_starts "${missing[@]}"
    fi
  } 9>>"${build_lock:-$work/apt.lock}"
  started="$(date +%s%N)"
  mkdir -p "$work/stage"
  build_source "$work/source.tar.gz" "$work/stage"
  seconds="$(awk -v ns=$(($(date +%s%N) - started)) 'BEGIN { printf "%.1f", ns / 1e9 }')"
  # Only what the member check lets through: no links (a program's version links are not needed).
  find "$work/stage" ! -type f ! -type d -delete
  tar -czf "$work/built.tar.gz" -C "$work/stage" usr
  build_install "$work/built.tar.gz" ||
    fail "the build of $artifact_name did not pass its own checks; nothing cached"
  if [[ -z "$artifact_key" ]]; then
    echo "built $component $version in $seconds s; not cached (no artifact key)"
  elif artifact_publish "$work/built.tar.gz" "$artifact_name" "$condition"; then
    echo "built $component $version in $seconds s and cached $artifact_name"
  else
    echo "built $component $version in $seconds s; $artifact_name was published meanwhile by" \
      "another instance (this build installed, that artifact kept)"
  fi
  rm -rf "$work"
}
