#!/bin/sh
# Writes the secrets docker/compose.yml mounts, into docker/secrets/ (or $1):
# the token key shared by both instances, MinIO's credentials, and the
# argon2 hashes of the two clients' secrets. The clients' secrets themselves
# are printed once and kept nowhere. Existing files are kept, so running it
# again changes nothing.
#
# It needs the sharetoken binary: $SHARETOKEN if set, else
# target/release/sharetoken (make build), else the image (docker compose build).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/secrets}
if [ -n "${SHARETOKEN:-}" ]; then
  bin=$SHARETOKEN
elif [ -x "$here/../target/release/sharetoken" ]; then
  bin=$here/../target/release/sharetoken
else
  bin="docker run --rm -i sharetoken:local"
fi

umask 077
mkdir -p "$out"
random() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

[ -s "$out/token-keys" ] || $bin keygen > "$out/token-keys"
[ -s "$out/minio-access-key" ] || printf 'sharetoken-%s' "$(random | cut -c1-12)" > "$out/minio-access-key"
[ -s "$out/minio-secret-key" ] || random > "$out/minio-secret-key"
for client in app ops; do
  if [ ! -s "$out/$client-secret-hash" ]; then
    secret=$(random)
    printf '%s' "$secret" | $bin hash-secret > "$out/$client-secret-hash"
    echo "client $client: client_secret=$secret  (shown once; only its hash is kept)"
  fi
done
# The containers run as a user of their own and see each file through its
# own mount: the files are readable, the directory is closed to others.
chmod 0644 "$out"/*
chmod 0700 "$out"
echo "secrets in $out"
