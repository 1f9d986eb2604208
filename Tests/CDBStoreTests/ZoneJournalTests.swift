import CDBStore
import DNSWire
import Foundation
import Pipeline
import Testing
import TestSupport
import ZoneFile

/// The journal of differences beside data.cdb (IXFR's source): what a
/// difference holds, how the chain grows and is bounded, what is written
/// by an install, and that damage is caught, not served.
@Suite struct ZoneJournalTests {
    static func zone(serial: UInt32, extra: String = "", comTTL: Int = 172800) -> [ResourceRecord] {
        let text = """
            . 86400 IN SOA a.root-servers.net. nstld.verisign-grs.com. \(serial) 1800 900 604800 86400
            . 518400 IN NS a.root-servers.net.
            a.root-servers.net. 518400 IN A 198.41.0.4
            COM. \(comTTL) IN NS a.gtld-servers.net.
            a.gtld-servers.net. 172800 IN A 192.5.6.30
            """ + "\n" + extra
            // Room for a few differences: a journal is never larger than its zone.
            + (0..<30).map { "tld\($0). 172800 IN NS a.gtld-servers.net.\n" }.joined()
        return try! Array(ZoneParser.parse(Array(text.utf8), file: "t").records)
    }

    static func difference(_ from: UInt32, _ to: UInt32, extra: String = "") -> ZoneDifference {
        ZoneDifference(old: zone(serial: from), new: zone(serial: to, extra: extra))!
    }

    @Test func aDifferenceHoldsWhatChangedAndNothingElse() throws {
        let old = Self.zone(serial: 1)
        let new = Self.zone(serial: 2, extra: "net. 172800 IN NS a.gtld-servers.net.\n", comTTL: 86400)
        let difference = try #require(ZoneDifference(old: old, new: new))
        #expect(difference.fromSerial == 1 && difference.toSerial == 2)
        // The TTL change is a deletion and an addition; owners compared in lower case.
        #expect(difference.deleted.map { "\($0.owner) \($0.ttl)" } == ["com. 172800"])
        #expect(difference.added.map { "\($0.owner) \($0.ttl)" }.sorted() == ["com. 86400", "net. 172800"])
        #expect(ZoneDifference(old: old.filter { $0.type != .soa }, new: new) == nil)
    }

    @Test func theChainGrowsBreaksAndIsBounded() {
        let big = 1 << 20
        var journal = ZoneJournal().appending(Self.difference(1, 2), zoneSize: big).appending(Self.difference(2, 3), zoneSize: big)
        #expect(journal.differences.map(\.toSerial) == [2, 3])
        #expect(journal.differences(from: 1)?.map(\.toSerial) == [2, 3])
        #expect(journal.differences(from: 2)?.map(\.toSerial) == [3])
        #expect(journal.differences(from: 7) == nil)
        // A version that does not continue the chain starts a new one.
        #expect(journal.appending(Self.difference(5, 6), zoneSize: big).differences.map(\.toSerial) == [6])
        // The same serial with other content: no secondary can tell which it holds.
        #expect(journal.appending(Self.difference(3, 3, extra: "net. 1 IN NS a.\n"), zoneSize: big).differences.isEmpty)
        #expect(journal.appending(Self.difference(3, 3), zoneSize: big) == journal)
        for serial in UInt32(3)..<100 { journal = journal.appending(Self.difference(serial, serial + 1), zoneSize: big) }
        #expect(journal.differences.count == ZoneJournal.maximumVersions)
        #expect(journal.lastSerial == 100)
        // No larger than the zone: past that, the whole zone is cheaper.
        let one = Self.difference(100, 101).wireSize
        #expect(journal.appending(Self.difference(100, 101), zoneSize: 3 * one).differences.count == 3)
    }

    @Test func roundTripsAndCatchesDamage() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let data = scratch.file("data.cdb")
        #expect(try ZoneJournal.read(forData: data) == ZoneJournal())
        let journal = ZoneJournal().appending(Self.difference(1, 2), zoneSize: 1 << 20)
            .appending(Self.difference(2, 3, extra: "net. 172800 IN NS a.gtld-servers.net.\n"), zoneSize: 1 << 20)
        try journal.stage(forData: data).commit()
        #expect(try ZoneJournal.read(forData: data) == journal)

