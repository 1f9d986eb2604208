import Foundation
import Testing
import TestSupport

/// README.md's "Two commands", run as written: each in a network namespace
/// of its own, where 127.53.53.53:53 and the default HTTP address are the
/// test's, from a directory laid out as a checkout (`.build/release/rootmirror`,
/// `../shared/zones`). What the test binary's own build did (apt-get, swift
/// build) is left out, and for the one that needs the internet, internic is a
/// loopback HTTP stand-in: its URL, its key, and the DNSSEC and ZONEMD checks
/// that a test copy of the zone cannot pass, are what changes.
@Suite struct ReadmeCommandTests {
    static let setUp = "apt-get update && xargs apt-get install -y < .ci/packages && "
    static let build = "swift build -c release -Xswiftc -static-stdlib && "

    /// The `sh` blocks of the "Two commands" section, in order.
    static func commands() throws -> [String] {
        let readme = try String(contentsOfFile: "\(packageRoot)/README.md", encoding: .utf8)
        let section = try #require(readme.components(separatedBy: "\n## Two commands\n").last?.components(separatedBy: "\n## ").first)
        return section.components(separatedBy: "```sh\n").dropFirst().compactMap { $0.components(separatedBy: "\n```").first }
    }

    /// A checkout-shaped directory: the binary where a release build puts it, the shared zones beside.
    static func checkout(_ scratch: Scratch) throws -> String {
        let work = scratch.file("rootmirror")
        try FileManager.default.createDirectory(atPath: work + "/.build/release", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: work + "/.build/release/rootmirror", withDestinationPath: rootmirrorBinary)
        try FileManager.default.createDirectory(atPath: scratch.file("shared"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: scratch.file("shared/zones"), withDestinationPath: sharedZones)
        return work
    }

    /// `script` under sh in a new network namespace with loopback up.
    static func isolated(_ script: String, in directory: String) throws -> ProcessResult {
        try run("/usr/bin/timeout", ["120", "/usr/bin/unshare", "--net", "/bin/sh", "-c", "ip link set lo up && cd \"$0\" || exit 1\n" + script, directory])
    }

    /// The com referral, as dig prints it, and no server left behind.
    static func expectReferral(_ result: ProcessResult, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(result.status == 0, "\(result.output)\(result.stderr)", sourceLocation: sourceLocation)
        #expect(result.output.contains("status: NOERROR") && result.output.contains("com.\t\t\t172800\tIN\tNS\ta.gtld-servers.net."),
                "\(result.output)\(result.stderr)", sourceLocation: sourceLocation)
    }

    @Test func theSectionHasTheThreeCommandsCIRuns() throws {
        let commands = try Self.commands()
        try #require(commands.count == 3, "\(commands)")
        for command in commands { #expect(command.hasPrefix(Self.setUp), "\(command)") }
        #expect(commands[2] == Self.setUp + "swift test")
        // .ci/run is the third command, with fuzzing before the tests.
        let ci = try String(contentsOfFile: "\(packageRoot)/.ci/run", encoding: .utf8)
        #expect(ci.contains("xargs apt-get install -y --no-install-recommends < .ci/packages\n") && ci.hasSuffix("\nswift test\n"), "\(ci)")
    }

    @Test func offlineCommandServesTheReferralAndStops() throws {
        let command = try #require(try Self.commands().dropFirst().first)
        try #require(command.hasPrefix(Self.setUp + Self.build), "\(command)")
        let scratch = try Scratch()
        defer { scratch.remove() }
        let work = try Self.checkout(scratch)
        let result = try Self.isolated(String(command.dropFirst((Self.setUp + Self.build).count)), in: work)
        Self.expectReferral(result)
        #expect(result.output.contains("data.cdb: serial 2023051100, 1479 TLDs"), "\(result.output)")
    }

    @Test func refreshCommandServesTheReferralAndStops() throws {
        let command = try #require(try Self.commands().first)
        let refresh = ".build/release/rootmirror refresh && "
        try #require(command.hasPrefix(Self.setUp + Self.build + refresh), "\(command)")
        let scratch = try Scratch()
        defer { scratch.remove() }
        let work = try Self.checkout(scratch)
        // The stand-in: a recent root and its signature, by a key of the test's.
        let mirror = scratch.file("mirror")
        try FileManager.default.createDirectory(atPath: mirror, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: "\(sharedZones)/root-2026082200-nosig.zone.gz", toPath: mirror + "/root.zone.gz")
        let key = try SigningKey()
        try key.sign(mirror + "/root.zone.gz")
        // The test copy lost most of its RRSIGs, and with them its DNSSEC
        // chain and ZONEMD digest: those checks are off, the OpenPGP one stays.
        let standIn = ".build/release/rootmirror refresh --url http://127.0.0.1:8080/ --keyring \(key.publicKey) "
            + "--dnssec off --zonemd off && "
        let script = "(cd \(mirror) && exec python3 -m http.server 8080 --bind 127.0.0.1 >/dev/null 2>&1) & mirror=$!; "
            + "i=0; until ss -ltn | grep -q '127.0.0.1:8080 ' || [ $i -ge 100 ]; do i=$((i+1)); sleep 0.1; done; "
            + standIn + String(command.dropFirst((Self.setUp + Self.build + refresh).count)) + "; status=$?; kill $mirror; exit $status"
        let result = try Self.isolated(script, in: work)
        Self.expectReferral(result)
        #expect(result.output.contains("data.cdb: serial 2026082200 installed"), "\(result.output)")
    }
}
