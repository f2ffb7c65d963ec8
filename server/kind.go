package server

// Kinds the plugin files a refusal under. Plugins since 8.45.11 read `kind`
// from every answer that carries `error` or `kind`
// (CapacitorUpdaterPlugin.normalizedUpdateResponseKind, the same on iOS) and
// treat a missing or unknown one as kindFailed: they log an error, send a
// download_fail stat and fire downloadFailed in the app. Older plugins ignore
// the field. The README's "What devices are told" table lists every code.
const (
	kindUpToDate = "up_to_date" // nothing newer for this device: logged as information
	kindBlocked  = "blocked"    // the server declines by policy: logged as information, no failure counted
	kindFailed   = "failed"     // a real failure: error log, download_fail stat, downloadFailed event
)

// Codes the server answers devices with outside decide's refusals.
const (
	codeTooManyRequests = "too_many_requests"
	codeUnavailable     = "server_unavailable"
	codePayloadTooLarge = "payload_too_large"
	codeStatsQueueFull  = "stats_queue_full"
	codeStatsNotSaved   = "stats_not_saved" // the registry refuses events (disk full, locked), or the server is stopping
)

// kindOf is the kind an answer code is filed under. Policy refusals are
// blocked: the device did nothing wrong and the release is not broken, so
// no failure must reach the app or the stats. Only what stops a healthy
// device from learning its answer (a request the server could not read,
// a registry it could not reach) is failed.
func kindOf(code string) string {
	switch code {
	case codeNoNewVersion:
		return kindUpToDate
	case codeAppNotFound, codeNoChannel, codePrivateChannel,
		codePlatformIOS, codePlatformAndroid, codePlatformElectron,
		codeEmulator, codeDevBuild, codeMinNative, codeUnderNative,
		codeSemver, codeKeyMismatch, codeTooManyOverrides,
		// The plugin honours Retry-After and sends its own
		// rate_limit_reached stat; a download_fail as well would blame
		// the release for the server's load.
		codeTooManyRequests:
		return kindBlocked
	}
	return kindFailed
}
