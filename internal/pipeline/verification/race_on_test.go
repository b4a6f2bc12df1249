//go:build race

package verification

// raceScale divides the devnet tests' request counts: under the race
// detector the in-process go-ethereum nodes run an order of magnitude slower.
const raceScale = 5
