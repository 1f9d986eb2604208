import CDBStore
import Foundation
import Refresh
import Testing
import TestSupport

@Suite struct RefreshStateTests {
    @Test func roundTrips() throws {
        var state = RefreshState()
        state.lastSuccess = 1_795_429_362
        state.result = "installed"
        state.serial = 2_026_082_201
        state.source = "https://www.internic.net/domain/root.zone.gz"
        state.lastInstall = 1_795_429_000
        state.etag = "\"5f3-5fb5d8d1\""
        state.lastModified = "Thu, 11 May 2023 10:09:41 GMT"
        #expect(RefreshState(parsing: state.text) == state)

        let scratch = try Scratch()
        let data = "\(scratch.path)/data.cdb"
        try state.write(forData: data)
        #expect(try RefreshState.read(forData: data) == state)
        #expect(scratch.files == ["data.cdb.state"])
    }

    /// Found by the state-file fuzzer: blanks and empty names in `verified`
    /// once read back differently from what was written.
    @Test func verifiedNamesReadBackAsWritten() {
        let state = RefreshState(parsing: "verified=, openpgp ,dnssec,,zonemd\nconfirmed=1795429362\n")
        #expect(state.verified == ["openpgp", "dnssec", "zonemd"] && state.confirmed == 1_795_429_362)
        #expect(RefreshState(parsing: state.text) == state)
    }

    @Test func isPlainKeyValueLines() {
        var state = RefreshState()
        state.serial = 7
        state.etag = "evil\nserial=1"
        let lines = state.text.split(separator: "\n")
        #expect(lines.first?.hasPrefix("#") == true)
        #expect(lines.contains("serial=7"))
        #expect(lines.contains("etag=evilserial=1"), "a value can never add a line")
        #expect(RefreshState(parsing: "junk\n# c\nserial=12\nfuture_key=x\n").serial == 12)
    }

    @Test func missingFileIsAnEmptyState() throws {
        #expect(try RefreshState.read(forData: "/nonexistent/data.cdb") == RefreshState())
    }

    @Test func mirrorURLs() {
        #expect(RefreshOptions.urls(for: "https://www.internic.net/domain/") ==
                ("https://www.internic.net/domain/root.zone.gz", "https://www.internic.net/domain/root.zone.gz.sig"))
        #expect(RefreshOptions.urls(for: "http://mirror.example/root") ==
                ("http://mirror.example/root/root.zone.gz", "http://mirror.example/root/root.zone.gz.sig"))
        #expect(RefreshOptions.urls(for: "http://mirror.example/x/root.zone.gz").signature == "http://mirror.example/x/root.zone.gz.sig")
    }
}

/// The library pipeline in-process, for what the command line does not
/// expose: retry timing.
@Suite struct RefresherTests {
    let key: SigningKey
    let mirror: Mirror
    let target: Target
    var options = RefreshOptions()

    /// A mirror whose first answer to each path is 503.
    init() throws {
        key = try SigningKey()
        mirror = try Mirror()
        target = try Target()
        try mirror.publish(zone2026a, signedBy: key)
        options.data = target.data
        options.sources = [.url(mirror.server.base + "flaky/")]
        options.verifier = SignatureVerifier(keyring: bytes(key.publicKey), pinnedFingerprints: [key.fingerprint], keyringName: "test")
        options.fetch.retryDelay = .milliseconds(10)
        options.proofs.dnssec = .off
        options.proofs.zonemd = .off
    }

    @Test func retriesAServerErrorWithBackoff() async throws {
        var options = options
        options.fetch.retries = 1
        let outcome = try await Refresher.run(options, logger: Refresher.standardErrorLogger(quiet: true))
        #expect(outcome.action == .installed && outcome.serial == 2026082200)
        let paths = mirror.server.requests.map { $0.split(separator: " ")[1] }
        #expect(paths == ["/flaky/root.zone.gz", "/flaky/root.zone.gz", "/flaky/root.zone.gz.sig", "/flaky/root.zone.gz.sig"])
        #expect(target.onlyFinalFiles)
    }

    @Test func noRetriesMeansTheFirstErrorCounts() async throws {
        var options = options
        options.fetch.retries = 0
        let error = await #expect(throws: RefreshError.self) {
            try await Refresher.run(options, logger: Refresher.standardErrorLogger(quiet: true))
        }
        #expect(error?.kind == .fetch)
        #expect(error?.message.contains("HTTP 503") == true, "\(String(describing: error))")
        #expect(target.scratch.files == ["data.cdb.lock"])
    }
}
