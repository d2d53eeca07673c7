// Package protos holds every Foundation wire message: the .proto sources and
// the Go generated from them by protoc and protoc-gen-go (pinned in go.mod's
// tool directives). Regenerate with `make proto`; a test fails when the
// committed Go is stale.
package protos
