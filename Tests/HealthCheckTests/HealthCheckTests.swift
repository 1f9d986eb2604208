import Addressing
import Foundation
import Freshness
import HealthCheck
import Telemetry
import Testing

/// `check --url` must say exactly what the server itself concluded: the
/// plugin line built from the `/health` document equals the one built from
/// the server's own assessment, for every state.
@Suite struct HealthCheckTests {
    let now: Int64 = 1_800_000_000

    func report(serial: UInt32?, age: Int64, upstream: [UInt32], behindSince: Int64? = nil, mode: String = "serve") -> HealthReport {
        let results = upstream.map {
            SOAProbe.Result(upstream: try! IPEndpoint(parsing: "192.0.2.1", defaultPort: 53), serial: $0, error: nil)
        }
        let observation = SOAMonitor.Observation(time: now - 30, results: results, view: .from(serials: upstream))
        let input = FreshnessInput(now: now, localSerial: serial, soaExpire: 604_800, lastRefresh: now - age,
                                   upstream: observation.view, behindSince: behindSince)
        return HealthReport(assessment: FreshnessPolicy.assess(input), input: input, thresholds: FreshnessThresholds(),
                            observation: observation, lastReload: now - 100, mode: mode)
    }

    @Test func verdictFromHealthMatchesTheServersOwn() throws {
        let cases = [
            report(serial: 2_026_082_201, age: 3 * 3600, upstream: [2_026_082_201]),
            report(serial: 2_026_082_200, age: 3 * 3600, upstream: [2_026_082_201, 2_026_082_201], behindSince: now - 600),
            report(serial: 2_026_082_201, age: 80 * 3600, upstream: []),
            report(serial: 2_026_082_201, age: 8 * 86400, upstream: [2_026_082_201], mode: "forward"),
            report(serial: nil, age: 0, upstream: []),
        ]
        var states: [NagiosCheck.State] = []
        for r in cases {
            let direct = NagiosCheck(r.assessment, input: r.input, thresholds: r.thresholds, mode: r.mode)
            let fromJSON = try #require(HealthCheck.verdict(fromHealth: Data(r.json.utf8)))
            #expect(fromJSON == direct, "\(r.json)")
            states.append(fromJSON.state)
        }
        #expect(states == [.ok, .warning, .critical, .critical, .critical])
    }

    /// Numbers no server writes (a hostile or broken endpoint): read as
    /// absent, never subtracted into an overflow that kills the check.
    @Test func numbersOutOfRangeReadAsAbsent() throws {
        let document = """
            {"status": "ok", "local_serial": 4294967296, "soa_expire_seconds": -1,
             "signatures_expire_seconds": -9223372036854775808, "data_age_seconds": 9223372036854775807,
             "upstream": {"serial": -5, "answered": 1},
             "thresholds": {"warning_age_seconds": 93600, "critical_age_seconds": 259200, "critical_behind_seconds": 86400}}
            """
        let check = try #require(HealthCheck.verdict(fromHealth: Data(document.utf8)))
        #expect(check.line.hasPrefix("ROOTMIRROR OK - no data") && !check.line.contains("signatures="), "\(check.line)")
    }

    @Test func notAHealthDocument() {
        for text in ["", "{}", "[1, 2]", "{\"status\": \"ok\"}", "<html></html>"] {
            #expect(HealthCheck.verdict(fromHealth: Data(text.utf8)) == nil, "\(text)")
        }
    }
}
