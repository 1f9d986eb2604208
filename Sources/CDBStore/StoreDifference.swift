import DNSWire
#if canImport(Glibc)
import Glibc
#endif

extension DataStore {
    /// What changed from the data.cdb at `installed` to the one staged at
    /// `staged`, read entry by entry from the two files: only the records
    /// that changed are decoded. The same difference `ZoneDifference(old:new:)`
    /// works out from whole record lists (owners in lower case, as data.cdb
    /// keys are; deleted and added in file order), without building and
    /// hashing every record of both versions, which cost more than the
    /// compile itself. With the staged zone's wire size, which bounds the
    /// journal. Nil when either file is not a readable cdb with one SOA.
    package static func difference(installed: String, staged: String) -> (difference: ZoneDifference, zoneSize: Int)? {
        guard let old = StoreEntries(path: installed), let new = StoreEntries(path: staged),
              let oldSOA = old.soa, let newSOA = new.soa else { return nil }
        let oldEntries = Set(old.entries.indices.map { old.bytes(of: $0) })
        let newEntries = Set(new.entries.indices.map { new.bytes(of: $0) })
        guard let from = old.record(oldSOA), let to = new.record(newSOA),
              let deleted = old.records(where: { $0 != oldSOA && !newEntries.contains(old.bytes(of: $0)) }),
              let added = new.records(where: { $0 != newSOA && !oldEntries.contains(new.bytes(of: $0)) }) else { return nil }
        let zoneSize = new.entries.reduce(0) { $0 + $1.keyLength + 10 + $1.valueLength - valueHeaderSize }
        return (ZoneDifference(from: from, to: to, deleted: deleted, added: added), zoneSize)
    }
}

/// A data.cdb's entries, its structure checked, read in place.
private struct StoreEntries {
    let store: MappedCDB
    let entries: [CDBFile.Entry]
    /// The index of the one SOA entry; nil when there is none or more than one.
    let soa: Int?

    init?(path: String) {
        guard let store = try? MappedCDB(path: path), let entries = try? store.entries() else { return nil }
        self.store = store
        self.entries = entries
        let soas = entries.indices.filter {
            let value = store.value(of: entries[$0])
            return value.count >= 2 && value.bigEndianUInt16(at: 0) == RRType.soa.rawValue
        }
        soa = soas.count == 1 ? soas[0] : nil
    }

    /// Entry `index`'s key and value, compared and hashed by their bytes.
    func bytes(of index: Int) -> EntryBytes {
        EntryBytes(key: store.key(of: entries[index]), value: store.value(of: entries[index]))
    }

    /// Entry `index` decoded; nil when it does not decode.
    func record(_ index: Int) -> ResourceRecord? {
        guard let owner = try? DNSName(validatingWire: Array(store.key(of: entries[index]))) else { return nil }
        return try? DataStore.record(owner: owner, value: Array(store.value(of: entries[index])), path: store.path,
                                     at: UInt32(entries[index].valueStart))
    }

    /// The entries `include` picks, decoded in file order; nil when one does not decode.
    func records(where include: (Int) -> Bool) -> [ResourceRecord]? {
        var records: [ResourceRecord] = []
        for index in entries.indices where include(index) {
            guard let record = record(index) else { return nil }
            records.append(record)
        }
        return records
    }
}

/// A cdb entry's bytes, in a mapped file that outlives the value.
private struct EntryBytes: Hashable {
    let key: UnsafeRawBufferPointer
    let value: UnsafeRawBufferPointer

    static func == (a: Self, b: Self) -> Bool {
        // Never empty: a key is a name (the root's is one byte), a value holds its header.
        a.key.count == b.key.count && a.value.count == b.value.count
            && memcmp(a.key.baseAddress!, b.key.baseAddress!, a.key.count) == 0
            && memcmp(a.value.baseAddress!, b.value.baseAddress!, a.value.count) == 0
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(bytes: key)
        hasher.combine(bytes: value)
    }
}
