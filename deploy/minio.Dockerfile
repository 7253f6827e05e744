# MinIO built from source at the pin the tests use (MinIO no longer publishes community
# images; the community repository is archived). AGPL-3.0, run as a separate server: camvault
# links none of its code. The bucket, its policy and the storage user are made by camvault's
# own `camvault admin s3-setup` (compose's minio-init), so MinIO's AGPL client mc is not needed.
#   docker build -f deploy/minio.Dockerfile -t camvault-minio .
FROM golang:1.26-bookworm AS build
ARG MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
ENV CGO_ENABLED=0 GOFLAGS=-buildvcs=false
RUN go install github.com/minio/minio@${MINIO_VERSION}

FROM debian:bookworm-slim
COPY --from=build /go/bin/minio /usr/local/bin/
RUN useradd --system --uid 10002 minio && mkdir /data && chown minio /data
USER minio
ENTRYPOINT ["minio"]
