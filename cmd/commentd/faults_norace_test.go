//go:build faults && !race

package main

// raceEnabled: see faults_race_test.go.
const raceEnabled = false
