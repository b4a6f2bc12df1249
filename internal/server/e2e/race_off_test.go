//go:build !race

package e2e

// raceScale divides the verification tests' call counts (see race_on_test.go).
const raceScale = 1
