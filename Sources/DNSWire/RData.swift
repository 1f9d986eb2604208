/// Where the domain names sit inside an rdata, for the types whose names may
/// be compressed (RFC 3597 §4: only the RFC 1035 types). Compression when
/// writing and decompression when reading both need exactly this knowledge,
/// so it lives here once.
public enum RDataNames {
    /// The kinds of fields that can precede or follow a name in these types.
    enum Field { case name, u16, fixed(Int) }

    static func layout(of type: RRType) -> [Field]? {
        switch type {
        case .ns, .cname, .ptr: return [.name]
        case .mx: return [.u16, .name]
        case .soa: return [.name, .name, .fixed(20)]
        default: return nil
        }
    }

    /// Offsets of the compressible names inside an uncompressed `rdata`.
    /// Empty for types whose rdata must be copied verbatim.
    public static func compressibleNameOffsets(type: RRType, rdata: [UInt8]) -> [Int] {
        guard let layout = layout(of: type) else { return [] }
        var offsets: [Int] = []
        var i = 0
        for field in layout {
            switch field {
            case .name:
                offsets.append(i)
                while i < rdata.count && rdata[i] != 0 { i += Int(rdata[i]) + 1 }
                i += 1
            case .u16: i += 2
            case .fixed(let n): i += n
            }
        }
        return offsets
    }

    /// Validates an uncompressed rdata against its type's fixed layout, so
    /// that data read from a file can be trusted by the encoder.
    public static func isWellFormed(type: RRType, rdata: [UInt8]) -> Bool {
        switch type {
        case .a: return rdata.count == 4
        case .aaaa: return rdata.count == 16
        default: break
        }
        guard let layout = layout(of: type) else { return true }
        var i = 0
        for field in layout {
            switch field {
            case .name:
                var length = 0
                while true {
                    guard i < rdata.count else { return false }
                    let len = Int(rdata[i])
                    guard len <= DNSName.maxLabelLength else { return false }
                    length += len + 1
                    i += len + 1
                    if len == 0 { break }
                }
                guard length <= DNSName.maxWireLength else { return false }
            case .u16: i += 2
            case .fixed(let n): i += n
            }
        }
        return i == rdata.count
    }
}
