import ArgumentParser
@testable import RootMirrorCLI
import Testing
import TestSupport

/// `refresh` argument checks happen before anything runs (exit 64).
@Suite struct RefreshArgumentTests {
    @Test(arguments: [
        ["refresh", "--file", "root.zone.gz"],
        ["refresh", "--sig", "root.zone.gz.sig"],
        ["refresh", "--file", "z.gz", "--sig", "z.gz.sig", "--url", "http://127.0.0.1/"],
        ["refresh", "--timeout", "0"],
        ["refresh", "--retries", "-1"],
        ["refresh", "--min-tlds", "-1"],
        // A transfer has only the zone's own proofs: they cannot be turned down for it.
        ["refresh", "--url", "axfr://127.0.0.1", "--dnssec", "off", "--zonemd", "off"],
        ["refresh", "--url", "http://127.0.0.1/", "--url", "axfr://127.0.0.1", "--zonemd", "optional"],
        ["serve", "--refresh", "--url", "axfr://127.0.0.1", "--dnssec", "off"],
    ])
    func refused(_ arguments: [String]) {
        #expect(throws: (any Error).self) { try RootMirror.parseAsRoot(arguments) }
        #expect(RootMirror.exitCode(for: ValidationError("x")).rawValue == 64)
    }

    @Test func defaultsFetchFromInternic() throws {
        let command = try #require(try RootMirror.parseAsRoot(["refresh"]) as? RefreshCommand)
        #expect(command.source.sources.first == "https://www.internic.net/domain/")
        #expect(command.data == "data.cdb" && command.source.minTLDs == 1000 && !command.force && !command.quiet)
    }

    /// The binary says why in one line, exit 64, before it touches anything.
    @Test func relaxedProofsForATransferAreOneLine() throws {
        let result = try run(rootmirrorBinary, ["refresh", "-d", "/nonexistent/data.cdb", "--url", "axfr://127.0.0.1",
                                                "--dnssec", "off", "--zonemd", "off"])
        #expect(result.status == 64, "\(result.stderr)")
        let lines = result.stderr.split(separator: "\n").filter { !$0.isEmpty }
        #expect(lines.first?.contains("--dnssec off --zonemd off: an axfr:// source carries no OpenPGP signature") == true, "\(result.stderr)")
    }

    /// The spelling README.md and the help text give.
    @Test func minTLDsIsSpelledAsDocumented() throws {
        let command = try #require(try RootMirror.parseAsRoot(["refresh", "--min-tlds", "1"]) as? RefreshCommand)
        #expect(command.source.minTLDs == 1)
    }
}

/// The sources `refresh` and `serve --refresh` use without --url: internic,
/// then the AXFR servers of RFC 8806 and IANA, by address. Read from the
/// help text, never contacted.
@Suite struct DefaultSourceTests {
    static let expected = [
        "https://www.internic.net/domain/",
        "axfr://192.0.32.132", "axfr://[2620:0:2d0:202::132]",     // lax.xfr.dns.icann.org
        "axfr://192.0.47.132", "axfr://[2620:0:2830:202::132]",    // iad.xfr.dns.icann.org
        "axfr://170.247.170.2", "axfr://[2801:1b8:10::b]",         // b.root-servers.net since 2023
        "axfr://192.33.4.12", "axfr://[2001:500:2::c]",
        "axfr://199.7.91.13", "axfr://[2001:500:2d::d]",
        "axfr://192.5.5.241", "axfr://[2001:500:2f::f]",
        "axfr://192.112.36.4", "axfr://[2001:500:12::d0d]",
        "axfr://193.0.14.129", "axfr://[2001:7fd::1]",
    ]

    @Test func helpListsTheDefaultSourcesInOrder() throws {
        let help = RefreshCommand.helpMessage(columns: 100_000)
        let line = try #require(help.split(separator: "\n").first { $0.contains("Default sources, in order: ") })
        // The sentence ends with a full stop after the last address.
        let listed = line.components(separatedBy: "Default sources, in order: ")[1]
        let sources = listed.dropLast().split(separator: " ").map(String.init)
        #expect(listed.hasSuffix(".") && sources == Self.expected, "\(listed)")
        let command = try #require(try RootMirror.parseAsRoot(["refresh"]) as? RefreshCommand)
        #expect(command.source.sources == Self.expected)
    }

    /// The root servers' addresses are those of the newest root zone on file
    /// (b.root's changed in 2023; a list from an old hints file would not know).
    @Test func rootServerAddressesMatchTheNewestRootZone() throws {
        let zone = try run("/bin/sh", ["-c", "zcat \(sharedZones)/root-2026082201-nosig.zone.gz"]).output
        var addresses: [String] = []
        for letter in ["b", "c", "d", "f", "g", "k"] {
            for type in ["A", "AAAA"] {
                let record = try #require(zone.split(separator: "\n").first {
                    let f = $0.split(whereSeparator: \.isWhitespace)
                    return f.count == 5 && f[0] == "\(letter).root-servers.net." && f[3] == type
                })
                let address = String(record.split(whereSeparator: \.isWhitespace)[4])
                addresses.append(type == "A" ? "axfr://\(address)" : "axfr://[\(address)]")
            }
        }
        #expect(Array(Self.expected.suffix(12)) == addresses)
    }
}
