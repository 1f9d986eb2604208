import Foundation
import Testing
import TestSupport

/// `rootmirror compile` on every shared zone: the summary line against counts
/// the test makes itself from the zone text, and data.cdb's contents counted
/// by tinycdb's own `cdb` tool.
@Suite struct CompileSummaryTests {
    /// The README's figures, to check the test's own counting too.
    @Test(arguments: [
        ("root-2023051100.zone.gz", 24_911, 1479),
        ("root-2026082200-nosig.zone.gz", nil, 1438),
        ("root-2026082201-nosig.zone.gz", nil, 1438),
    ] as [(String, Int?, Int)])
    func summaryAndStoreMatchAnIndependentCount(file: String, documentedRecords: Int?, documentedTLDs: Int) throws {
        let zone = try realZone(file)
        let all = zone.records
        let kept = zone.kept
        let stripped = all.count - kept.count
        let tlds = zone.tlds.count
        if let documentedRecords { #expect(all.count == documentedRecords) }
        #expect(tlds == documentedTLDs)
        #expect(stripped > 0 && kept.count > 10_000)

        let scratch = try Scratch()
        defer { scratch.remove() }
        let out = "\(scratch.path)/data.cdb"

        // DNSSEC stripped (the default).
        let compile = try runRootmirror(["compile", zone.path, "-o", out])
        #expect(compile.status == 0, "\(compile.stderr)")
        #expect(compile.stderr.isEmpty)
        try expectSummary(compile.output, output: out, serial: zone.serial, tlds: tlds, kept: kept.count, stripped: stripped)
        let stats = try run("/usr/bin/cdb", ["-s", out])
        #expect(stats.status == 0 && stats.output.contains("number of records: \(kept.count)\n"), "\(stats.output)")
        let entries = try cdbEntries(out)
        #expect(entries.count == kept.count)
        #expect(countsByType(entries) == countsByType(kept))
        #expect(Set(entries.map(\.type)).isDisjoint(with: dnssecTypes.compactMap { typeCodes[$0] }))

        // --keep-dnssec: everything, into the same path (replacing the file).
        let keep = try runRootmirror(["compile", zone.path, "-o", out, "--keep-dnssec"])
        #expect(keep.status == 0, "\(keep.stderr)")
        try expectSummary(keep.output, output: out, serial: zone.serial, tlds: tlds, kept: all.count, stripped: 0)
        let allEntries = try cdbEntries(out)
        #expect(allEntries.count == all.count)
        #expect(countsByType(allEntries) == countsByType(all))
        #expect(scratch.files == ["data.cdb", "data.cdb.journal"], "temporary files left: \(scratch.files)")
    }

    /// The same zone as plain text, as published gzip, and as two gzip
    /// members in a row (what `gzip -d` accepts) gives the same data.cdb.
    @Test func plainAndMultiMemberGzipGiveTheSameFile() throws {
        let zone = try zone2026a.get()
        let scratch = try Scratch()
        defer { scratch.remove() }
        let lines = zone.text.split(separator: "\n", omittingEmptySubsequences: false)
        let half = lines.count / 2
        let plain = scratch.write("root.zone", Array(zone.text.utf8))
        let first = try scratch.gzip("first", Array((lines[..<half].joined(separator: "\n") + "\n").utf8))
        let second = try scratch.gzip("second", Array(lines[half...].joined(separator: "\n").utf8))
        let twoMembers = scratch.write("two-members.zone.gz", Array(try Data(contentsOf: URL(fileURLWithPath: first)))
                                           + Array(try Data(contentsOf: URL(fileURLWithPath: second))))
        var outputs: [[UInt8]] = []
        for (index, input) in [zone.path, plain, twoMembers].enumerated() {
            let out = "\(scratch.path)/data\(index).cdb"
            let result = try runRootmirror(["compile", input, "-o", out])
            #expect(result.status == 0, "\(input): \(result.stderr)")
            #expect(result.output.contains("serial \(zone.serial), \(zone.tlds.count) TLDs, \(zone.kept.count) records kept"))
            outputs.append(Array(try Data(contentsOf: URL(fileURLWithPath: out))))
        }
        #expect(outputs[0].count > 100_000)
        #expect(outputs[1] == outputs[0], "plain text")
        #expect(outputs[2] == outputs[0], "two gzip members")
    }

    /// `PATH: serial S, T TLDs, K records kept, X DNSSEC records stripped, N ms`, one line.
    func expectSummary(_ stdout: String, output: String, serial: String, tlds: Int, kept: Int, stripped: Int,
                       sourceLocation: SourceLocation = #_sourceLocation) throws {
        let expected = "\(output): serial \(serial), \(tlds) TLDs, \(kept) records kept, \(stripped) DNSSEC records stripped, "
        #expect(stdout.hasPrefix(expected), "summary: \(stdout)", sourceLocation: sourceLocation)
        let rest = stdout.dropFirst(expected.count)
        #expect(rest.hasSuffix(" ms\n") && rest.dropLast(4).allSatisfy(\.isNumber) && rest.count > 4,
                "summary: \(stdout)", sourceLocation: sourceLocation)
    }
}
