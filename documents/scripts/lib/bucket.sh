# shellcheck shell=bash
# Objects of the fleet's bucket over S3's REST API, signed by curl itself (--aws-sigv4: curl >= 7.75;
# Debian 12 has 7.88, Ubuntu 24.04 8.5), for the steps that cannot or should not go through the
# bucket mount: build-daemons installs s3fs, the very program that mounts it, and build artifacts are
# read and published with S3's conditional writes. Needs lib/common.sh. Inlined into a step.
#
# Parameters, checked as mount-bucket.sh checks them: SSM_BucketName, SSM_BucketRegion and
# SSM_S3Endpoint. Credentials: with S3Endpoint empty (AWS), the instance role's, from instance
# metadata (IMDSv2, with the role's session token); with an endpoint (an S3-compatible server,
# path-style requests, local mode and tests), $FTPFLEET_ROOT/etc/ftpfleet/s3fs.passwd (KEY:SECRET),
# the file mount-bucket.sh hands s3fs. Secrets stay in shell variables: curl reads them from a
# config on its standard input (-K -), never from its arguments, and nothing here prints them.

s3_bucket=""
s3_region=""
s3_endpoint=""
# Where the bucket's objects are: "$s3_base/<key>".
s3_base=""
s3_key_id=""
s3_secret=""
s3_token=""
# The ETag of the object the last s3_get fetched (for an If-Match replacement).
s3_etag=""
# The payload hash S3 expects of a request without a body (SHA-256 of nothing).
s3_empty_sha256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855

# Reads and checks the bucket parameters (exit 2 on a bad one) and sets the bucket's address.
s3_parameters() {
  s3_bucket="${SSM_BucketName:-}"
  s3_region="${SSM_BucketRegion:-}"
  s3_endpoint="${SSM_S3Endpoint:-}"
  [[ "$s3_bucket" =~ ^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$ && "$s3_bucket" != *..* ]] ||
    invalid BucketName "expected an S3 bucket name"
  [[ "$s3_region" =~ ^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$ ]] || invalid BucketRegion "expected e.g. eu-west-1"
  [[ -z "$s3_endpoint" || "$s3_endpoint" =~ ^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$ ]] ||
    invalid S3Endpoint "expected empty or http(s)://host[:port]"
  if [[ -n "$s3_endpoint" ]]; then
    s3_base="$s3_endpoint/$s3_bucket"
  elif [[ "$s3_bucket" == *.* ]]; then
    # A dotted name breaks the wildcard certificate of virtual-hosted addresses: path-style.
    s3_base="https://s3.$s3_region.amazonaws.com/$s3_bucket"
  else
    s3_base="https://$s3_bucket.s3.$s3_region.amazonaws.com"
  fi
}

# Sets s3_key_id, s3_secret and s3_token (empty for fixed keys), once.
s3_credentials() {
  [[ -z "$s3_key_id" ]] || return 0
  if [[ -n "$s3_endpoint" ]]; then
    local file="$root/etc/ftpfleet/s3fs.passwd" line=""
    [[ -r "$file" ]] || fail "S3Endpoint is set but $file is missing"
    IFS= read -r line <"$file" || true
    [[ "$line" =~ ^([A-Za-z0-9._/+=-]{1,128}):([A-Za-z0-9._/+=-]{1,128})$ ]] ||
      fail "$file must hold one line KEY:SECRET"
    s3_key_id="${BASH_REMATCH[1]}"
    s3_secret="${BASH_REMATCH[2]}"
    s3_token=""
    return 0
  fi
  local imds=http://169.254.169.254/latest token role json
  token="$(curl -fsS --max-time 2 --retry 2 -X PUT "$imds/api/token" \
    -H 'X-aws-ec2-metadata-token-ttl-seconds: 300')" ||
    fail "S3Endpoint is empty and instance metadata (IMDSv2) is unreachable"
  [[ "$token" =~ ^[A-Za-z0-9_=+/-]{1,512}$ ]] || fail "instance metadata gave a malformed token"
  # The token goes to curl through its config on standard input, like every secret here.
  role="$(curl -fsS --max-time 2 --retry 2 -K - "$imds/meta-data/iam/security-credentials/" \
    <<<"header = \"X-aws-ec2-metadata-token: $token\"")" ||
    fail "this instance has no instance profile (IAM role) to read the bucket with"
  role="${role%%$'\n'*}"
  [[ "$role" =~ ^[A-Za-z0-9+=,.@_-]{1,128}$ ]] || fail "instance metadata gave a malformed role name"
  json="$(curl -fsS --max-time 2 --retry 2 -K - "$imds/meta-data/iam/security-credentials/$role" \
    <<<"header = \"X-aws-ec2-metadata-token: $token\"")" ||
    fail "cannot read the credentials of role $role from instance metadata"
  {
    IFS= read -r s3_key_id
    IFS= read -r s3_secret
    IFS= read -r s3_token
  } < <(jq -r '.AccessKeyId // "", .SecretAccessKey // "", .Token // ""' <<<"$json" 2>/dev/null || true)
  if [[ ! "$s3_key_id" =~ ^[A-Z0-9]{16,128}$ || ! "$s3_secret" =~ ^[A-Za-z0-9/+=]{16,128}$ ||
    ! "$s3_token" =~ ^[A-Za-z0-9/+=]{16,4096}$ ]]; then
    s3_key_id="" s3_secret="" s3_token=""
    fail "instance metadata gave malformed credentials for role $role"
  fi
}

