// hello: the smallest Go program, statically linked (CGO_ENABLED=0): the runtime starts its
// threads, installs its signal handlers and reserves its heap before main runs.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Printf("hello from go: %d argument(s)\n", len(os.Args)-1)
	os.Exit(3)
}
