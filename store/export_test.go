package store

// For the external tests (package store_test), which may import server.
var TestInput = input

// HistoryLines shows a channel's history, one "ACTION VERSION" a line.
var HistoryLines = historyLines

// TestInputWithFiles is TestInput with a delta form of n files.
var TestInputWithFiles = func(app, version, channel string, key, n int) RegisterInput {
	return withFiles(input(app, version, channel, key), n)
}
