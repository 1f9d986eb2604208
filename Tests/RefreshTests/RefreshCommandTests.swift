import BuildInfo
import CDBStore
import DNSWire
import Foundation
import Refresh
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// `rootmirror refresh` end to end: a real HTTP server on loopback, zones
/// from ../shared/zones signed by a throwaway DSA-1024/SHA-1 key, the real
/// binary. Every refusal must leave data.cdb byte for byte as it was, no
/// temporary file, exit with its documented status and one line on stderr.
@Suite struct RefreshCommandTests {
    let key: SigningKey
    let mirror: Mirror
    let target: Target

    init() throws {
        key = try SigningKey()
        mirror = try Mirror()
        target = try Target()
    }

    func refresh(_ extra: [String] = [], url: String? = nil, keyring: String? = nil) throws -> ProcessResult {
        try target.refresh(["--url", url ?? mirror.server.base, "--keyring", keyring ?? key.publicKey, "--retries", "0"]
                           + unsignedZone + extra)
    }

    /// Installs `zone` first through a good refresh, so that refusals have
    /// something to preserve.
    func installFirst(_ zone: String = zone2026a) throws -> [UInt8] {
        try mirror.publish(zone, signedBy: key)
        let result = try refresh()
        try #require(result.status == 0, "stderr: \(result.stderr)")
        return bytes(target.data)
    }

    /// The refusal contract: status, one line, data.cdb untouched, no temporary files.
    func expectRefused(_ result: ProcessResult, status: Int32, mentions: String, installed: [UInt8],
                       sourceLocation: SourceLocation = #_sourceLocation) {
        expectOneLineFailure(result, status: status, mentions: mentions, sourceLocation: sourceLocation)
        #expect(unchanged(target.data, installed), "data.cdb changed", sourceLocation: sourceLocation)
        #expect(target.onlyFinalFiles, "left behind: \(target.scratch.files)", sourceLocation: sourceLocation)
    }

    @Test func goodRefreshInstallsAndRecordsState() throws {
        try mirror.publish(zone2026a, signedBy: key)
        let result = try refresh()
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(result.output.contains("serial 2026082200 installed"), "\(result.output)")
        // The zone's own proofs are off: the log says so.
        #expect(result.output.contains("verified openpgp (DNSSEC off, ZONEMD off),"), "\(result.output)")
        #expect(result.stderr.isEmpty, "\(result.stderr)")
        #expect(DataStore.soa(path: target.data)?.serial == 2026082200)
        #expect(try DataStore.load(path: target.data).contains { $0.owner.description == "com." && $0.type == .ns })
        #expect(target.scratch.files == ["data.cdb", "data.cdb.journal", "data.cdb.lock", "data.cdb.state"])
        let state = try RefreshState.read(forData: target.data)
        #expect(state.serial == 2026082200)
        #expect(state.result == "installed")
        #expect(state.source == mirror.server.base + "root.zone.gz")
        #expect(state.etag != nil && state.lastModified != nil)
        #expect(state.lastSuccess != nil && state.lastInstall == state.lastSuccess)
        #expect(state.verified == ["openpgp"] && state.signaturesExpire == nil)
        #expect(mirror.server.requests.map { $0.split(separator: " ")[1] } == ["/root.zone.gz", "/root.zone.gz.sig"])
        #expect(mirror.server.requests.allSatisfy { $0.hasSuffix(" ua=rootmirror/\(BuildInfo.version)") }, "\(mirror.server.requests)")
    }

    @Test func quietPrintsNothingOnSuccess() throws {
        try mirror.publish(zone2026a, signedBy: key)
        let result = try refresh(["--quiet"])
        #expect(result.status == 0 && result.output.isEmpty && result.stderr.isEmpty, "\(result.output)\(result.stderr)")
    }

