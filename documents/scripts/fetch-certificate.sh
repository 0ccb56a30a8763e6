#!/usr/bin/env bash
# Step of the provision document (Debian 12 / Ubuntu 24.04): put the operator's TLS PEM (private
# key + certificate) where pure-ftpd reads it. The PEM lives in a SecureString parameter, so it is
# never in the document, the command line or the command output.
# Parameter: SSM_TlsCertificateParameter (empty: keep the PEM already on the instance).
# Exit: 0 done, 1 failure, 2 invalid parameter (nothing changed).
set -euo pipefail

step=fetch-certificate
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

parameter="${SSM_TlsCertificateParameter-}"
[[ -z "$parameter" || "$parameter" =~ ^(/[A-Za-z0-9_.-]+)+$ ]] ||
  invalid TlsCertificateParameter "expected an SSM parameter name such as /ftpfleet/tls"
if [[ -z "$parameter" ]]; then
  echo "no TlsCertificateParameter: keeping the PEM already on the instance, if any"
  exit 0
fi

pem="$root/etc/ftpfleet/tls/pure-ftpd.pem"
install -d -m 0700 "$(dirname "$pem")"
tmp="$(mktemp "$pem.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
aws ssm get-parameter --name "$parameter" --with-decryption --query Parameter.Value --output text >"$tmp" ||
  fail "cannot read $parameter"
if ! grep -q "PRIVATE KEY" "$tmp" || ! grep -q "CERTIFICATE" "$tmp"; then
  fail "$parameter must hold a private key and a certificate (PEM)"
fi
chmod 0600 "$tmp"
mv "$tmp" "$pem"
trap - EXIT
echo "TLS certificate installed from $parameter"
