import CDBStore
import DNSWire
import Foundation
import Testing
import TestSupport
import ZoneFile

/// `records` written to `path` as an install does: staged beside it
/// (temporary file, fsync, mode 0644), then renamed into place.
func installRecords(_ records: [ResourceRecord], to path: String) throws(StoreError) {
    try DataStore.stage(PackedRecords(records), for: path).install()
}

/// `cdb -d` from Debian's tinycdb, the reference reader of the format.
func cdbDump(_ path: String) throws -> [UInt8] {
    try run("/usr/bin/cdb", ["-d", path]).stdout
}

@Suite struct DataStoreTests {
    let records: [ResourceRecord] = {
        let zone = """
            . 86400 IN SOA a.root-servers.net. nstld.verisign-grs.com. 2023051100 1800 900 604800 86400
            . 518400 IN NS a.root-servers.net.
            COM. 172800 IN NS a.gtld-servers.net.
            a.gtld-servers.net. 172800 IN A 192.5.6.30
            a.gtld-servers.net. 172800 IN AAAA 2001:503:a83e::2:30
            """ + "\n"
        return try! Array(ZoneParser.parse(Array(zone.utf8), file: "t").records)
    }()

    @Test func roundTripsAndLowercasesKeys() throws {
        let scratch = try Scratch()
        let path = "\(scratch.path)/data.cdb"
        try installRecords(records, to: path)
        let loaded = try DataStore.load(path: path)
        #expect(loaded.count == records.count)
        #expect(Set(loaded.map(\.type)) == Set(records.map(\.type)))
        #expect(loaded.contains { $0.owner.description == "com." && $0.type == .ns })
        #expect(scratch.files == ["data.cdb"])
        var st = stat()
        stat(path, &st)
        #expect(st.st_mode & 0o777 == 0o644)
    }

    @Test func encodingIsTinydnsData() throws {
        // `cdb -d` prints +klen,dlen:key->data; check one record byte by byte:
        // key \003com\000, value type 2, '=', TTL 172800, 8 zero TTD bytes, rdata.
        let scratch = try Scratch()
        let path = "\(scratch.path)/data.cdb"
        try installRecords(Array(records[2...2]), to: path)
        let rdata = Array("\u{1}a\u{C}gtld-servers\u{3}net\u{0}".utf8)
        let expectedValue = [0, 2, UInt8(ascii: "="), 0, 2, 0xA3, 0] + [UInt8](repeating: 0, count: 8) + rdata
        let dump = try cdbDump(path)
        let key: [UInt8] = [3] + Array("com".utf8) + [0]
        let header = Array("+\(key.count),\(expectedValue.count):".utf8)
        #expect(dump == header + key + Array("->".utf8) + expectedValue + [10, 10])
    }

    @Test func failedWriteLeavesTheOldFileAndNoTemporary() throws {
        let scratch = try Scratch()
        #expect(throws: StoreError.self) { try installRecords(records, to: "\(scratch.path)/missing/data.cdb") }
        let asDirectory = "\(scratch.path)/data.cdb"
        try FileManager.default.createDirectory(atPath: asDirectory + "/x", withIntermediateDirectories: true)
        // Renaming a file over a non-empty directory fails: the install step.
        #expect { try installRecords(records, to: asDirectory) } throws: { "\($0)".contains("cannot install") }
        #expect(scratch.files == ["data.cdb"])
    }

    @Test func refusesForeignAndCorruptFiles() throws {
        let scratch = try Scratch()
        let garbage = "\(scratch.path)/garbage.cdb"
        try #require(FileManager.default.createFile(atPath: garbage, contents: Data("not a cdb".utf8)))
        #expect { try DataStore.load(path: garbage) } throws: { "\($0)".hasPrefix(garbage) }
        #expect { try DataStore.load(path: "\(scratch.path)/none.cdb") } throws: { "\($0)".contains("cannot open") }

        // A cdb made by Debian's cdb tool whose key is not a domain name.
        let foreign = "\(scratch.path)/foreign.cdb"
        try run("/usr/bin/cdb", ["-c", foreign], input: Array("+3,2:abc->xy\n\n".utf8))
        #expect { try DataStore.load(path: foreign) } throws: { "\($0)".contains("not a domain name") }
    }
}
