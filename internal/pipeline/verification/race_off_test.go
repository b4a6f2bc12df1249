//go:build !race

package verification

// raceScale divides the devnet tests' request counts (see race_on_test.go).
const raceScale = 1
