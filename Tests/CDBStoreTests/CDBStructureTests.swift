import CDBStore
import DNSWire
import Foundation
import Pipeline
import Testing
import TestSupport
import ZoneFile

/// data.cdb is read in order at load, but tinydns (and `cdb -q`) find
/// records through the hash tables: a file whose tables are damaged must be
/// refused at load, not served while tinydns would serve it differently.
@Suite struct CDBStructureTests {
    /// The compiled 2026082200 root (DNSSEC stripped), as `compile` writes it.
    static func compiledRoot(in scratch: Scratch) throws -> (bytes: [UInt8], records: Int) {
        let path = scratch.file("root.cdb")
        let summary = try ZoneCompiler.compile(
            zoneText: ZoneText(path: sharedZones + "/root-2026082200-nosig.zone.gz"),
            options: ZoneParser.Options(), output: path)
        return (Array(try Data(contentsOf: URL(fileURLWithPath: path))), summary.kept)
    }

    static func number(_ bytes: [UInt8], _ at: Int) -> Int {
        (0..<4).reduce(0) { $0 | Int(bytes[at + $1]) << (8 * $1) }
    }

    static func put(_ value: Int, into bytes: inout [UInt8], at: Int) {
        for i in 0..<4 { bytes[at + i] = UInt8(value >> (8 * i) & 0xFF) }
    }

    func expectRefused(_ bytes: [UInt8], _ scratch: Scratch, _ why: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let path = scratch.write("bad.cdb", bytes)
        #expect(sourceLocation: sourceLocation) { try DataStore.load(path: path) } throws: { error in
            "\(error)".hasPrefix("\(path): corrupt cdb file: ") && "\(error)".contains(why)
        }
    }

    /// The hostile probe's case: `head -c` that cuts into the hash tables
    /// (records intact, so a read in order sees every one), and cuts at the
    /// end of the records and in the last record.
    @Test func truncatedFilesAreRefused() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let (good, count) = try Self.compiledRoot(in: scratch)
        #expect(try DataStore.load(path: scratch.file("root.cdb")).count == count)
        let dataEnd = Self.number(good, 0)
        expectRefused(Array(good.prefix(good.count - 87)), scratch, "truncated or extended")
        expectRefused(Array(good.prefix(dataEnd + 4)), scratch, "truncated or extended")
        expectRefused(Array(good.prefix(dataEnd)), scratch, "truncated or extended")
        expectRefused(Array(good.prefix(dataEnd - 3)), scratch, "truncated or extended")
        expectRefused(good + [0, 0, 0, 0, 0, 0, 0, 0], scratch, "truncated or extended")
    }

    @Test func damagedHeaderTablesAndSlotsAreRefused() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let good = try Self.compiledRoot(in: scratch).bytes
        // Table 7 and its slots (the root zone fills every table).
        let start = Self.number(good, 7 * 8), slots = Self.number(good, 7 * 8 + 4)
        #expect(slots > 4)
        let filled = (0..<slots).filter { Self.number(good, start + $0 * 8 + 4) != 0 }
        let slot = { (index: Int) in start + filled[index] * 8 }

        var moved = good
        Self.put(Self.number(good, 7 * 8) + 8, into: &moved, at: 7 * 8)
        expectRefused(moved, scratch, "hash table 7 starts at byte")

        var pointsNowhere = good
        Self.put(Self.number(good, slot(0) + 4) + 1, into: &pointsNowhere, at: slot(0) + 4)
        expectRefused(pointsNowhere, scratch, "which starts no record")

        var wrongHash = good
        Self.put(Self.number(good, slot(0)) ^ 0x100, into: &wrongHash, at: slot(0))
        expectRefused(wrongHash, scratch, "does not match the key")

        // Two adjacent filled slots: the second made a copy of the first.
        let pair = try #require(filled.indices.dropLast().first { filled[$0 + 1] == filled[$0] + 1 })
        var twice = good
        for field in [0, 4] { Self.put(Self.number(good, slot(pair) + field), into: &twice, at: slot(pair + 1) + field) }
        expectRefused(twice, scratch, "has two hash-table slots")

        // A slot emptied: its record is in no table, and any record that
        // probed past it can no longer be reached.
        var emptied = good
        for field in [0, 4] { Self.put(0, into: &emptied, at: slot(0) + field) }
        #expect { try DataStore.load(path: scratch.write("e.cdb", emptied)) } throws: {
            "\($0)".contains("is in no hash table") || "\($0)".contains("cannot be found")
        }

        // A record moved to a slot after an empty one, away from its start.
        let empty = try #require((0..<slots).first { Self.number(good, start + $0 * 8 + 4) == 0 })
        let beyond = try #require((1..<slots).map { (empty + $0) % slots }.first { Self.number(good, start + $0 * 8 + 4) == 0 && $0 != empty })
        let victim = try #require(filled.first { index in
            let home = (Self.number(good, start + index * 8) >> 8) % slots
            return home != beyond && (beyond - home + slots) % slots > (empty - home + slots) % slots
        })
        var unreachable = good
        for field in [0, 4] {
            Self.put(Self.number(good, start + victim * 8 + field), into: &unreachable, at: start + beyond * 8 + field)
            Self.put(0, into: &unreachable, at: start + victim * 8 + field)
        }
        expectRefused(unreachable, scratch, "cannot be found")
    }

    /// rootmirror writes the cdb itself (tinycdb's writer is quadratic in
    /// the records of one key): the file must be byte for byte what
    /// tinycdb's `cdb -c` makes of the same records, many at one key
    /// included, so that lookups return the records in the same order.
    @Test func writerMatchesTinycdbByteForByte() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        var text = ". 86400 IN SOA a.root. nstld. 1 1800 900 604800 86400\n. 518400 IN NS a.root.\na.root. 1 IN A 192.0.2.1\n"
        for i in 0..<3_000 { text += ". 60 IN TYPE65280 \\# 2 \(String(format: "%04x", i))\n" }
        for i in 0..<500 { text += "n\(i). 60 IN TXT \"\(i)\"\nn\(i). 60 IN A 192.0.2.\(i % 250)\n" }
        let records = try Array(ZoneParser.parse(Array(text.utf8), file: "t").records)
        let ours = scratch.file("ours.cdb")
        try installRecords(records, to: ours)
        let entries = try DataStore.load(path: ours)
        #expect(entries.count == records.count)
        // The same entries through `cdb -c`, in the order of `cdb -d`.
        let dump = try run("/usr/bin/cdb", ["-d", ours]).stdout
        let theirs = scratch.file("theirs.cdb")
        let made = try run("/usr/bin/cdb", ["-c", theirs], input: dump)
        try #require(made.status == 0, "\(made.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: ours)) == Data(contentsOf: URL(fileURLWithPath: theirs)))
    }
}
