#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Presentation format (RFC 1035 §5) of records, as `dig` prints them. Any
/// rdata that does not match its type's layout falls back to RFC 3597's
/// `\# length hex`, so printing never fails.
extension ResourceRecord: CustomStringConvertible {
    public var description: String {
        "\(owner)\t\(ttl)\t\(rclass)\t\(type)\t\(rdataText)"
    }

    public var rdataText: String {
        Presentation.rdata(type: type, rdata: rdata) ?? Presentation.generic(rdata)
    }
}

public enum Presentation {
    public static func generic(_ rdata: [UInt8]) -> String {
        rdata.isEmpty ? "\\# 0" : "\\# \(rdata.count) \(Codecs.hexEncode(rdata))"
    }

    public static func ipv4(_ b: some Collection<UInt8>) -> String {
        b.map(String.init).joined(separator: ".")
    }

    public static func ipv6(_ b: [UInt8]) -> String {
        var buffer = [CChar](repeating: 0, count: 64)
        return b.withUnsafeBytes { raw in
            inet_ntop(AF_INET6, raw.baseAddress, &buffer, socklen_t(buffer.count))
            return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }

    static func rdata(type: RRType, rdata d: [UInt8]) -> String? {
        var r = RDataCursor(d)
        switch type {
        case .a:
            guard d.count == 4 else { return nil }
            return ipv4(d)
        case .aaaa:
            guard d.count == 16 else { return nil }
            return ipv6(d)
        case .ns, .cname, .ptr:
            guard let n = r.name(), r.atEnd else { return nil }
            return n.description
        case .mx:
            guard let p = r.u16(), let n = r.name(), r.atEnd else { return nil }
            return "\(p) \(n)"
        case .soa:
            guard let m = r.name(), let rn = r.name(), let serial = r.u32(), let refresh = r.u32(),
                  let retry = r.u32(), let expire = r.u32(), let minimum = r.u32(), r.atEnd else { return nil }
            return "\(m) \(rn) \(serial) \(refresh) \(retry) \(expire) \(minimum)"
        case .txt, .hinfo:
            var strings: [String] = []
            while !r.atEnd {
                guard let s = r.characterString() else { return nil }
                strings.append(s)
            }
            return strings.isEmpty ? nil : strings.joined(separator: " ")
        case .ds, .cds:
            guard let tag = r.u16(), let alg = r.u8(), let digestType = r.u8(), !r.atEnd else { return nil }
            return "\(tag) \(alg) \(digestType) \(Codecs.hexEncode(r.rest()))"
        case .dnskey, .cdnskey:
            guard let flags = r.u16(), let proto = r.u8(), let alg = r.u8(), !r.atEnd else { return nil }
            return "\(flags) \(proto) \(alg) \(Codecs.base64Encode(r.rest()))"
        case .rrsig:
            guard let covered = r.u16(), let alg = r.u8(), let labels = r.u8(), let original = r.u32(),
                  let expiration = r.u32(), let inception = r.u32(), let tag = r.u16(), let signer = r.name(),
                  !r.atEnd else { return nil }
            return "\(RRType(covered)) \(alg) \(labels) \(original) \(Codecs.civilTimestamp(epochSeconds: Int(expiration))) \(Codecs.civilTimestamp(epochSeconds: Int(inception))) \(tag) \(signer) \(Codecs.base64Encode(r.rest()))"
        case .nsec:
            guard let next = r.name(), let types = Codecs.types(inBitmap: d[r.offset...]) else { return nil }
            return ([next.description] + types.map(\.description)).joined(separator: " ")
        case .zonemd:
            guard let serial = r.u32(), let scheme = r.u8(), let alg = r.u8(), !r.atEnd else { return nil }
            return "\(serial) \(scheme) \(alg) \(Codecs.hexEncode(r.rest()))"
        default:
            return nil
        }
    }
}

/// Bounds-checked reads from an uncompressed rdata.
struct RDataCursor {
    let bytes: [UInt8]
    var offset = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var atEnd: Bool { offset == bytes.count }

    mutating func u8() -> UInt8? {
        guard offset < bytes.count else { return nil }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func u16() -> UInt16? {
        guard offset + 2 <= bytes.count else { return nil }
        defer { offset += 2 }
        return bytes.bigEndianUInt16(at: offset)
    }

    mutating func u32() -> UInt32? {
        guard offset + 4 <= bytes.count else { return nil }
        defer { offset += 4 }
        return bytes.bigEndianUInt32(at: offset)
    }

    mutating func name() -> DNSName? {
        var end = offset
        while end < bytes.count && bytes[end] != 0 { end += Int(bytes[end]) + 1 }
        guard end < bytes.count else { return nil }
        guard let n = try? DNSName(validatingWire: Array(bytes[offset...end])) else { return nil }
        offset = end + 1
        return n
    }

    mutating func characterString() -> String? {
        guard let len = u8(), offset + Int(len) <= bytes.count else { return nil }
        var out: [UInt8] = [UInt8(ascii: "\"")]
        for b in bytes[offset..<(offset + Int(len))] {
            switch b {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                out.append(UInt8(ascii: "\\"))
                out.append(b)
            case 0x20...0x7e:
                out.append(b)
            default:
                out.append(contentsOf: Array("\\".utf8) + [48 + b / 100, 48 + (b / 10) % 10, 48 + b % 10])
            }
        }
        out.append(UInt8(ascii: "\""))
        offset += Int(len)
        return String(decoding: out, as: UTF8.self)
    }

    mutating func rest() -> ArraySlice<UInt8> {
        defer { offset = bytes.count }
        return bytes[offset...]
    }
}

extension String {
    package func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let c = s.first, c.isWhitespace { s.removeFirst() }
        while let c = s.last, c.isWhitespace { s.removeLast() }
        return String(s)
    }
}