    @Test func unchangedZoneIsNotDownloadedAgain() throws {
        let installed = try installFirst()
        var st = stat()
        stat(target.data, &st)
        let inode = st.st_ino
        let first = try RefreshState.read(forData: target.data)

        let result = try refresh()
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(result.output.contains("not modified"), "\(result.output)")
        let requests = mirror.server.requests
        #expect(requests.count == 3, "\(requests)")
        #expect(requests.last?.hasPrefix("GET /root.zone.gz inm=\"") == true, "\(requests)")
        #expect(unchanged(target.data, installed))
        stat(target.data, &st)
        #expect(st.st_ino == inode, "data.cdb was rewritten")
        // The run counts as a success for the freshness monitor.
        let state = try RefreshState.read(forData: target.data)
        #expect(state.result == "not-modified")
        #expect(state.serial == 2026082200)
        #expect(state.lastSuccess! >= first.lastSuccess!)
        #expect(state.lastInstall == first.lastInstall)
        #expect(target.onlyFinalFiles)
    }

    /// Switching to --keep-dnssec (and back) at an unchanged serial: the data
    /// installed lacks what the options ask for, so it is not "already
    /// installed"; the same serial is compiled again, the new way.
    @Test func switchingKeepDNSSECRecompilesTheSameSerial() throws {
        _ = try installFirst()
        let dnskey = { try DataStore.load(path: target.data).contains { $0.owner.isRoot && $0.type == .dnskey } }
        try #require(try !dnskey())
        let kept = try refresh(["--keep-dnssec"])
        #expect(kept.status == 0 && kept.output.contains("serial 2026082200 installed (was 2026082200)"), "\(kept.output)\(kept.stderr)")
        #expect(try dnskey())
        let again = try refresh(["--keep-dnssec"])
        #expect(again.status == 0 && again.output.contains("not modified"), "\(again.output)\(again.stderr)")
        let stripped = try refresh()
        #expect(stripped.status == 0 && stripped.output.contains("installed (was 2026082200)"), "\(stripped.output)\(stripped.stderr)")
        #expect(try !dnskey())
    }

    @Test func handInstalledDataIsNotKeptByA304() throws {
        _ = try installFirst(zone2026b)
        // Someone compiles an older zone by hand: the validators in the
        // state file no longer describe what is installed.
        let compiled = try run(rootmirrorBinary, ["compile", zone2026a, "-o", target.data])
        try #require(compiled.status == 0, "\(compiled.stderr)")
        let result = try refresh()
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(mirror.server.requests.last(where: { $0.hasPrefix("GET /root.zone.gz ") })?.contains("inm=None") == true,
                "\(mirror.server.requests)")
        #expect(DataStore.soa(path: target.data)?.serial == 2026082201)
    }

    @Test func sameSerialIsAQuietNoOp() throws {
        let installed = try installFirst()
        var st = stat()
        stat(target.data, &st)
        let inode = st.st_ino
        // Without the state file the request is unconditional: the same zone comes again.
        try FileManager.default.removeItem(atPath: RefreshState.path(forData: target.data))
        let result = try refresh(["--quiet"])
        #expect(result.status == 0 && result.stderr.isEmpty && result.output.isEmpty, "\(result.stderr)")
        #expect(unchanged(target.data, installed))
        stat(target.data, &st)
        #expect(st.st_ino == inode, "data.cdb was rewritten")
        #expect(try RefreshState.read(forData: target.data).result == "unchanged")
    }

    @Test func newerSerialReplacesTheInstalledOne() throws {
        _ = try installFirst(zone2026a)
        try mirror.publish(zone2026b, signedBy: key)
        let result = try refresh()
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(result.output.contains("serial 2026082201 installed (was 2026082200)"), "\(result.output)")
        #expect(DataStore.soa(path: target.data)?.serial == 2026082201)
        #expect(target.onlyFinalFiles)
    }

    @Test func badSignature() throws {
        let installed = try installFirst(zone2026a)
        // 2026082201 published with the signature of another file.
        try mirror.publish(zone2026b, signedBy: key, signing: zone2023)
        expectRefused(try refresh(), status: 3, mentions: "BAD signature", installed: installed)
    }

