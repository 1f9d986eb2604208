import Foundation
import Testing
import TestSupport

/// Every bad input: exit status non-zero, exactly one line on stderr naming
/// the input (and the line, where there is one), no output file created, an
/// existing one left byte for byte, and no temporary file left behind.
@Suite struct CompileErrorTests {
    let goodZone = ". 86400 IN SOA a.root. nstld. 1 1800 900 604800 86400\n. 518400 IN NS a.root.\na.root. 518400 IN A 192.0.2.1\n"

    func expectRefused(_ makeInput: (Scratch) throws -> String, extra: [String] = [], mentions: String, line: Int? = nil) throws {
        let scratch = try Scratch()
        let input = try makeInput(scratch)
        let installed: [UInt8] = Array("previous data.cdb, must survive".utf8)
        let output = scratch.write("data.cdb", installed)
        let before = scratch.files

        let result = try run(rootmirror, ["compile", input, "-o", output] + extra)
        #expect(result.status != 0)
        let lines = result.stderr.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.isEmpty }
        #expect(lines.count == 1, "stderr: \(result.stderr)")
        #expect(result.stderr.hasPrefix("rootmirror: \(input)\(line.map { ":\($0):" } ?? ":")"), "stderr: \(result.stderr)")
        #expect(result.stderr.contains(mentions), "stderr: \(result.stderr)")
        #expect(result.output.isEmpty)
        #expect(Array(FileManager.default.contents(atPath: output) ?? Data()) == installed)
        #expect(scratch.files == before)
    }

    func realGzip() throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: "\(sharedZones)/root-2026082201-nosig.zone.gz")))
    }

    @Test func truncatedGzip() throws {
        try expectRefused({ $0.write("root.zone.gz", Array(try realGzip().prefix(100_000))) }, mentions: "truncated gzip data")
    }

    @Test func corruptGzip() throws {
        try expectRefused({ scratch in
            var bytes = try realGzip()
            for i in stride(from: 50_000, to: 50_100, by: 7) { bytes[i] ^= 0x5A }
            return scratch.write("root.zone.gz", bytes)
        }, mentions: "corrupt gzip data")
    }

    @Test func gzipBomb() throws {
        // 80 MiB of zeros squeeze into about 80 KiB; the default cap is 64 MiB.
        try expectRefused({ try $0.gzip("bomb", [UInt8](repeating: 0, count: 80 << 20)) }, mentions: "exceeds the 64 MiB limit")
    }

    @Test func sizeCapOnTheRealZone() throws {
        try expectRefused({ $0.write("root.zone.gz", try realGzip()) }, extra: ["--max-size", "1"], mentions: "exceeds the 1 MiB limit")
    }

    @Test func binaryGarbage() throws {
        // Fixed pseudo-random bytes (an LCG), so the run is repeatable.
        var state: UInt32 = 12345
        let bytes = (0..<4096).map { _ -> UInt8 in
            state = state &* 1_103_515_245 &+ 12345
            return UInt8(truncatingIfNeeded: state >> 16)
        }
        try expectRefused({ $0.write("root.zone", bytes) }, mentions: "(not a text zone file?)", line: 1)
    }

    @Test func includeIsRefused() throws {
        try expectRefused({ $0.write("root.zone", Array(("$INCLUDE /etc/passwd\n" + goodZone).utf8)) },
                          mentions: "$INCLUDE is not allowed", line: 1)
    }

    @Test func missingSOA() throws {
        try expectRefused({ $0.write("root.zone", Array(". 518400 IN NS a.root.\na.root. 1 IN A 192.0.2.1\n".utf8)) },
                          mentions: "no SOA record")
    }

    @Test func twoSOAs() throws {
        try expectRefused({ $0.write("root.zone", Array((goodZone + ". 86400 IN SOA a.root. nstld. 2 1 1 1 1\n").utf8)) },
                          mentions: "more than one SOA record", line: 4)
    }

    @Test func outOfZoneData() throws {
        try expectRefused({ $0.write("zone", Array("$ORIGIN example.\n@ 1 IN SOA ns hm 1 1 1 1 1\n@ 1 IN NS ns\nns 1 IN A 192.0.2.1\nother. 1 IN A 192.0.2.1\n".utf8)) },
                          extra: ["--origin", "example."], mentions: "owner is outside the zone", line: 5)
    }

    @Test func nonGlueBelowADelegation() throws {
        try expectRefused({ $0.write("root.zone", Array((goodZone + "tld. 1 IN NS ns.tld.\nns.tld. 1 IN A 192.0.2.2\nwww.tld. 1 IN TXT \"x\"\n").utf8)) },
                          mentions: "below the delegation 'tld.' is not glue", line: 6)
    }

    @Test func nameServerWithoutGlue() throws {
        try expectRefused({ $0.write("root.zone", Array((goodZone + "tld. 1 IN NS ns.tld.\n").utf8)) },
                          mentions: "has no A or AAAA record (glue)", line: 4)
    }

    @Test func syntaxErrors() throws {
        try expectRefused({ $0.write("root.zone", Array((goodZone + "x. 1 IN A 192.0.2.1 (\n").utf8)) }, mentions: "'(' not closed", line: 4)
        try expectRefused({ $0.write("root.zone", Array((goodZone + "x. 1 IN WKS 1\n").utf8)) }, mentions: "unknown record type", line: 4)
        try expectRefused({ $0.write("root.zone", Array((goodZone + "x. 9999999999 IN A 192.0.2.1\n").utf8)) }, mentions: "TTL out of range", line: 4)
    }

    @Test func unwritableOutput() throws {
        let scratch = try Scratch()
        let zone = scratch.write("root.zone", Array(goodZone.utf8))
        // Root may write anywhere: use a directory that does not exist, and
        // a "directory" that is a regular file.
        for output in ["\(scratch.path)/no/such/dir/data.cdb", "\(zone)/data.cdb"] {
            let result = try run(rootmirror, ["compile", zone, "-o", output])
            #expect(result.status == 1)
            #expect(result.stderr.hasPrefix("rootmirror: \(output).tmp."), "\(result.stderr)")
            #expect(result.stderr.filter { $0 == "\n" }.count == 1)
        }
        #expect(scratch.files == ["root.zone"])
    }

    @Test func missingInput() throws {
        let result = try run(rootmirror, ["compile", "/nonexistent/root.zone.gz", "-o", "/tmp/never-written.cdb"])
        #expect(result.status == 1 && result.stderr == "rootmirror: /nonexistent/root.zone.gz: cannot open: No such file or directory\n")
        #expect(!FileManager.default.fileExists(atPath: "/tmp/never-written.cdb"))
    }
}

