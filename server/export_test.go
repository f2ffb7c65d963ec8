package server

// SyncBuffer lets the external tests (package server_test) share the
// internal tests' concurrency-safe buffer.
type SyncBuffer = syncBuffer
