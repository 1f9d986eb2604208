import CCDB
import DNSWire
import ZoneFile
#if canImport(Glibc)
import Glibc
#endif

/// A cdb file mapped read-only by tinycdb, for every reader of data.cdb
/// here: the whole load, the hashed lookups at the apex, the comparison
/// with a staged file and the journal's entry-by-entry difference.
final class MappedCDB {
    let path: String
    private var db = cdb()
    private let fd: Int32

    init(path: String) throws(StoreError) {
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw StoreError(path: path, message: "cannot open: \(errnoText())") }
        guard cdb_init(&db, fd) == 0 else {
            close(fd)
            throw StoreError(path: path, message: "not a cdb file")
        }
        self.path = path
    }

    deinit {
        cdb_free(&db)
        close(fd)
    }

    /// The whole file.
    var file: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: db.cdb_mem, count: Int(db.cdb_fsize)) }

    /// The records in file order, once the structure is checked (what a
    /// lookup by tinydns relies on, not only what reading in order does).
    func entries() throws(StoreError) -> [CDBFile.Entry] {
        switch CDBFile.validatedEntries(file) {
        case .success(let valid): return valid
        case .failure(let error): throw StoreError(path: path, message: "corrupt cdb file: \(error.message)")
        }
    }

    /// The first value stored under `key` that `accept` takes, by one hashed lookup.
    func firstValue(key: [UInt8], where accept: (UnsafeRawBufferPointer) -> Bool) -> UnsafeRawBufferPointer? {
        var finder = cdb_find()
        guard key.withUnsafeBytes({ cdb_findinit(&finder, &db, $0.baseAddress, UInt32($0.count)) }) >= 0 else { return nil }
        while cdb_findnext(&finder) > 0 {
            let value = UnsafeRawBufferPointer(rebasing: file[Int(db.cdb_vpos)..<Int(db.cdb_vpos + db.cdb_vlen)])
            if accept(value) { return value }
        }
        return nil
    }

    /// Entry `entry`'s key and value, in place.
    func key(of entry: CDBFile.Entry) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: file[entry.keyStart..<entry.valueStart])
    }

    func value(of entry: CDBFile.Entry) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: file[entry.valueStart..<(entry.valueStart + entry.valueLength)])
    }
}
