// Command etcd is etcd's own server entry point, built from a pinned release
// so envtest needs no binary download.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
