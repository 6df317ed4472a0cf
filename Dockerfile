# Build a static binary, then ship it alone on distroless as a nonroot user.
FROM golang:1.26 AS builder
ARG TARGETOS
ARG TARGETARCH
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
RUN CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} go build -trimpath -ldflags="-s -w" -o cast-operator .

FROM gcr.io/distroless/static:nonroot
WORKDIR /
COPY --from=builder /workspace/cast-operator .
USER 65532:65532
ENTRYPOINT ["/cast-operator"]
CMD ["controller"]
