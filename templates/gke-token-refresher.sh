#!/bin/sh
# crossfed token refresher: keeps a Google ID token for one audience in $TOKEN_FILE, where AWS
# SDKs read it through AWS_WEB_IDENTITY_TOKEN_FILE. Runs as a native sidecar (an init container
# with restartPolicy: Always), so it starts before the app and stops with it: Jobs complete.
# ID tokens live one hour; this refreshes every $REFRESH_SECONDS (default 300) and retries every
# 5 seconds on failure. The file is replaced atomically (write, then rename).
set -eu
: "${TOKEN_AUDIENCE:?TOKEN_AUDIENCE must be set}" "${TOKEN_FILE:?TOKEN_FILE must be set}"
metadata_host="${GCE_METADATA_HOST:-metadata.google.internal}"
tmp="$TOKEN_FILE.tmp"
trap 'exit 0' TERM INT
while :; do
  if curl -sSf --max-time 10 -G --data-urlencode "audience=$TOKEN_AUDIENCE" \
      -H 'Metadata-Flavor: Google' -o "$tmp" \
      "http://$metadata_host/computeMetadata/v1/instance/service-accounts/default/identity" &&
    [ -s "$tmp" ]; then
    mv -f "$tmp" "$TOKEN_FILE"
    delay="${REFRESH_SECONDS:-300}"
  else
    echo "crossfed: cannot fetch an ID token from the metadata server; retrying in 5s" >&2
    delay=5
  fi
  # Sleep in the background so SIGTERM interrupts the wait at once.
  sleep "$delay" &
  wait $!
done
