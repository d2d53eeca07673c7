// Command bench runs Foundation's benchmark scenarios and prints one line per
// figure: "name value unit". Each scenario measures Foundation against raw
// proto.actor in the same run wherever a comparison exists.
//
//	go run ./bench local        # process model: tell, call, memory
//	go run ./bench all          # every scenario
//
// Figures are recorded in BENCHMARKS.md.
package main

import (
	"fmt"
	"os"
	"sort"
	"strings"
)

// scenario is one named benchmark run by "go run ./bench NAME".
type scenario struct {
	about string
	run   func(out *report) error
}

var scenarios = map[string]scenario{}

// register adds a scenario; each scenario file calls it from init.
func register(name, about string, run func(out *report) error) {
	scenarios[name] = scenario{about: about, run: run}
}

// report prints figures as "name value unit".
type report struct{}

func (report) figure(name string, value float64, unit string) {
	switch {
	case value >= 1000 || value == float64(int64(value)):
		fmt.Printf("%s %.0f %s\n", name, value, unit)
	default:
		fmt.Printf("%s %.3f %s\n", name, value, unit)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: go run ./bench SCENARIO...|all")
	names := make([]string, 0, len(scenarios))
	for n := range scenarios {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-12s %s\n", n, scenarios[n].about)
	}
}

func main() {
	args := os.Args[1:]
	if len(args) == 0 {
		usage()
		os.Exit(2)
	}
	if len(args) == 1 && args[0] == "all" {
		args = args[:0]
		for n, sc := range scenarios {
			if !strings.HasPrefix(sc.about, "internal:") {
				args = append(args, n)
			}
		}
		sort.Strings(args)
	}
	for _, name := range args {
		sc, ok := scenarios[strings.TrimSpace(name)]
		if !ok {
			fmt.Fprintf(os.Stderr, "bench: unknown scenario %q\n", name)
			usage()
			os.Exit(2)
		}
		if err := sc.run(&report{}); err != nil {
			fmt.Fprintf(os.Stderr, "bench %s: %v\n", name, err)
			os.Exit(1)
		}
	}
}
