# One image for camvault's Python services: the storage service (API and sweeper, and the web
# app it serves at /app/) and the key custodians. Built from the pinned constraints; runs as an
# unprivileged user.
#   docker build -t camvault .

# The web app, built from package-lock.json; the build must be the published one
# (web/build-hashes.txt: the build is reproducible, `camvault web verify` checks a server).
FROM node:20-bookworm-slim AS web
WORKDIR /src/web
COPY web/package.json web/package-lock.json ./
RUN PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
COPY tests/vectors /src/tests/vectors
COPY web/ ./
RUN npm run build && npm run hashes:check

FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY crypto crypto
COPY common common
COPY storage_service storage_service
COPY escrow_service escrow_service
COPY witness_service witness_service
COPY clients clients
COPY camvault camvault
COPY demo demo
RUN pip install -c constraints.txt . \
    && useradd --system --uid 10001 --home-dir /data camvault \
    && mkdir -p /data && chown camvault /data
COPY --from=web /src/web/dist /app/web/dist
COPY web/build-hashes.txt /app/web/build-hashes.txt
COPY deploy/entrypoint.sh /usr/local/bin/camvault-entrypoint
USER camvault
WORKDIR /data
ENTRYPOINT ["/usr/local/bin/camvault-entrypoint"]
CMD ["camvault", "--help"]
