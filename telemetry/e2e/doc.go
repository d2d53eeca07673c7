// Package e2e holds the telemetry's end-to-end tests: a request through
// three members traced into a real Jaeger and read back through the
// cluster-wide trace query, a real Prometheus scraping three members, the
// dashboard in headless Chromium, and /readyz across a split. They start
// external programs (jaeger, prometheus, chromium); each test skips with
// a message when its program is missing, and fails instead when the
// environment variable CI is set (.ci/run installs them).
package e2e