        let bytes = journal.encoded()
        var flipped = bytes
        flipped[bytes.count / 2] ^= 0x20
        for (damaged, why) in [(flipped, "checksum mismatch (damaged or cut short)"), (Array(bytes.dropLast(5)), "checksum mismatch (damaged or cut short)"),
                               (Array("garbage".utf8), "no journal header")] {
            let path = scratch.write("data.cdb.journal", damaged)
            #expect(throws: StoreError.self) { try ZoneJournal.read(forData: data) }
            do {
                _ = try ZoneJournal.read(forData: data)
            } catch {
                #expect(error.description == "\(path): not a usable journal: \(why)", "\(error)")
            }
        }
    }

    /// compile records each version's difference beside data.cdb, and a
    /// reinstall of the same zone adds nothing.
    @Test func anInstallRecordsTheDifference() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let data = scratch.file("data.cdb")
        func install(_ serial: UInt32, extra: String = "") throws -> String? {
            let text = Self.zone(serial: serial, extra: extra).map { TransferReader.line(for: $0) }.joined()
            return try ZoneCompiler.compile(zoneText: ZoneText(bytes: Array(text)), options: ZoneParser.Options(origin: .root),
                                            output: data).journalNote
        }
        #expect(try install(1) == nil)
        #expect(try ZoneJournal.read(forData: data).differences.isEmpty)
        #expect(try install(2, extra: "net. 172800 IN NS a.gtld-servers.net.\n") == nil)
        #expect(try ZoneJournal.read(forData: data).differences.map(\.toSerial) == [2])
        // The same zone again: data.cdb is byte for byte the installed one,
        // so no difference is worked out and the journal file is left as it is.
        func inode(_ path: String) -> ino_t {
            var st = stat()
            return stat(path, &st) == 0 ? st.st_ino : 0
        }
        let journalBefore = inode(data + ".journal")
        #expect(try install(2, extra: "net. 172800 IN NS a.gtld-servers.net.\n") == nil)
        #expect(journalBefore != 0 && inode(data + ".journal") == journalBefore)
        #expect(try install(3) == nil)
        let journal = try ZoneJournal.read(forData: data)
        #expect(journal.differences.map(\.toSerial) == [2, 3])
        #expect(journal.differences[1].deleted.map(\.owner.description) == ["net."])

        // A damaged journal is replaced by a new chain, and the install says so.
        _ = scratch.write("data.cdb.journal", Array("damaged".utf8))
        let note = try install(4)
        #expect(note?.contains("not a usable journal") == true, "\(note ?? "nil")")
        #expect(try ZoneJournal.read(forData: data).differences.map(\.toSerial) == [4])
        #expect(scratch.files == ["data.cdb", "data.cdb.journal"])
    }

    /// The install reads the difference from the two data.cdb files entry by
    /// entry; on two consecutive real roots (signed records kept) it is the
    /// one `ZoneDifference` works out from the whole record lists.
    @Test func theInstalledDifferenceIsTheRecordListsDifference() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let data = scratch.file("data.cdb"), older = scratch.file("older.cdb")
        func install(_ file: String) throws {
            _ = try ZoneCompiler.compile(zoneText: ZoneText(path: "\(sharedZones)/\(file)"),
                                         options: ZoneParser.Options(keepDNSSEC: true), output: data)
        }
        try install("root-2026082200-nosig.zone.gz")
        try FileManager.default.copyItem(atPath: data, toPath: older)
        try install("root-2026082201-nosig.zone.gz")
        let expected = try #require(ZoneDifference(old: DataStore.load(path: older), new: DataStore.load(path: data)))
        let journal = try ZoneJournal.read(forData: data)
        #expect(journal.differences == [expected])
        #expect(expected.fromSerial == 2026082200 && expected.toSerial == 2026082201 && !expected.added.isEmpty)
    }
}
