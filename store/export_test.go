package store

// For the external tests (package store_test), which may import server.
var TestInput = input
