import ArgumentParser
import Freshness
import HealthCheck

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Report how fresh the local root is, as a Nagios/Icinga plugin.",
        discussion: """
            Prints one line, e.g. `ROOTMIRROR OK - serial 2026082201 current, refreshed 3h ago | \
            age=10800s;93600;259200 behind=0s;;86400`, and exits 0 (OK), 1 (WARNING), 2 (CRITICAL, \
            also for expired data) or 3 (UNKNOWN: the check itself could not tell).

            By default it reads a running server's /health (--url). With -d it judges data.cdb on \
            its own: its serial against the upstreams' (the zone's root servers, or --upstream), \
            and the last successful refresh recorded in DATA.state (or data.cdb's modification \
            time). The thresholds then come from the options here; from a server, they are the \
            server's.
            """
    )

    @Option(help: "A running server's endpoint (http://ADDR:PORT or its /health URL).")
    var url = "http://127.0.0.1:8053"

    @Option(name: .shortAndLong, help: "Judge this data.cdb directly instead of asking a server.")
    var data: String?

    @Option(help: ArgumentHelp("Seconds to wait for the server's /health.", valueName: "seconds"))
    var timeout = 10

    @OptionGroup(title: "Standalone")
    var freshness: FreshnessOptions

    func run() throws {
        guard timeout > 0 else { throw fail("--timeout must be positive", exitCode: 64) }
        let result: NagiosCheck
        if let data {
            result = HealthCheck.standalone(data: data, upstreams: try freshness.upstreamEndpoints(), thresholds: try freshness.thresholds(),
                                            timeoutMilliseconds: try freshness.checkTimeoutMilliseconds())
        } else {
            let url = self.url
            let timeout = Int64(self.timeout)
            result = try runBlocking { await HealthCheck.remote(url: url, timeoutSeconds: timeout) }
        }
        print(result.line)
        throw ExitCode(result.state.rawValue)
    }
}
