#!/usr/bin/env bash
# Step of the provision document (Debian 12 / Ubuntu 24.04): put the operator's TLS PEM (private
# key + certificate) where pure-ftpd reads it. The PEM lives in a SecureString parameter, so it is
# never in the document, the command line or the command output.
set -euo pipefail

parameter="${SSM_TlsCertificateParameter-}"
if [[ -z "$parameter" ]]; then
  echo "no TlsCertificateParameter: keeping the PEM already on the instance, if any"
  exit 0
fi
if [[ ! "$parameter" =~ ^(/[A-Za-z0-9_.-]+)+$ ]]; then
  echo "fetch-certificate: invalid parameter TlsCertificateParameter: not an SSM parameter name" >&2
  exit 2
fi

pem="${FTPFLEET_ROOT-}/etc/ftpfleet/tls/pure-ftpd.pem"
install -d -m 0700 "$(dirname "$pem")"
tmp="$(mktemp "$pem.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
aws ssm get-parameter --name "$parameter" --with-decryption --query Parameter.Value --output text >"$tmp"
if ! grep -q "PRIVATE KEY" "$tmp" || ! grep -q "CERTIFICATE" "$tmp"; then
  echo "TlsCertificateParameter $parameter must hold a private key and a certificate (PEM)" >&2
  exit 1
fi
chmod 0600 "$tmp"
mv "$tmp" "$pem"
trap - EXIT
echo "TLS certificate installed from $parameter"