    @Test func signatureByAnotherKey() throws {
        let installed = try installFirst(zone2026a)
        let stranger = try SigningKey(name: "not the pinned key")
        try mirror.publish(zone2026b, signedBy: stranger)
        let result = try refresh()
        expectRefused(result, status: 3, mentions: "root.zone.gz.sig: signed by key \(stranger.fingerprint), not by a key in \(key.publicKey)",
                      installed: installed)
        // Pinned: the message names the fingerprint.
        expectRefused(try refresh(["--fingerprint", key.fingerprint]), status: 3,
                      mentions: "not by the pinned key \(key.fingerprint)", installed: installed)
    }

    @Test func missingSignatureIs404() throws {
        let installed = try installFirst(zone2026a)
        try mirror.publish(zone2026b, signedBy: key)
        try FileManager.default.removeItem(atPath: mirror.signature)
        expectRefused(try refresh(), status: 2, mentions: "root.zone.gz.sig: HTTP 404", installed: installed)
    }

    @Test func truncatedDownloadFailsTheSignature() throws {
        let installed = try installFirst(zone2026a)
        try mirror.publish(zone2026b, signedBy: key)
        mirror.directory.write("root.zone.gz", Array(bytes(zone2026b).prefix(100_000)))
        expectRefused(try refresh(), status: 3, mentions: "BAD signature", installed: installed)
    }

    @Test func validlySignedTruncatedGzip() throws {
        let installed = try installFirst(zone2026a)
        let truncated = mirror.directory.write("truncated.gz", Array(bytes(zone2026b).prefix(100_000)))
        try mirror.publish(truncated, signedBy: key)
        expectRefused(try refresh(), status: 4, mentions: "truncated gzip data", installed: installed)
    }

    @Test func validlySignedCorruptGzip() throws {
        let installed = try installFirst(zone2026a)
        var corrupt = bytes(zone2026b)
        for i in stride(from: 50_000, to: 50_100, by: 7) { corrupt[i] ^= 0x5A }
        try mirror.publish(mirror.directory.write("corrupt.gz", corrupt), signedBy: key)
        expectRefused(try refresh(), status: 4, mentions: "corrupt gzip data", installed: installed)
    }

    @Test func serverThatNeverAnswersTimesOut() throws {
        let installed = try installFirst(zone2026a)
        let result = try refresh(["--timeout", "1", "--connect-timeout", "1"], url: mirror.server.base + "hang/")
        expectRefused(result, status: 2, mentions: "hang/root.zone.gz", installed: installed)
    }

    @Test func olderSerialIsRefusedUnlessForced() throws {
        let installed = try installFirst(zone2026b)
        try mirror.publish(zone2026a, signedBy: key)
        expectRefused(try refresh(), status: 4, mentions: "serial 2026082200 is older than the installed 2026082201", installed: installed)
        let forced = try refresh(["--force"])
        #expect(forced.status == 0, "stderr: \(forced.stderr)")
        #expect(DataStore.soa(path: target.data)?.serial == 2026082200)
    }

    @Test func tooFewTLDsIsRefusedEvenWhenSigned() throws {
        let installed = try installFirst(zone2026a)
        let small = """
            . 86400 IN SOA a.root-servers.net. nstld.verisign-grs.com. 2026082300 1800 900 604800 86400
            . 518400 IN NS a.root-servers.net.
            a.root-servers.net. 518400 IN A 198.41.0.4
            com. 172800 IN NS a.gtld-servers.net.
            a.gtld-servers.net. 172800 IN A 192.5.6.30

            """
        try mirror.publish(try mirror.directory.gzip("small.zone", Array(small.utf8)), signedBy: key)
        expectRefused(try refresh(), status: 4, mentions: "only 1 TLDs, fewer than the floor of 1000", installed: installed)
    }

    @Test func oversizedDownloadIsRefused() throws {
        let installed = try installFirst(zone2026a)
        mirror.directory.write("root.zone.gz", [UInt8](repeating: 0x55, count: 3 << 20))
        expectRefused(try refresh(["--max-size", "2"]), status: 2, mentions: "over the 2 MiB limit", installed: installed)
    }

