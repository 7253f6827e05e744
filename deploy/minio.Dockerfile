# MinIO and its client mc, built from source at the pins the tests use (MinIO no longer
# publishes community images; the community repository is archived). AGPL-3.0 programs, run
# as separate servers: camvault links none of their code.
#   docker build -f deploy/minio.Dockerfile -t camvault-minio .
FROM golang:1.26-bookworm AS build
ARG MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
ARG MC_VERSION=v0.0.0-20250313080218-cf909e1063a9
ENV CGO_ENABLED=0 GOFLAGS=-buildvcs=false
RUN go install github.com/minio/minio@${MINIO_VERSION} \
    && go install github.com/minio/mc@${MC_VERSION}

FROM debian:bookworm-slim
COPY --from=build /go/bin/minio /go/bin/mc /usr/local/bin/
RUN useradd --system --uid 10002 minio && mkdir /data && chown minio /data
USER minio
ENTRYPOINT ["minio"]
