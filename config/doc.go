// Package config holds the kustomize manifests (config/default and the
// optional components under config/components). Its tests render them and
// the Helm chart in charts/cast-operator, check the two stay equal, and
// server-side dry-run both against a real kube-apiserver.
package config
