#!/bin/sh
# crossfed credential_process helper for AWS SDKs and the AWS CLI.
# Usage: aws-credential-process ROLE_ARN SESSION_NAME AUDIENCE STS_ENDPOINT [DURATION_SECONDS]
# Fetches a Google ID token for AUDIENCE from the metadata server, exchanges it with STS
# AssumeRoleWithWebIdentity, and prints the `Version: 1` JSON that credential_process expects.
# Needs only /bin/sh, curl, sed and tr: no AWS CLI, jq or Python.
# AWS_ENDPOINT_URL_STS and GCE_METADATA_HOST override the endpoints, as in the SDKs.
set -eu
if [ "$#" -lt 4 ] || [ "$#" -gt 5 ]; then
  echo "usage: $0 ROLE_ARN SESSION_NAME AUDIENCE STS_ENDPOINT [DURATION_SECONDS]" >&2
  exit 2
fi
role_arn=$1
session_name=$2
audience=$3
sts_endpoint="${AWS_ENDPOINT_URL_STS:-$4}"
duration=${5:-}
metadata_host="${GCE_METADATA_HOST:-metadata.google.internal}"

token=$(curl -sSf --max-time 10 -G --data-urlencode "audience=$audience" \
  -H 'Metadata-Flavor: Google' \
  "http://$metadata_host/computeMetadata/v1/instance/service-accounts/default/identity")

# The token goes to curl on stdin (`@-`), never in its arguments, which any local user can read.
set -- --data-urlencode "Action=AssumeRoleWithWebIdentity" --data-urlencode "Version=2011-06-15" \
  --data-urlencode "RoleArn=$role_arn" --data-urlencode "RoleSessionName=$session_name" \
  --data-urlencode "WebIdentityToken@-"
if [ -n "$duration" ]; then
  set -- "$@" --data-urlencode "DurationSeconds=$duration"
fi
response=$(printf '%s' "$token" | curl -sS --max-time 30 -w '\n%{http_code}' "$@" "$sts_endpoint/")
status=$(printf '%s\n' "$response" | tail -n 1)
body=$(printf '%s\n' "$response" | sed '$d' | tr -d '\r\n')
if [ "$status" != "200" ]; then
  echo "crossfed: AssumeRoleWithWebIdentity failed (HTTP $status): $body" >&2
  exit 1
fi
field() {
  printf '%s' "$body" | sed -n "s:.*<$1>\([^<]*\)</$1>.*:\1:p"
}
printf '{"Version": 1, "AccessKeyId": "%s", "SecretAccessKey": "%s", "SessionToken": "%s", "Expiration": "%s"}\n' \
  "$(field AccessKeyId)" "$(field SecretAccessKey)" "$(field SessionToken)" "$(field Expiration)"
