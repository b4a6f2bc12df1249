package usage

// TestPostgresDSN is postgresDSN for the end-to-end tests of package
// usage_test: a fresh schema on the test server, or a skip (a failure in CI).
var TestPostgresDSN = postgresDSN
