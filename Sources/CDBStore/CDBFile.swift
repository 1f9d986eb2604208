import CCDB
import ZoneFile
#if canImport(Glibc)
import Glibc
#endif

/// The cdb file format (D. J. Bernstein's, as tinycdb and tinydns read it):
/// a 2048-byte header of 256 (position, slot count) pairs, one per hash
/// table; the records, each `klen vlen key value`; then the 256 tables, in
/// order, each slot a (hash, record position) pair, empty when the position
/// is 0. A key is found by hashing it, taking table `hash & 255`, and probing
/// from slot `(hash >> 8) % slots` until an empty slot. Numbers are 32-bit
/// little-endian.
enum CDBFile {
    static let headerSize = 2048
    static let tableCount = 256

    /// Writes a cdb to `fd` (open, empty, positioned at 0).
    ///
    /// tinycdb's `cdb_make_finish` places each record by linear probing
    /// from its start slot, so the records of one key, which all start at
    /// the same slot, cost time quadratic in their number (1M records at
    /// one owner took minutes). This writer places them in the same order
    /// into the same slots, so the file is byte for byte tinycdb's, but
    /// skips occupied runs through a next-free-slot forest: linear time.
    ///
    /// Bytes go through a raw buffer of its own, flushed at 64 KiB: appending
    /// to an Array, a uniqueness check and a growth check per call, was a
    /// tenth of a root zone's compile.
    final class Writer {
        private let fd: Int32
        private static let capacity = 1 << 16
        private let buffer = UnsafeMutableRawPointer.allocate(byteCount: Writer.capacity, alignment: 8)
        private var count = 0
        private var position = UInt64(CDBFile.headerSize)
        private var hashes: [UInt32] = []
        private var positions: [UInt32] = []

        init(fd: Int32) {
            self.fd = fd
            buffer.initializeMemory(as: UInt8.self, repeating: 0, count: CDBFile.headerSize)
            count = CDBFile.headerSize
        }

        deinit { buffer.deallocate() }

        func add(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) throws(CDBWriteError) {
            let size = 8 + UInt64(key.count) + UInt64(value.count)
            guard position + size <= UInt64(UInt32.max) else { throw CDBWriteError(message: "data.cdb would exceed 4 GiB") }
            hashes.append(cdb_hash(key.baseAddress, UInt32(key.count)))
            positions.append(UInt32(position))
            // A key is at most 255 bytes and a value 64 KiB and a little: a
            // record that does not fit after a flush is written around the buffer.
            if count + Int(size) > Self.capacity { try flush() }
            append(UInt32(key.count))
            append(UInt32(value.count))
            if count + key.count + value.count > Self.capacity {
                try flush()
                try write(key)
                try write(value)
            } else {
                if key.count > 0 { (buffer + count).copyMemory(from: key.baseAddress!, byteCount: key.count) }
                count += key.count
                if value.count > 0 { (buffer + count).copyMemory(from: value.baseAddress!, byteCount: value.count) }
                count += value.count
            }
            position += size
        }

        /// Writes the hash tables and then the header.
        func finish() throws(CDBWriteError) {
            var counts = [Int](repeating: 0, count: CDBFile.tableCount)
            for hash in hashes { counts[Int(hash & 255)] += 1 }
            // Records grouped by table, insertion order kept within each.
            var starts = [Int](repeating: 0, count: CDBFile.tableCount + 1)
            for i in 0..<CDBFile.tableCount { starts[i + 1] = starts[i] + counts[i] }
            var next = starts
            var byTable = [Int](repeating: 0, count: hashes.count)
            for (record, hash) in hashes.enumerated() {
                byTable[next[Int(hash & 255)]] = record
                next[Int(hash & 255)] += 1
            }
            var header = [UInt8]()
            header.reserveCapacity(CDBFile.headerSize)
            var freeFrom: [Int32] = []
            var slots: [(hash: UInt32, position: UInt32)] = []
            for table in 0..<CDBFile.tableCount {
                let length = counts[table] * 2
                guard position + UInt64(length) * 8 <= UInt64(UInt32.max) else {
                    throw CDBWriteError(message: "data.cdb would exceed 4 GiB")
                }
                appendLE(UInt32(position), to: &header)
                appendLE(UInt32(length), to: &header)
                guard length > 0 else { continue }
                slots = Array(repeating: (0, 0), count: length)
                // freeFrom[s] leads, through the chain, to the first free
                // slot at or after s (cyclically); a free slot is its own.
                freeFrom = (0..<Int32(length)).map { $0 }
                for record in byTable[starts[table]..<starts[table + 1]] {
                    let hash = hashes[record]
                    let slot = Self.firstFree(from: Int32(Int(hash >> 8) % length), in: &freeFrom)
                    slots[Int(slot)] = (hash, positions[record])
                    freeFrom[Int(slot)] = slot + 1 == Int32(length) ? 0 : slot + 1
                }
                for slot in slots {
                    if count + 8 > Self.capacity { try flush() }
                    append(slot.hash)
                    append(slot.position)
                }
                position += UInt64(length) * 8
            }
            try flush()
            let written = header.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
            guard written == CDBFile.headerSize else { throw CDBWriteError(message: "write failed: \(errnoText())") }
        }

        /// Follows the chain to a free slot, then points every slot passed
        /// straight at it (path compression).
        private static func firstFree(from start: Int32, in freeFrom: inout [Int32]) -> Int32 {
            var slot = start
            while freeFrom[Int(slot)] != slot { slot = freeFrom[Int(slot)] }
            var walk = start
            while walk != slot {
                let following = freeFrom[Int(walk)]
                freeFrom[Int(walk)] = slot
                walk = following
            }
            return slot
        }

