#if canImport(Glibc)
import Glibc
#endif

/// Response rate limiting (RRL) for UDP, as NSD and Knot have it: a server
/// on a LAN address answers a forged source no faster than `rate` replies a
/// second per source prefix (/24 for IPv4, /56 for IPv6), so that it cannot
/// be made to flood a victim with replies larger than the queries. Past the
/// rate, every `slip`-th query gets a truncated reply (TC, the question and
/// nothing else: a real client asks again over TCP, which a forged source
/// cannot) and the others none.
///
/// One per UDP worker thread, owned by it: no lock, no atomic, no
/// allocation after start. A fixed table of buckets indexed by a hash of
/// the prefix; a prefix that lands on a bucket another one holds takes it
/// over, as NSD's does. A bucket counts the replies of one second. As with
/// NSD's server processes, the rate holds per worker: a source that
/// SO_REUSEPORT spreads over several (many ports) gets it once per worker.
final class RateLimiter {
    enum Verdict { case answer, slip, drop }

    /// 16 bytes: 16,384 of them are 256 KiB per worker, paged in as used.
    private struct Bucket {
        var prefix: UInt64
        var second: UInt32
        var replies: UInt32
    }

    static let bucketCount = 1 << 14
    private let rate: UInt32
    private let slip: UInt32
    private let buckets: UnsafeMutablePointer<Bucket>
    private var limited: UInt32 = 0

    init(rate: Int, slip: Int) {
        self.rate = UInt32(clamping: rate)
        self.slip = UInt32(clamping: max(0, slip))
        // calloc: zeroed pages the kernel maps only when touched; prefix 0 is no prefix.
        buckets = calloc(Self.bucketCount, MemoryLayout<Bucket>.stride)!.bindMemory(to: Bucket.self, capacity: Self.bucketCount)
    }

    deinit { free(buckets) }

    /// The second `admit` counts in: one clock read per batch of packets.
    static func currentSecond() -> UInt32 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt32(truncatingIfNeeded: now.tv_sec)
    }

    /// What to do with one query from `peer`, counted against its prefix.
    @inline(__always)
    func admit(_ peer: UnsafePointer<sockaddr_storage>, second: UInt32) -> Verdict {
        let prefix = Self.prefix(of: peer)
        let index = Int(truncatingIfNeeded: (prefix &* 0x9E37_79B9_7F4A_7C15) >> 50)
        let bucket = buckets + index
        if bucket.pointee.prefix != prefix || bucket.pointee.second != second {
            bucket.pointee = Bucket(prefix: prefix, second: second, replies: 0)
        }
        if bucket.pointee.replies < rate {
            bucket.pointee.replies &+= 1
            return .answer
        }
        limited &+= 1
        return slip != 0 && limited % slip == 0 ? .slip : .drop
    }

    /// The source's /24 or /56, tagged with its family; never 0.
    @inline(__always)
    private static func prefix(of peer: UnsafePointer<sockaddr_storage>) -> UInt64 {
        let raw = UnsafeRawPointer(peer)
        if peer.pointee.ss_family == sa_family_t(AF_INET6) {
            // sin6_addr at offset 8: its first 7 bytes.
            var high: UInt64 = 0
            for i in 0..<7 { high = high << 8 | UInt64(raw.load(fromByteOffset: 8 + i, as: UInt8.self)) }
            return high << 8 | 6
        }
        // sin_addr at offset 4, in network order: its first 3 bytes.
        let address = UInt32(bigEndian: raw.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
        return UInt64(address >> 8) << 8 | 4
    }
}
