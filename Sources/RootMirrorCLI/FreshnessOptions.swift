import Addressing
import ArgumentParser
import Freshness

/// The freshness settings `serve` and `check` share, read the same way by both.
struct FreshnessOptions: ParsableArguments {
    @Option(name: .customLong("upstream"),
            help: ArgumentHelp("Server to compare serials with, instead of the zone's root servers (repeatable).", valueName: "addr[:port]"))
    var upstreams: [String] = []

    @Option(help: ArgumentHelp("Last successful refresh older than this: warning.", valueName: "duration"))
    var warningAge = "26h"

    @Option(help: ArgumentHelp("Last successful refresh older than this: critical.", valueName: "duration"))
    var criticalAge = "72h"

    @Option(help: ArgumentHelp("Behind the upstreams' serial for longer than this: critical.", valueName: "duration"))
    var criticalBehind = "24h"

    @Option(help: ArgumentHelp("Seconds to wait for each upstream's SOA.", valueName: "seconds"))
    var checkTimeout = 2.0

    func thresholds() throws -> FreshnessThresholds {
        FreshnessThresholds(warningAge: try duration(warningAge, "--warning-age"),
                            criticalAge: try duration(criticalAge, "--critical-age"),
                            criticalBehind: try duration(criticalBehind, "--critical-behind"))
    }

    func upstreamEndpoints() throws -> [IPEndpoint] {
        do {
            return try upstreams.map { (text) throws(IPEndpointError) in try IPEndpoint(parsing: text, defaultPort: 53) }
        } catch {
            throw fail("--upstream: \(error)", exitCode: 64)
        }
    }

    func checkTimeoutMilliseconds() throws -> Int {
        guard checkTimeout > 0, checkTimeout <= 60 else { throw fail("--check-timeout must be above 0 and at most 60 seconds", exitCode: 64) }
        return Int(checkTimeout * 1000)
    }
}

/// `900`, `15m`, `26h`, `3d`, `1h30m`, for an option named `option`.
func duration(_ text: String, _ option: String) throws -> Int64 {
    guard let seconds = FreshnessPolicy.parseDuration(text) else {
        throw fail("\(option): '\(text)' is not a duration (900, 15m, 26h, 3d, 1h30m)", exitCode: 64)
    }
    return seconds
}
