import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Every bad input: exit status non-zero, exactly one line on stderr naming
/// the input (and the line, where there is one), nothing on stdout, no output
/// file created, an existing one left byte for byte (the same inode: not
/// rewritten), and no temporary file left behind.
@Suite struct CompileErrorTests {
    /// A minimal valid root zone: 3 lines, so a line appended to it is line 4.
    static let goodZone = """
        .\t86400\tIN\tSOA\ta.root. nstld. 1 1800 900 604800 86400
        .\t518400\tIN\tNS\ta.root.
        a.root.\t518400\tIN\tA\t192.0.2.1

        """

    func zone(_ extra: String) -> [UInt8] { Array((Self.goodZone + extra).utf8) }

    /// Runs the refused compile twice: into an empty spot, then over an
    /// installed data.cdb.
    func expectRefused(_ makeInput: (Scratch) throws -> String, extra: [String] = [], mentions: String,
                       line: Int? = nil, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let input = try makeInput(scratch)
        // The error must name the input; a line number only where one applies.
        let expectedPrefix = "rootmirror: \(input):" + (line.map { "\($0): " } ?? " ")

        for installed in [nil, Array("previous data.cdb, must survive\n".utf8)] as [[UInt8]?] {
            let output = "\(scratch.path)/data.cdb"
            if let installed { scratch.write("data.cdb", installed) }
            let inode = inodeNumber(output)
            let before = scratch.files

            let result = try runRootmirror(["compile", input, "-o", output] + extra)
            #expect(result.status == 1, "exit status", sourceLocation: sourceLocation)
            #expect(result.stderr.hasSuffix("\n") && result.stderr.filter { $0 == "\n" }.count == 1,
                    "not one line: \(result.stderr)", sourceLocation: sourceLocation)
            #expect(result.stderr.hasPrefix(expectedPrefix), "stderr: \(result.stderr)", sourceLocation: sourceLocation)
            #expect(result.stderr.contains(mentions), "stderr: \(result.stderr)", sourceLocation: sourceLocation)
            #expect(result.output.isEmpty, "stdout: \(result.output)", sourceLocation: sourceLocation)
            #expect(scratch.files == before, "files now: \(scratch.files)", sourceLocation: sourceLocation)
            if let installed {
                #expect(FileManager.default.contents(atPath: output).map(Array.init) == installed, sourceLocation: sourceLocation)
                #expect(inodeNumber(output) == inode, "data.cdb was replaced", sourceLocation: sourceLocation)
            } else {
                #expect(!FileManager.default.fileExists(atPath: output), sourceLocation: sourceLocation)
            }
        }
    }

    func inodeNumber(_ path: String) -> UInt64? {
        var info = stat()
        return stat(path, &info) == 0 ? UInt64(info.st_ino) : nil
    }

    func realGzip() throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: "\(sharedZones)/root-2026082201-nosig.zone.gz")))
    }

    // MARK: Input that is not a zone

    @Test func truncatedGzip() throws {
        try expectRefused({ scratch in
            let bytes = try realGzip()
            return scratch.write("root.zone.gz", Array(bytes.prefix(bytes.count / 2)))
        }, mentions: "truncated gzip data")
    }

    @Test func corruptGzip() throws {
        try expectRefused({ scratch in
            var bytes = try realGzip()
            for i in stride(from: bytes.count / 2, to: bytes.count / 2 + 100, by: 7) { bytes[i] ^= 0x5A }
            return scratch.write("root.zone.gz", bytes)
        }, mentions: "corrupt gzip data")
    }

    @Test func gzipBomb() throws {
        // 80 MiB of zeros squeeze into about 80 KiB; the default cap is 64 MiB.
        try expectRefused({ scratch in
            let bomb = "\(scratch.path)/bomb.gz"
            let python = try run("/usr/bin/python3", ["-c", "import gzip, sys; open(sys.argv[1], 'wb').write(gzip.compress(bytes(80 << 20)))", bomb])
            try #require(python.status == 0, "\(python.stderr)")
            #expect((try FileManager.default.attributesOfItem(atPath: bomb)[.size] as? Int ?? 0) < 1 << 20)
            return bomb
        }, mentions: "exceeds the 64 MiB limit")
    }

    @Test func oversizedPlainFile() throws {
        // A sparse 65 MiB file: read, not stored, so it costs no disk.
        try expectRefused({ scratch in
            let path = scratch.write("root.zone", [])
            try #require(truncate(path, 65 << 20) == 0)
            return path
        }, mentions: "64 MiB limit")
    }

    @Test func sizeCapOnTheRealZone() throws {
        // The shared file itself: the error names it, and nothing is written.
        try expectRefused({ _ in "\(sharedZones)/root-2023051100.zone.gz" }, extra: ["--max-size", "1"],
                          mentions: "exceeds the 1 MiB limit")
    }

    @Test func binaryGarbage() throws {
        // Fixed pseudo-random bytes (an LCG), so the run is repeatable; the
        // first is not gzip's magic byte.
        var state: UInt32 = 12345
        let bytes = [0xA5] + (0..<4096).map { _ -> UInt8 in
            state = state &* 1_103_515_245 &+ 12345
            return UInt8(truncatingIfNeeded: state >> 16)
        }
        try expectRefused({ $0.write("root.zone", bytes) }, mentions: "(not a text zone file?)", line: 1)
        try expectRefused({ $0.write("root.zone", zone("") + bytes) }, mentions: "(not a text zone file?)", line: 4)
    }

    @Test func trailingGarbageAfterGzip() throws {
        try expectRefused({ scratch in
            let gz = try scratch.gzip("root.zone", zone(""))
            let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: gz))) + Array("not gzip".utf8)
            try FileManager.default.removeItem(atPath: gz)
            return scratch.write("root.zone.gz", bytes)
        }, mentions: "corrupt gzip data")
    }

    /// A bad record deep inside the real zone, gzip'ed: the line number
    /// survives decompression in chunks.
    @Test func errorLineInsideTheRealGzipZone() throws {
        let text = try zone2023.get().text
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let index = try #require(lines.indices.first { $0 >= 17_000 && lines[$0].split(separator: "\t").dropFirst(3).first == "A" })
        lines[index] = lines[index].split(separator: "\t").dropLast().joined(separator: "\t") + "\t192.0.2.256"
        try expectRefused({ try $0.gzip("root.zone", Array(lines.joined(separator: "\n").utf8)) },
                          mentions: "192.0.2.256", line: index + 1)
    }

    @Test func missingInput() throws {
        try expectRefused({ "\($0.path)/no-such.zone.gz" }, mentions: "cannot open: No such file or directory")
    }

    // MARK: Zone content the checks refuse

    @Test func includeIsRefused() throws {
        try expectRefused({ $0.write("root.zone", Array("$INCLUDE /etc/passwd\n".utf8) + zone("")) },
                          mentions: "$INCLUDE is not allowed", line: 1)
        try expectRefused({ $0.write("root.zone", zone("$include /etc/passwd .\n")) }, mentions: "$INCLUDE is not allowed", line: 4)
    }

    @Test func missingSOA() throws {
        try expectRefused({ $0.write("root.zone", Array(".\t518400\tIN\tNS\ta.root.\na.root.\t1\tIN\tA\t192.0.2.1\n".utf8)) },
                          mentions: "no SOA record")
    }

    @Test func twoSOAs() throws {
        try expectRefused({ $0.write("root.zone", zone(".\t86400\tIN\tSOA\ta.root. nstld. 2 1 1 1 1\n")) },
                          mentions: "more than one SOA record", line: 4)
    }

    @Test func outOfZoneData() throws {
        let text = "$ORIGIN example.\n@ 1 IN SOA ns hm 1 1 1 1 1\n@ 1 IN NS ns\nns 1 IN A 192.0.2.1\nother. 1 IN A 192.0.2.1\n"
        try expectRefused({ $0.write("example.zone", Array(text.utf8)) }, extra: ["--origin", "example."],
                          mentions: "owner is outside the zone", line: 5)
    }

    @Test func nonGlueBelowADelegation() throws {
        try expectRefused({ $0.write("root.zone", zone("tld. 1 IN NS ns.tld.\nns.tld. 1 IN A 192.0.2.2\nwww.tld. 1 IN TXT \"x\"\n")) },
                          mentions: "below the delegation 'tld.' is not glue", line: 6)
        try expectRefused({ $0.write("root.zone", zone("tld. 1 IN NS ns.tld.\nns.tld. 1 IN A 192.0.2.2\nmail.tld. 1 IN MX 1 ns.tld.\n")) },
                          mentions: "below the delegation 'tld.' is not glue", line: 6)
    }

    @Test func dataAtADelegationPoint() throws {
        try expectRefused({ $0.write("root.zone", zone("tld. 1 IN TXT \"x\"\ntld. 1 IN NS ns.tld.\nns.tld. 1 IN A 192.0.2.2\n")) },
                          mentions: "TXT data at a delegation point is occluded", line: 4)
    }

    /// The error names the line of the record at fault. Fails today: the
    /// checker reports the line of the owner's first record instead (see
    /// ZoneChecker.check, `let index = info.firstIndex`).
    @Test func errorLineIsTheOffendingRecordsLine() throws {
        // TXT at a cut, after the cut's NS (line 4): the TXT is line 6.
        try expectRefused({ $0.write("root.zone", zone("tld. 1 IN NS ns.tld.\nns.tld. 1 IN A 192.0.2.2\ntld. 1 IN TXT \"x\"\n")) },
                          mentions: "TXT data at a delegation point is occluded", line: 6)
        // Below a cut, an address (glue, line 5) then a TXT of the same name: the TXT is line 6.
        try expectRefused({ $0.write("root.zone", zone("tld. 1 IN NS ns.tld.\nns.tld. 1 IN A 192.0.2.2\nns.tld. 1 IN TXT \"x\"\n")) },
                          mentions: "TXT record below the delegation 'tld.' is not glue", line: 6)
    }

    @Test func nameServerWithoutGlue() throws {
        try expectRefused({ $0.write("root.zone", zone("tld. 1 IN NS ns.tld.\n")) },
                          mentions: "has no A or AAAA record (glue)", line: 4)
    }

    // MARK: Syntax

    @Test func unbalancedParentheses() throws {
        try expectRefused({ $0.write("root.zone", zone("x. 1 IN A 192.0.2.1 (\ny. 1 IN A 192.0.2.2\n")) }, mentions: "'(' not closed", line: 4)
        try expectRefused({ $0.write("root.zone", zone("x. 1 IN A 192.0.2.1 )\n")) }, mentions: "')' without '('", line: 4)
    }

    @Test func badTTL() throws {
        try expectRefused({ $0.write("root.zone", zone("x. 1x IN A 192.0.2.1\n")) }, mentions: "bad TTL", line: 4)
        try expectRefused({ $0.write("root.zone", zone("x. 4294967296 IN A 192.0.2.1\n")) }, mentions: "TTL out of range", line: 4)
        try expectRefused({ $0.write("root.zone", zone("$TTL forever\n")) }, mentions: "bad TTL", line: 4)
    }

    @Test func unknownType() throws {
        try expectRefused({ $0.write("root.zone", zone("x. 1 IN FOOBAR 1\n")) }, mentions: "unknown record type", line: 4)
        try expectRefused({ $0.write("root.zone", zone("x. 1 IN WKS 192.0.2.1 6 25\n")) }, mentions: "unknown record type", line: 4)
    }

    @Test func badRData() throws {
        try expectRefused({ $0.write("root.zone", zone("x. 1 IN A 192.0.2.300\n")) }, mentions: "192.0.2.300", line: 4)
        try expectRefused({ $0.write("root.zone", zone("x. 1 IN TXT \"unterminated\n")) }, mentions: "quoted string", line: 4)
    }

    // MARK: Output that cannot be written

    @Test func unwritableOutput() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let zone = scratch.write("root.zone", zone(""))
        let directory = try scratch.makeDirectory("a-directory")
        // Root may write anywhere: use a directory that does not exist, a
        // "directory" that is a regular file, and an output path that is a
        // directory (the temporary file is made, the rename fails).
        for output in ["\(scratch.path)/no/such/dir/data.cdb", "\(zone)/data.cdb", directory] {
            let result = try runRootmirror(["compile", zone, "-o", output])
            #expect(result.status == 1)
            #expect(result.stderr.hasPrefix("rootmirror: \(output)"), "\(result.stderr)")
            #expect(result.stderr.hasSuffix("\n") && result.stderr.filter { $0 == "\n" }.count == 1, "\(result.stderr)")
            #expect(result.output.isEmpty)
        }
        #expect(scratch.files == ["a-directory", "root.zone"], "left behind: \(scratch.files)")
        #expect((try FileManager.default.contentsOfDirectory(atPath: directory)).isEmpty)
    }
}
