import Crypto
import DNSWire

/// RFC 8976 §3.3, scheme SIMPLE: one hash over every RR of the zone in
/// canonical form and order, duplicates once, out-of-zone data left out and
/// occluded data in, without the apex ZONEMD RRset and the RRSIGs over it.
enum ZonemdDigest {
    /// Digests by ZONEMD hash algorithm: 1 SHA-384, 2 SHA-512.
    static func compute(_ zone: CanonicalZone, apex: Int32, algorithms: Set<UInt8>) -> [UInt8: [UInt8]] {
        var sha384 = algorithms.contains(1) ? SHA384() : nil
        var sha512 = algorithms.contains(2) ? SHA512() : nil
        var buffer: [UInt8] = []
        buffer.reserveCapacity(1 << 16)
        func flush() {
            buffer.withUnsafeBytes { bytes in
                sha384?.update(bufferPointer: bytes)
                sha512?.update(bufferPointer: bytes)
            }
            buffer.removeAll(keepingCapacity: true)
        }
        for set in zone.rrsets {
            if zone.names[Int(set.name)].standing == .outOfZone { continue }
            if set.name == apex && set.type == .zonemd { continue }
            let owner = zone.nameWire(set.name)
            for member in zone.entries(of: set) {
                let e = zone.records.entries[Int(member)]
                let rdata = zone.rdata(e)
                if set.name == apex && set.type == .rrsig && rdata.count >= 2
                    && rdata.bigEndianUInt16(at: rdata.startIndex) == RRType.zonemd.rawValue {
                    continue
                }
                buffer.append(contentsOf: owner)
                buffer.append(UInt8(e.type.rawValue >> 8)); buffer.append(UInt8(e.type.rawValue & 0xFF))
                buffer.append(UInt8(e.rclass.rawValue >> 8)); buffer.append(UInt8(e.rclass.rawValue & 0xFF))
                buffer.append(UInt8(e.ttl >> 24)); buffer.append(UInt8(e.ttl >> 16 & 0xFF))
                buffer.append(UInt8(e.ttl >> 8 & 0xFF)); buffer.append(UInt8(e.ttl & 0xFF))
                buffer.append(UInt8(e.rdataLength >> 8)); buffer.append(UInt8(e.rdataLength & 0xFF))
                buffer.append(contentsOf: rdata)
            }
            if buffer.count > 60_000 { flush() }
        }
        flush()
        var digests: [UInt8: [UInt8]] = [:]
        if let sha384 { digests[1] = Array(sha384.finalize()) }
        if let sha512 { digests[2] = Array(sha512.finalize()) }
        return digests
    }
}
