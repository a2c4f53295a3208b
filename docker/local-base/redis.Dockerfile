# Stand-in for redis:7-bookworm built from Debian's redis-server package (docker/local-base/build.sh):
# the Celery broker of docker-compose.yml's `scale` profile. Like the official image it listens on
# every interface without protected mode (the Compose network is its only access) and keeps no
# snapshot config of its own; `redis-cli ping` is the healthcheck.
ARG DEBIAN_IMAGE=local/debian:bookworm
FROM ${DEBIAN_IMAGE}
# uid/gid 999 as in the official image. Versions are Debian bookworm's of the day (7.0.x).
# hadolint ignore=DL3008
RUN groupadd --system --gid 999 redis \
    && useradd --system --uid 999 --gid redis --home-dir /data --shell /usr/sbin/nologin redis \
    && apt-get update \
    && apt-get install -y --no-install-recommends redis-server redis-tools \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /data \
    && chown redis:redis /data
WORKDIR /data
USER 999:999
EXPOSE 6379
CMD ["/usr/bin/redis-server", "--bind", "0.0.0.0", "--protected-mode", "no", "--dir", "/data"]
