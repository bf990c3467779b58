//go:build race

package proof_test

// raceEnabled: under the race detector a run costs ten times as much, so
// make test's race pass explores a few combinations only (the bounded
// exploration runs again without it).
const raceEnabled = true
