//go:build faults && race

package main

// raceEnabled: the fault tests build the server with the race detector too,
// so that a data race in a crash or shutdown path shows up in its output.
const raceEnabled = true
