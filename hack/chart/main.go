// Command chart packages charts/cast-operator into a .tgz with Helm's Go
// SDK (`make chart`), so a release needs no helm binary.
package main

import (
	"flag"
	"fmt"
	"os"

	"helm.sh/helm/v3/pkg/action"
)

func main() {
	dest := flag.String("dest", "bin", "directory to write cast-operator-<version>.tgz into")
	dir := flag.String("chart", "charts/cast-operator", "the chart's directory")
	flag.Parse()
	if err := os.MkdirAll(*dest, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "chart:", err)
		os.Exit(1)
	}
	pkg := action.NewPackage()
	pkg.Destination = *dest
	path, err := pkg.Run(*dir, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chart: packaging:", err)
		os.Exit(1)
	}
	fmt.Println(path)
}
