//go:build tools

// Package tools pins etcdctl and etcdutl, built by hack/build-envtest.sh
// with `go build go.etcd.io/etcd/etcdctl/v3` and `.../etcdutl/v3`.
package tools

import (
	_ "go.etcd.io/etcd/etcdctl/v3"
	_ "go.etcd.io/etcd/etcdutl/v3"
)
