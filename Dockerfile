# Build a static binary, then ship it alone on distroless as a nonroot user.
FROM golang:1.26 AS builder
ARG TARGETOS
ARG TARGETARCH
# The release (the VERSION file; dockerfile_test.go keeps them equal).
ARG VERSION=0.1.0
ARG REVISION=
WORKDIR /workspace
# Dependencies first, so source changes reuse the module layer.
COPY go.mod go.sum ./
RUN go mod download
# The production binary's packages only (main_test.go checks this list
# against `go list -deps .`); the dev command and its local control plane
# (hack/) stay out, and .dockerignore drops tests and cmd/dev.
COPY main.go ./
COPY api/ api/
COPY cmd/ cmd/
COPY controllers/ controllers/
COPY internal/ internal/
COPY streamer/ streamer/
# The same build as `make build`, for the target platform.
RUN CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} go build -trimpath \
    -ldflags="-s -w -X github.com/spell-platform/cast-operator/internal/version.version=${VERSION} -X github.com/spell-platform/cast-operator/internal/version.commit=${REVISION}" \
    -o cast-operator .

FROM gcr.io/distroless/static:nonroot
ARG VERSION=0.1.0
ARG REVISION=
# OCI annotations: registries, scanners and `docker inspect` show what this is.
LABEL org.opencontainers.image.title="cast-operator" \
      org.opencontainers.image.description="Kubernetes operator for GitHub Actions workflow runs (Casts), with an SSE streamer" \
      org.opencontainers.image.source="https://github.com/spell-platform/cast-operator" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
WORKDIR /
COPY --from=builder /workspace/cast-operator .
USER 65532:65532
ENTRYPOINT ["/cast-operator"]
CMD ["controller"]
