# The release, from VERSION: the binary's version, the image tag and the
# chart's appVersion.
VERSION ?= $(shell cat VERSION)
# The linker flags of every shipped build (also the Dockerfile's): strip
# symbols, and stamp the release into `cast-operator version`.
LDFLAGS ?= -s -w -X github.com/spell-platform/cast-operator/internal/version.version=$(VERSION)
# Image used by `make deploy` and `make docker-build`.
IMG ?= ghcr.io/spell-platform/cast-operator:$(VERSION)

# Kubernetes version of the envtest control plane, built from source into bin/.
ENVTEST_K8S_VERSION ?= 1.37.2

GOOS ?= $(shell go env GOOS)
GOARCH ?= $(shell go env GOARCH)
LOCALBIN ?= $(CURDIR)/bin
ENVTEST_DIR := $(LOCALBIN)/k8s/$(ENVTEST_K8S_VERSION)-$(GOOS)-$(GOARCH)
# A user's KUBEBUILDER_ASSETS wins; otherwise the binaries we build.
export KUBEBUILDER_ASSETS ?= $(ENVTEST_DIR)

CONTROLLER_GEN ?= go tool controller-gen
KUBECTL ?= kubectl

# Extra flags for `go test`, e.g. TEST_ARGS='-run TestX -v'.
TEST_ARGS ?=
# How long `make fuzz` runs each fuzz target.
FUZZTIME ?= 30s
# Flags for `make bench`, e.g. BENCH_ARGS='-clients 1000 -duration 10s'.
BENCH_ARGS ?=
# Flags for `make soak`, e.g. SOAK_ARGS='-clients 500 -minutes 10 -churn 30s'.
SOAK_ARGS ?=

SHELL = /usr/bin/env bash -o pipefail
.SHELLFLAGS = -ec

.PHONY: all
all: build js-client

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: ## Generate the CRD and RBAC manifests under config/ (and the chart's copy of the CRD).
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths="./..." output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac
	cp config/crd/bases/spell.dev_casts.yaml charts/cast-operator/crds/spell.dev_casts.yaml

.PHONY: generate
generate: ## Generate DeepCopy methods for the API types.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./..."

.PHONY: fmt
fmt: ## Run go fmt.
	go fmt ./...

.PHONY: vet
vet: ## Run go vet (also on the dev build's registration of the dev command).
	go vet ./...
	go vet -tags dev .

.PHONY: lint
lint: ## Run golangci-lint (pinned in go.mod, config in .golangci.yml; built into bin/ once per version).
	@v=$$(go list -m -f '{{.Version}}' github.com/golangci/golangci-lint/v2); \
	test -x $(LOCALBIN)/golangci-lint-$$v || { echo "lint: building golangci-lint $$v into bin/ (once)"; \
		go build -o $(LOCALBIN)/golangci-lint-$$v github.com/golangci/golangci-lint/v2/cmd/golangci-lint; }; \
	$(LOCALBIN)/golangci-lint-$$v run ./...

.PHONY: envtest
envtest: ## Build kube-apiserver, etcd (and etcdctl, etcdutl for the etcd-restore fault spec) for envtest into bin/ (once).
	@hack/build-envtest.sh $(ENVTEST_K8S_VERSION) $(ENVTEST_DIR)

.PHONY: browser
browser: ## Install Debian's chromium for the dashboard's browser test (once).
	@command -v chromium >/dev/null 2>&1 || { \
		echo "browser: installing Debian's chromium for the dashboard test"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

.PHONY: test
test: manifests generate vet envtest browser ## Run unit tests, the envtest suites and the browser test.
	go test ./... -coverprofile cover.out $(TEST_ARGS)

# The packages of the shipped code and their envtest suites; the harnesses
# under test/ (faults, soak, bench) measure timing and run without -race.
RACE_PKGS ?= . ./api/... ./config/... ./controllers/... ./internal/... ./streamer/... ./test/kubetest/...

.PHONY: test-race
test-race: manifests generate vet envtest browser ## Run the unit and envtest packages under the race detector.
	go test -race -count=1 -timeout 30m $(RACE_PKGS) $(TEST_ARGS)

.PHONY: test-faults
test-faults: manifests generate vet envtest ## Run every fault-injection spec (kills, kube-apiserver restart, GitHub outages, webhook floods).
	FAULTS=all go test ./test/faults/ -count=1 -timeout 30m -v $(TEST_ARGS)

.PHONY: bench
bench: envtest ## Load-test streamer and controller; prints the table, writes docs/bench/ (default size < 10 min).
	go run ./test/bench $(BENCH_ARGS)

.PHONY: soak
soak: envtest ## Hold streamer clients with churn, then check goroutines, fds and heap return to baseline.
	go run ./test/soak $(SOAK_ARGS)

.PHONY: screenshot
screenshot: envtest browser ## Refresh docs/dashboard.png from the dashboard's browser test.
	UPDATE_SCREENSHOT=1 go test ./streamer/dashboard/ -count=1

.PHONY: fuzz
fuzz: ## Run every fuzz target for FUZZTIME (default 30s) each.
	hack/fuzz.sh $(FUZZTIME)

.PHONY: run
run: manifests generate envtest ## Run controller and streamer on a local control plane (data in .local/).
	go build -tags dev -o $(LOCALBIN)/cast-operator .
	$(LOCALBIN)/cast-operator dev --data-dir .local

##@ Build

.PHONY: build
build: manifests generate vet ## Build the static manager binary into bin/ (the image's build; no dev command).
	CGO_ENABLED=0 go build -trimpath -ldflags="$(LDFLAGS)" -o $(LOCALBIN)/cast-operator .

.PHONY: js-client
js-client: ## Pack the browser client (streamer/jsclient, served at /js/v1/) into bin/spell-platform-cast-client-<version>.tgz for npm.
	@mkdir -p $(LOCALBIN)
	npm pack ./streamer/jsclient --pack-destination $(LOCALBIN) --ignore-scripts --loglevel=warn

.PHONY: kubectl-cast
kubectl-cast: ## Build the kubectl plugin into bin/kubectl-cast (on your PATH, kubectl runs it as `kubectl cast`).
	CGO_ENABLED=0 go build -trimpath -ldflags="$(LDFLAGS)" -o $(LOCALBIN)/kubectl-cast ./cmd/kubectl-cast

.PHONY: chart
chart: manifests ## Package the Helm chart into bin/cast-operator-<version>.tgz (Helm's Go SDK; no helm binary).
	go run ./hack/chart -dest $(LOCALBIN)

.PHONY: docker-build
docker-build: ## Build the container image (needs a Docker engine).
	docker build --build-arg VERSION=$(VERSION) --build-arg REVISION=$$(git rev-parse HEAD 2>/dev/null) -t $(IMG) .

##@ Deployment

.PHONY: install
install: manifests ## Install the CRD into the cluster of the current kubeconfig.
	$(KUBECTL) apply --server-side -k config/crd

.PHONY: uninstall
uninstall: ## Remove the CRD (and every Cast) from the cluster.
	$(KUBECTL) delete --ignore-not-found -k config/crd

.PHONY: deploy
deploy: manifests ## Deploy the operator with image IMG to the current cluster.
	$(KUBECTL) kustomize config/default | sed 's|image: controller:latest|image: $(IMG)|' | $(KUBECTL) apply --server-side -f -

.PHONY: undeploy
undeploy: ## Remove the operator from the cluster.
	$(KUBECTL) kustomize config/default | $(KUBECTL) delete --ignore-not-found -f -
