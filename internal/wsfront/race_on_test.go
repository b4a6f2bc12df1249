//go:build race

package wsfront

// raceEnabled: the race detector slows every goroutine several times, so
// the slow-reader test runs fewer clients (memory figures mean little then).
const raceEnabled = true
