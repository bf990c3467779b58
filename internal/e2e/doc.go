// Package e2e holds end-to-end tests that drive the Manager's middleware
// over real HTTP against every store, each on its real server.
package e2e
