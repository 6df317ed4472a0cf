//go:build dev

package main

import "github.com/spell-platform/cast-operator/cmd/dev"

// With the dev tag (`make run`) the binary carries the dev command and,
// through it, envtest and hack/localcluster; without it, main answers dev
// with errNoDev.
func init() { commands["dev"] = dev.Run }
