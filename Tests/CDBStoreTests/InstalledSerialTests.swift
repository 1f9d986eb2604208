import CDBStore
import DNSWire
import Pipeline
import Testing
import TestSupport
import ZoneFile

/// `DataStore.serial`, the one lookup `refresh` makes in the installed file
/// before deciding whether a download is newer.
@Suite struct InstalledSerialTests {
    @Test func readsTheApexSOASerial() throws {
        let scratch = try Scratch()
        let path = "\(scratch.path)/data.cdb"
        let summary = try ZoneCompiler.compile(zoneText: ZoneText(path: "\(sharedZones)/root-2023051100.zone.gz"),
                                               options: ZoneParser.Options(), output: path)
        #expect(summary.serial == 2023051100)
        #expect(DataStore.soa(path: path)?.serial == 2023051100)
    }

    @Test func nilWithoutAFileOrAnSOA() throws {
        let scratch = try Scratch()
        #expect(DataStore.soa(path: "\(scratch.path)/missing.cdb") == nil)
        #expect(DataStore.soa(path: scratch.write("junk.cdb", Array("not a cdb".utf8))) == nil)
        let zone = ". 518400 IN NS a.root.\na.root. 518400 IN A 192.0.2.1\n"
        let records = try Array(ZoneParser.parse(Array(zone.utf8), file: "t").records)
        try installRecords(records, to: "\(scratch.path)/nosoa.cdb")
        #expect(DataStore.soa(path: "\(scratch.path)/nosoa.cdb") == nil)
    }

    /// What `refresh` judges before it may install: the zone is staged
    /// beside data.cdb, never written over it, and a refused one leaves nothing.
    @Test func stagingLeavesTheOutputAloneUntilInstalled() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let output = scratch.file("data.cdb")
        let prepared = try ZoneCompiler.prepareAndStage(
            zoneText: ZoneText(path: "\(sharedZones)/root-2026082201-nosig.zone.gz"), options: ZoneParser.Options(), output: output)
        #expect(prepared.zone.soa.serial == 2026082201 && prepared.zone.delegationCount == 1438)
        let file = try prepared.staged.get()
        // data.cdb and its journal, each under its temporary name.
        #expect(scratch.files.count == 2 && !scratch.files.contains("data.cdb") && !scratch.files.contains("data.cdb.journal"),
                "\(scratch.files)")
        file.discard()
        #expect(scratch.files.isEmpty, "\(scratch.files)")
        let kept = try ZoneCompiler.prepareAndStage(
            zoneText: ZoneText(path: "\(sharedZones)/root-2026082201-nosig.zone.gz"), options: ZoneParser.Options(), output: output)
        try kept.staged.get().install()
        #expect(scratch.files == ["data.cdb", "data.cdb.journal"] && DataStore.soa(path: output)?.serial == 2026082201)
    }
}