    @Test func redirectsAreFollowed() throws {
        try mirror.publish(zone2026a, signedBy: key)
        let result = try refresh(url: mirror.server.base + "redirect/")
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(DataStore.soa(path: target.data)?.serial == 2026082200)
    }

    @Test func refusedWhileAnotherRefreshHoldsTheLock() throws {
        let installed = try installFirst(zone2026a)
        try mirror.publish(zone2026b, signedBy: key)
        let lock = try RunLock(data: target.data)
        expectRefused(try refresh(), status: 5, mentions: "another refresh (pid \(getpid())) holds", installed: installed)
        withExtendedLifetime(lock) {}
    }

    @Test func twoRefreshesAtOnce() throws {
        // The first run stalls mid-download, holding the lock...
        let (installed, first) = try startStalledRefresh()
        defer { stop(first) }
        // ...so a second one, with a server that would work, must not start.
        expectOneLineFailure(try refresh(), status: 5, mentions: "another refresh (pid \(first.processIdentifier)) holds")
        #expect(unchanged(target.data, installed))
        stop(first)
        #expect(first.terminationStatus != 0)
        // Once it is gone, the next run goes ahead.
        let result = try refresh()
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(DataStore.soa(path: target.data)?.serial == 2026082201)
        #expect(target.onlyFinalFiles, "left behind: \(target.scratch.files)")
    }

    @Test func killMinus9MidRefreshLeavesDataIntactAndNextRunCleansUp() throws {
        let (installed, victim) = try startStalledRefresh()
        defer { stop(victim) }
        let workspace = "\(target.data).refresh.\(victim.processIdentifier)"
        // Half the zone has been written into the workspace when it dies.
        while victim.isRunning, (try? FileManager.default.attributesOfItem(atPath: "\(workspace)/root.zone.gz")[.size] as? Int) ?? 0 == 0 {
            usleep(20_000)
        }
        kill(victim.processIdentifier, SIGKILL)
        victim.waitUntilExit()
        #expect(victim.terminationReason == .uncaughtSignal)
        #expect(unchanged(target.data, installed))
        #expect(target.scratch.files.contains("data.cdb.refresh.\(victim.processIdentifier)"))

        let result = try refresh()
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(DataStore.soa(path: target.data)?.serial == 2026082201)
        #expect(target.scratch.files == ["data.cdb", "data.cdb.journal", "data.cdb.lock", "data.cdb.state"])
    }

    /// The 2023 root's proofs as of its own day: its signatures have expired
    /// since, and it predates ZONEMD.
    let asOfItsDay = ["--now", "2023-05-11T12:00:00Z", "--zonemd", "off"]

    /// The README's promise: every temporary of a refresh is in its
    /// workspace, the new data.cdb too, so a refresh killed with -9 while
    /// it is staged leaves only the workspace, which the next run removes.
    @Test func newDataIsStagedInTheWorkspace() throws {
        try key.sign(mirror.directory.write("root.zone.gz", bytes(zone2023)))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: rootmirrorBinary)
        process.arguments = ["refresh", "-d", target.data, "--file", mirror.zone, "--sig", mirror.signature,
                             "--keyring", key.publicKey, "--quiet"] + asOfItsDay
        try process.run()
        defer { stop(process) }
        let staged = "\(target.data).refresh.\(process.processIdentifier)/data.cdb"
        while process.isRunning && access(staged, F_OK) != 0 { usleep(200) }
        let seen = access(staged, F_OK) == 0
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(seen, "data.cdb was never staged in the workspace; beside it: \(target.scratch.files)")
        #expect(target.scratch.files.allSatisfy { !$0.contains(".tmp.") }, "\(target.scratch.files)")