        /// A number as cdb stores it; the caller has made room.
        private func append(_ number: UInt32) {
            (buffer + count).storeBytes(of: number.littleEndian, as: UInt32.self)
            count += 4
        }

        private func flush() throws(CDBWriteError) {
            try write(UnsafeRawBufferPointer(start: buffer, count: count))
            count = 0
        }

        private func write(_ bytes: UnsafeRawBufferPointer) throws(CDBWriteError) {
            var done = 0
            while done < bytes.count {
                let n = Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw CDBWriteError(message: "write failed: \(errnoText())") }
                done += n
            }
        }
    }

    /// A record's key and value, as byte ranges of the file.
    struct Entry {
        var position: Int
        var keyStart: Int
        var keyLength: Int
        var valueStart: Int { keyStart + keyLength }
        var valueLength: Int
    }

    /// Checks everything a cdb reader relies on, so that a file tinydns
    /// would serve wrongly (a cut in the hash tables hides keys from it
    /// while the records still read in order) is refused: the header's
    /// tables lie end to end after the records and end at the end of the
    /// file; the records end exactly where the tables begin; every slot
    /// names the start of a record whose key hashes to the slot's hash and
    /// table; every record has exactly one slot, and a lookup probing from
    /// its start slot reaches it before any empty slot. Returns the
    /// records in file order, or why the file is not a valid cdb.
    static func validatedEntries(_ file: UnsafeRawBufferPointer) -> Result<[Entry], CDBFormatError> {
        func fail(_ message: String) -> Result<[Entry], CDBFormatError> { .failure(CDBFormatError(message: message)) }
        guard file.count >= headerSize else { return fail("shorter than the \(headerSize)-byte header") }
        func number(_ at: Int) -> Int { Int(UInt32(littleEndian: file.loadUnaligned(fromByteOffset: at, as: UInt32.self))) }

        let dataEnd = number(0)
        var tableEnd = dataEnd
        for table in 0..<tableCount {
            let start = number(table * 8), slots = number(table * 8 + 4)
            guard start == tableEnd else {
                return fail("hash table \(table) starts at byte \(start), not at \(tableEnd) where the one before ends")
            }
            tableEnd += slots * 8
        }
        guard dataEnd >= headerSize, tableEnd == file.count else {
            return fail("the header's hash tables end at byte \(tableEnd), the file at \(file.count) (truncated or extended)")
        }

        var entries: [Entry] = []
        var at = headerSize
        while at < dataEnd {
            guard dataEnd - at >= 8 else { return fail("record at byte \(at) is cut off by the hash tables") }
            let keyLength = number(at), valueLength = number(at + 4)
            guard keyLength + valueLength <= dataEnd - at - 8 else {
                return fail("record at byte \(at) runs past the end of the data (byte \(dataEnd))")
            }
            entries.append(Entry(position: at, keyStart: at + 8, keyLength: keyLength, valueLength: valueLength))
            at += 8 + keyLength + valueLength
        }

        // Slots point at records by position: records are in file order,
        // so a binary search finds the index.
        func recordIndex(at position: Int) -> Int? {
            var low = 0, high = entries.count
            while low < high {
                let mid = (low + high) / 2
                if entries[mid].position < position { low = mid + 1 } else { high = mid }
            }
            return low < entries.count && entries[low].position == position ? low : nil
        }
        var slotted = [Bool](repeating: false, count: entries.count)
        for table in 0..<tableCount {
            let start = number(table * 8), slots = number(table * 8 + 4)
            guard slots > 0 else { continue }
            // A lookup stops at the first empty slot: walk the table from
            // one, so that each filled slot knows where its run began.
            let empty = (0..<slots).first { number(start + $0 * 8 + 4) == 0 }
            var runStart = empty.map { ($0 + 1) % slots } ?? 0
            for step in 0..<slots {
                let slot = ((empty ?? -1) + 1 + step) % slots
                let hash = number(start + slot * 8), position = number(start + slot * 8 + 4)
                if position == 0 {
                    runStart = (slot + 1) % slots
                    continue
                }
                guard let index = recordIndex(at: position) else {
                    return fail("hash table \(table) slot \(slot) points at byte \(position), which starts no record")
                }
                guard !slotted[index] else { return fail("record at byte \(position) has two hash-table slots") }
                slotted[index] = true
                let entry = entries[index]
                let keyHash = Int(cdb_hash(file.baseAddress! + entry.keyStart, UInt32(entry.keyLength)))
                guard keyHash == hash, keyHash & 255 == table else {
                    return fail("hash table \(table) slot \(slot) does not match the key of the record at byte \(position)")
                }
                // Reachable when its start slot lies in this run, at or
                // before the slot itself (cyclically).
                let home = (keyHash >> 8) % slots
                let reachable = empty == nil || (slot - runStart + slots) % slots >= (home - runStart + slots) % slots
                guard reachable else {
                    return fail("record at byte \(position) cannot be found: an empty slot lies between its start slot and its slot")
                }
            }
        }
        if let lost = slotted.firstIndex(of: false) {
            return fail("record at byte \(entries[lost].position) is in no hash table: a lookup cannot find it")
        }
        return .success(entries)
    }

    private static func appendLE(_ number: UInt32, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: number.littleEndian) { bytes.append(contentsOf: $0) }
    }
}

struct CDBWriteError: Error {
    var message: String
}

struct CDBFormatError: Error {
    var message: String
}
