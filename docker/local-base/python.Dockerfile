# Stand-in for python:3.11-slim built from Debian's packages (docker/local-base/build.sh).
ARG DEBIAN_IMAGE=local/debian:bookworm
FROM ${DEBIAN_IMAGE}
COPY certs/ /usr/local/share/ca-certificates/
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates python3 python3-venv python3-dev \
        python-is-python3 \
    && update-ca-certificates \
    && rm -rf /var/lib/apt/lists/*
# pip, uv (rustls) and requests bundle their own roots: point them at the system store.
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt
CMD ["python3"]