        let result = try target.refresh(["--file", mirror.zone, "--sig", mirror.signature, "--keyring", key.publicKey] + asOfItsDay)
        #expect(result.status == 0, "stderr: \(result.stderr)")
        // The 2023 root is verified by DNSSEC here: its anchors are kept too.
        #expect(target.scratch.files == ["data.cdb", "data.cdb.anchors", "data.cdb.journal", "data.cdb.lock", "data.cdb.state"])
    }

    @Test func localFilesInstallTheSameWay() throws {
        try key.sign(mirror.directory.write("root.zone.gz", bytes(zone2023)))
        // The real root of that day, its DNSSEC chain checked as of that day (it predates ZONEMD).
        let result = try target.refresh(["--file", mirror.zone, "--sig", mirror.signature, "--keyring", key.publicKey,
                                         "--now", "2023-05-11T12:00:00Z", "--zonemd", "off"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(result.output.contains("verified openpgp dnssec (ZONEMD off),"), "\(result.output)")
        #expect(DataStore.soa(path: target.data)?.serial == 2023051100)
        let state = try RefreshState.read(forData: target.data)
        #expect(state.verified == ["openpgp", "dnssec"] && state.signaturesExpire == 1_684_904_400)
        #expect(state.source == URL(fileURLWithPath: mirror.zone).resolvingSymlinksInPath().path && state.etag == nil)
        #expect(target.onlyFinalFiles)
    }

    @Test func keepDNSSECKeepsEveryRecordAsCompileDoes() throws {
        try key.sign(mirror.directory.write("root.zone.gz", bytes(zone2023)))
        let signed = try target.refresh(["--file", mirror.zone, "--sig", mirror.signature, "--keyring", key.publicKey, "--keep-dnssec"]
                                        + asOfItsDay)
        #expect(signed.status == 0, "stderr: \(signed.stderr)")
        let kept = try DataStore.load(path: target.data)
        // The whole zone: 24,911 records, the RRSIGs, NSECs and the apex DNSKEYs among them.
        #expect(kept.count == 24_911)
        #expect(kept.contains { $0.type == .rrsig } && kept.contains { $0.type == .nsec } && kept.contains { $0.type == .dnskey })
        // The same file as compile --keep-dnssec writes.
        let compiled = target.scratch.path + "/compiled.cdb"
        let compile = try run(rootmirrorBinary, ["compile", mirror.zone, "-o", compiled, "--keep-dnssec"])
        #expect(compile.status == 0 && bytes(compiled) == bytes(target.data), "\(compile.output)")
        // Without the flag the next install strips them again.
        let stripped = try target.refresh(["--file", mirror.zone, "--sig", mirror.signature, "--keyring", key.publicKey, "--force"]
                                          + asOfItsDay)
        #expect(stripped.status == 0, "stderr: \(stripped.stderr)")
        #expect(try !DataStore.load(path: target.data).contains { $0.type.isDNSSEC })
    }

    @Test func builtInKeyRefusesAThrowawaySignature() throws {
        try key.sign(mirror.directory.write("root.zone.gz", bytes(zone2023)))
        let result = try target.refresh(["--file", mirror.zone, "--sig", mirror.signature])
        expectOneLineFailure(result, status: 3, mentions: "not by the pinned key \(InternicKey.fingerprint)")
        #expect(!FileManager.default.fileExists(atPath: target.data))
        #expect(target.onlyFinalFiles)
    }

    // MARK: - helpers

    /// Installs 2026082200, publishes 2026082201 and starts a refresh
    /// whose download stalls halfway, so it sits holding the lock with a
    /// workspace full of partial files; returns once the server has its request.
    func startStalledRefresh() throws -> (installed: [UInt8], process: Process) {
        let installed = try installFirst(zone2026a)
        try mirror.publish(zone2026b, signedBy: key)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: rootmirrorBinary)
        process.arguments = ["refresh", "-d", target.data, "--url", mirror.server.base + "stall/", "--keyring", key.publicKey,
                             "--retries", "0", "--quiet"] + unsignedZone
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        mirror.server.waitForRequest(containing: "/stall/root.zone.gz", from: process)
        return (installed, process)
    }

    func stop(_ process: Process) {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}