@Suite struct QueryCommandTests {
    func compiled(_ keepDNSSEC: Bool = false) throws -> (Scratch, String) {
        let scratch = try Scratch()
        let out = "\(scratch.path)/data.cdb"
        let args = ["compile", "\(sharedZones)/root-2023051100.zone.gz", "-o", out] + (keepDNSSEC ? ["--keep-dnssec"] : [])
        try #require(try run(rootmirror, args).status == 0)
        return (scratch, out)
    }

    @Test func referralNXDomainAndDS() throws {
        let (scratch, data) = try compiled()
        _ = scratch
        let referral = try run(rootmirror, ["query", "www.example.com", "A", "-d", data]).output
        #expect(referral.contains("status: NOERROR") && referral.contains(";; flags: qr;"))
        #expect(referral.contains("AUTHORITY: 13"))
        #expect(referral.contains("com.\t172800\tIN\tNS\ta.gtld-servers.net."))
        #expect(referral.contains("a.gtld-servers.net.\t172800\tIN\tA\t192.5.6.30"))

        let nx = try run(rootmirror, ["query", "nonexistent-tld", "A", "-d", data]).output
        #expect(nx.contains("status: NXDOMAIN") && nx.contains("flags: qr aa;"))
        #expect(nx.contains(".\t86400\tIN\tSOA\ta.root-servers.net. nstld.verisign-grs.com. 2023051100 1800 900 604800 86400"))

        let glue = try run(rootmirror, ["query", "a.gtld-servers.net", "A", "-d", data]).output
        #expect(glue.contains("net.\t172800\tIN\tNS\t") && !glue.contains("flags: qr aa"))

        let ds = try run(rootmirror, ["query", "com", "DS", "-d", data]).output
        #expect(ds.contains("flags: qr aa;") && ds.contains("ANSWER: 0") && ds.contains("SOA"))
        let (scratch2, signed) = try compiled(true)
        _ = scratch2
        let realDS = try run(rootmirror, ["query", "com", "DS", "-d", signed]).output
        #expect(realDS.contains("com.\t86400\tIN\tDS\t30909 8 2 E2D3C916F6DEEAC73294E8268FB5885044A833FC5459588F4A9184CFC41A5766"))
    }

    @Test func helpReadsWell() throws {
        let help = try run(rootmirror, ["--help"])
        #expect(help.status == 0 && help.output.contains("compile") && help.output.contains("query") && help.output.contains("RFC 8806"))
        let bad = try run(rootmirror, ["query", "com", "NOTATYPE", "-d", "/nonexistent"])
        #expect(bad.status == 64 && bad.stderr == "rootmirror: unknown query type 'NOTATYPE'\n")
    }
}
