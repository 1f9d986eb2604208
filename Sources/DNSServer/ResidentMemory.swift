import CNetShim
#if canImport(Glibc)
import Glibc
#endif

/// Keeps `serve`'s resident size to what answering uses.
///
/// Start-up and loading touch code spread over the whole binary (argument
/// parsing, the cdb reader, the index builder, Foundation's initialisers),
/// and the kernel maps 64 KiB around every page touched: about 9 MB of the
/// binary stays resident although answering runs a few hundred KiB of it.
/// After a load those clean file pages are handed back with MADV_PAGEOUT;
/// the few that answering needs fault back in on the first queries. Freed
/// heap goes back with malloc_trim. Measured on the root zone: 12.4 MB
/// resident before, 6.5 MB after a few hundred UDP and TCP queries.
///
/// The same 64 KiB rounding inflates every burst of rarer work (a few TCP
/// clients run SwiftNIO's channel code, a scrape its HTTP code): 4 to 5 MB
/// of code that then stays mapped for good. So once a minute the code
/// mappings are dropped from the page tables (MADV_DONTNEED; the pages stay
/// in the page cache, so what is still in use maps back with a minor fault,
/// a few hundred per minute, no disk read) and resident size follows the
/// code the last minute ran, as it follows the data served.
struct ResidentMemory {
    /// The process's file mappings (the executable, libc), read from
    /// /proc/self/maps at start, before any chroot hides /proc.
    private let ranges: [(start: UInt, length: Int)]
    /// Those of them that are code: never written, so dropping their page
    /// table entries loses nothing (writable ones would lose their writes).
    private let codeRanges: [(start: UInt, length: Int)]

    /// How often `shedCode` is worth its minor faults.
    static let codeInterval = Duration.seconds(60)

    init() {
        var ranges: [(UInt, Int)] = []
        var codeRanges: [(UInt, Int)] = []
        var buffer = [CChar](repeating: 0, count: 4096)
        if let maps = fopen("/proc/self/maps", "r") {
            defer { fclose(maps) }
            while fgets(&buffer, Int32(buffer.count), maps) != nil {
                let line = String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
                let fields = line.split(whereSeparator: { $0 == " " || $0 == "\n" })
                // The executable and the shared libraries (pages other
                // processes map too are left alone by the kernel).
                guard fields.count >= 6, fields[5].hasPrefix("/"),
                      let dash = fields[0].firstIndex(of: "-"),
                      let start = UInt(fields[0][..<dash], radix: 16),
                      let end = UInt(fields[0][fields[0].index(after: dash)...], radix: 16) else { continue }
                ranges.append((start, Int(end - start)))
                if fields[1].contains("x") { codeRanges.append((start, Int(end - start))) }
            }
        }
        self.ranges = ranges
        self.codeRanges = codeRanges
    }

    /// Returns freed heap and the executable's untouched-since pages.
    func shed() {
        _ = cnet_malloc_trim(0)
        for range in ranges {
            // 21 is MADV_PAGEOUT (Linux 5.4); older kernels answer EINVAL, harmlessly.
            _ = madvise(UnsafeMutableRawPointer(bitPattern: range.start), range.length, 21)
        }
    }

    /// Unmaps the code pages and returns freed heap; see the type's comment.
    func shedCode() {
        _ = cnet_malloc_trim(0)
        for range in codeRanges {
            _ = madvise(UnsafeMutableRawPointer(bitPattern: range.start), range.length, MADV_DONTNEED)
        }
    }
}
