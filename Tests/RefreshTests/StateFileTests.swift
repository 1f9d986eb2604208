import CDBStore
import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The files beside data.cdb as a hostile probe leaves them: numbers no
/// clock arithmetic survives, a FIFO or a directory in place of a file.
/// Each is refused or read around in one line; nothing hangs, nothing
/// traps, and nothing is installed that the exit status denies.
@Suite struct StateFileTests {
    let key: SigningKey
    let mirror: Mirror
    let target: Target

    init() throws {
        key = try SigningKey()
        mirror = try Mirror()
        target = try Target()
    }

    var statePath: String { RefreshState.path(forData: target.data) }

    func refresh() throws -> ProcessResult {
        // `timeout`: a run that hangs fails the test instead of stopping the suite.
        try run("/usr/bin/timeout", ["60", rootmirrorBinary, "refresh", "-d", target.data, "--url", mirror.server.base,
                                     "--keyring", key.publicKey, "--retries", "0"] + unsignedZone)
    }

    func installFirst() throws -> [UInt8] {
        try mirror.publish(zone2026a, signedBy: key)
        let result = try refresh()
        try #require(result.status == 0, "stderr: \(result.stderr)")
        return bytes(target.data)
    }

    @Test func numbersOutOfRangeReadAsAbsent() throws {
        let state = RefreshState(parsing: """
            serial=2026082200
            last_success=-9223372036854775808
            last_install=9223372036854775807
            signatures_expire=253402300800
            """)
        #expect(state.serial == 2026082200 && state.lastSuccess == nil && state.lastInstall == nil && state.signaturesExpire == nil)
        #expect(RefreshState(parsing: "signatures_expire=253402300799").signaturesExpire == 253402300799)
        #expect(throws: StoreError.self) {
            try TrustAnchorState(parsing: "trusted 20326 8 ds=2:E06D since=0000-01-01T00:00:00Z\n", path: "anchors")
        }
    }

    /// The state of the served serial saying its signatures expire at
    /// Int64.min: serve (which subtracted it from the clock and died on
    /// SIGILL) starts and reports no expiry, and check says the same.
    @Test func serveAndCheckSurviveAStateOfExtremeNumbers() throws {
        _ = try installFirst()
        let later = Int64(Date().timeIntervalSince1970) + 100
        _ = target.scratch.write("data.cdb.state", Array("""
            serial=2026082200
            last_success=\(later)
            signatures_expire=-9223372036854775808

            """.utf8))
        let http = Endpoint.random()
        let server = try RootmirrorServer(data: target.data, directory: target.scratch, extra: ["--http", http.description])
        defer { server.stop() }
        let health = try run("/usr/bin/curl", ["-s", "--max-time", "5", "http://\(http)/health"]).output
        #expect(health.contains("\"signatures_expire\": null"), "\(health)")
        #expect(server.daemon.isRunning)
        for check in [["check", "-d", target.data, "--upstream", Endpoint.random().description, "--timeout", "1"],
                      ["check", "--url", "http://\(http)"]] {
            let result = try run(rootmirrorBinary, check)
            #expect((0...3).contains(result.status) && result.output.hasPrefix("ROOTMIRROR "), "\(check): \(result.status) \(result.output)\(result.stderr)")
        }
    }

    /// A FIFO as DATA.state or DATA.anchors: refresh refuses it in one line
    /// (it hung in open), check names it and answers, serve answers and
    /// stops on SIGTERM.
    @Test func aFIFOInPlaceOfTheStateIsRefusedNotWaitedOn() throws {
        let installed = try installFirst()
        unlink(statePath)
        try #require(mkfifo(statePath, 0o644) == 0)
        try mirror.publish(zone2026b, signedBy: key)
        let refused = try refresh()
        expectOneLineFailure(refused, status: 1, mentions: "data.cdb.state: not a regular file")
        #expect(unchanged(target.data, installed), "data.cdb changed")

        let anchors = TrustAnchorState.path(forData: target.data)
        try #require(mkfifo(anchors, 0o644) == 0)
        let check = try run("/usr/bin/timeout", ["60", rootmirrorBinary, "check", "-d", target.data,
                                                 "--upstream", Endpoint.random().description, "--timeout", "1"])
        #expect(check.status != 124 && check.output.contains("refresh state unreadable: \(statePath): not a regular file")
                && check.output.contains("trust anchors unreadable: \(anchors): not a regular file"), "\(check.output)")

        let server = try RootmirrorServer(data: target.data, directory: target.scratch)
        #expect(try servedSerial(server.endpoint) == "2026082200")
        server.stop()
        #expect(!server.daemon.isRunning, "serve did not stop on SIGTERM: \(server.daemon.log)")
        #expect(server.daemon.process.terminationReason == .exit, "\(server.daemon.log)")
    }

    /// A state that cannot be put in place (a directory there) fails the
    /// run before the install: exit 1, and data.cdb byte for byte as it was.
    @Test func aStateThatCannotBeWrittenInstallsNothing() throws {
        let installed = try installFirst()
        unlink(statePath)
        try #require(mkdir(statePath, 0o755) == 0)
        try mirror.publish(zone2026b, signedBy: key)
        let result = try refresh()
        expectOneLineFailure(result, status: 1, mentions: "data.cdb.state: not a regular file")
        #expect(unchanged(target.data, installed), "data.cdb changed though the run failed")
        #expect(target.onlyFinalFiles, "\(target.scratch.files)")
    }
}
