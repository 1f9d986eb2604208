import CDBStore
import DNSWire
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
        try DataStore.write(records, to: "\(scratch.path)/nosoa.cdb")
        #expect(DataStore.soa(path: "\(scratch.path)/nosoa.cdb") == nil)
    }

    @Test func prepareWritesNothing() throws {
        let scratch = try Scratch()
        let zone = try ZoneCompiler.prepare(zoneText: ZoneText(path: "\(sharedZones)/root-2026082201-nosig.zone.gz"),
                                            options: ZoneParser.Options())
        #expect(zone.soa.serial == 2026082201 && zone.delegationCount == 1438)
        #expect(scratch.files.isEmpty)
    }
}