# Refuses object keys that could mean something else in a URL or a path: only the characters of
# the fleet's own keys, no empty, "." or ".." segment (curl would resolve those).
s3_check_key() {
  [[ "$1" =~ ^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$ && "/$1/" != */./* && "/$1/" != */../* ]] ||
    fail "refusing the object key '$1'"
}

# s3_request METHOD KEY OUT CURL_OPTIONS...: one signed request; the body goes to OUT. Prints
# "STATUS ETAG" (status 000: no answer). The secrets reach curl on its standard input only. Runs
# in a command substitution: s3_check_key and s3_credentials must have passed in the caller's shell.
s3_request() {
  local method="$1" key="$2" out="$3" config
  shift 3
  config="user = \"$s3_key_id:$s3_secret\""
  [[ -z "$s3_token" ]] || config+=$'\n'"header = \"x-amz-security-token: $s3_token\""
  curl -sS --retry 3 --connect-timeout 10 --max-time 900 --aws-sigv4 "aws:amz:$s3_region:s3" \
    -K - -X "$method" -o "$out" -w '%{http_code} %header{etag}' "$@" "$s3_base/$key" <<<"$config" ||
    true
}

# The S3 error code in a response body (NoSuchKey, AccessDenied, ...), for messages.
s3_error_code() {
  sed -nE 's:.*<Code>([A-Za-z0-9.]{1,64})</Code>.*:\1:p' "$1" 2>/dev/null | head -n 1 || true
}

# s3_get KEY DEST: 0 and DEST written (s3_etag set), 1 when there is no such object, 2 on any
# other answer (said on stderr). DEST is only ever written whole.
s3_get() {
  local key="$1" dest="$2" tmp answer status
  s3_etag=""
  s3_check_key "$key"
  s3_credentials
  tmp="$(mktemp "$dest.part.XXXXXX")" || return 2
  answer="$(s3_request GET "$key" "$tmp" -H "x-amz-content-sha256: $s3_empty_sha256")"
  status="${answer%% *}"
  case "$status" in
    200)
      s3_etag="${answer#* }"
      mv -f "$tmp" "$dest"
      return 0
      ;;
    404)
      rm -f "$tmp"
      return 1
      ;;
  esac
  echo "cannot read s3://$s3_bucket/$key: HTTP $status $(s3_error_code "$tmp")" >&2
  rm -f "$tmp"
  return 2
}

# s3_put FILE KEY [CONDITION]: uploads FILE as the object KEY. CONDITION "absent" writes only if
# there is no such object (If-None-Match: *); an ETag (quoted, as s3_get got it) writes only over
# that very object (If-Match). 0 written, 3 the condition failed (another writer came first), 2 on
# any other answer (said on stderr).
s3_put() {
  local file="$1" key="$2" condition="${3:-}" answer status body sha
  local options=(-H "Content-Type: application/octet-stream")
  s3_check_key "$key"
  s3_credentials
  if [[ "$condition" == absent ]]; then
    options+=(-H "If-None-Match: *")
  elif [[ -n "$condition" ]]; then
    [[ "$condition" =~ ^\"?[0-9A-Fa-f-]{1,80}\"?$ ]] || fail "refusing the ETag '$condition'"
    options+=(-H "If-Match: $condition")
  fi
  # curl signs the payload hash it is given: the file's own.
  sha="$(sha256sum "$file" | cut -d' ' -f1)" || return 2
  body="$(mktemp)" || return 2
  answer="$(s3_request PUT "$key" "$body" -T "$file" -H "x-amz-content-sha256: $sha" "${options[@]}")"
  status="${answer%% *}"
  case "$status" in
    200)
      rm -f "$body"
      return 0
      ;;
    # 409: S3's ConditionalRequestConflict, a conditional write racing another one.
    412 | 409)
      rm -f "$body"
      return 3
      ;;
  esac
  echo "cannot write s3://$s3_bucket/$key: HTTP $status $(s3_error_code "$body")" >&2
  rm -f "$body"
  return 2
}
