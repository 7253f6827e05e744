# One image for camvault's Python services: the storage service (API and sweeper) and the key
# custodians. Built from the pinned constraints; runs as an unprivileged user.
#   docker build -t camvault .
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY crypto crypto
COPY common common
COPY storage_service storage_service
COPY escrow_service escrow_service
COPY clients clients
COPY camvault camvault
COPY demo demo
RUN pip install -c constraints.txt . \
    && useradd --system --uid 10001 --home-dir /data camvault \
    && mkdir -p /data && chown camvault /data
COPY deploy/entrypoint.sh /usr/local/bin/camvault-entrypoint
USER camvault
WORKDIR /data
ENTRYPOINT ["/usr/local/bin/camvault-entrypoint"]
CMD ["camvault", "--help"]
