//go:build race

package e2e

// raceScale divides the verification tests' call counts: under the race
// detector the in-process go-ethereum nodes run an order of magnitude slower.
const raceScale = 5
