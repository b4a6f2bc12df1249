//go:build !race

package wsfront

const raceEnabled = false
