#!/usr/bin/env bash
# Build stand-ins for the official base images where Docker Hub cannot be reached:
#   local/debian:bookworm  (debootstrap from Debian's mirror, `docker import`)
#   local/python:3.11      (Debian's python3.11 + venv + headers; the host's extra CA certificates)
#   local/postgres:16      (Debian's PostgreSQL, an entrypoint like the official image's)
#   local/redis:7          (Debian's redis-server: the broker of docker-compose.yml's `scale` profile)
# Then: PYTHON_IMAGE=local/python:3.11 POSTGRES_IMAGE=local/postgres:16 REDIS_IMAGE=local/redis:7
# (see docker-compose.yml).
# Debian bookworm ships PostgreSQL 15: the stand-in is 15 (the committed default stays postgres:16).
# Needs root, debootstrap and a running Docker engine (see README, Deployment). Idempotent.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
rootfs="${ROOTFS_DIR:-/tmp/ecomm-rootfs}"

if ! docker image inspect local/debian:bookworm >/dev/null 2>&1; then
    rm -rf "$rootfs"
    debootstrap --variant=minbase bookworm "$rootfs" "$mirror"
    cat > "$rootfs/etc/apt/sources.list" <<SOURCES
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
SOURCES
    tar -C "$rootfs" -c . | docker import --change 'CMD ["/bin/bash"]' --change 'ENV LANG=C.UTF-8' \
        - local/debian:bookworm
    rm -rf "$rootfs"
fi

# The machine's extra CA certificates (an egress proxy's) go into the python base's build context
# only; they stay out of git (.gitignore) and out of the committed images.
context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT
mkdir -p "$context/certs"
cp /usr/local/share/ca-certificates/*.crt "$context/certs/" 2>/dev/null || true
cp "$here/python.Dockerfile" "$here/postgres.Dockerfile" "$here/postgres-entrypoint.sh" \
    "$here/redis.Dockerfile" "$context/"

docker build --quiet -t local/python:3.11 -f "$context/python.Dockerfile" "$context"
docker build --quiet -t local/postgres:16 -f "$context/postgres.Dockerfile" "$context"
docker build --quiet -t local/redis:7 -f "$context/redis.Dockerfile" "$context"
