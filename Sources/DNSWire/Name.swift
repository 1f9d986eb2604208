#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A domain name in uncompressed wire format: length-prefixed labels ending
/// with the zero-length root label (`\x07example\x03com\x00`).
///
/// Wire format is the one representation every part of rootmirror shares: the
/// zone parser produces it, data.cdb stores it (tinydns-data's key format) and
/// the responder copies it, so no component converts names on the hot path.
/// Comparison (`==`, hashing) is byte-exact; use `lowercased()` for the
/// canonical, case-insensitive form (RFC 4343).
public struct DNSName: Hashable, Sendable, CustomStringConvertible {
    /// Longest name on the wire (RFC 1035 §3.1), terminating zero included.
    public static let maxWireLength = 255
    /// Longest label (RFC 1035 §2.3.4).
    public static let maxLabelLength = 63

    public static let root = DNSName(uncheckedWire: [0])

    public let wire: [UInt8]

    /// Wraps bytes already known to be a well-formed, uncompressed name.
    public init(uncheckedWire wire: [UInt8]) {
        self.wire = wire
    }

    /// Validates `wire` as one uncompressed name that fills the buffer exactly.
    public init(validatingWire wire: [UInt8]) throws(DNSNameError) {
        var i = 0
        while true {
            guard i < wire.count else { throw .truncated }
            let len = Int(wire[i])
            if len == 0 { break }
            guard len <= Self.maxLabelLength else { throw .labelTooLong }
            i += 1 + len
        }
        guard i + 1 == wire.count else { throw .trailingBytes }
        guard wire.count <= Self.maxWireLength else { throw .nameTooLong }
        self.wire = wire
    }

    /// Parses a name in presentation format (RFC 1035 §5.1): `\X` and `\DDD`
    /// escapes, a trailing dot for absolute names, `@` for the origin.
    /// A relative name is completed with `origin`.
    public init(text: String, origin: DNSName = .root) throws(DNSNameError) {
        var utf8 = Array(text.utf8)
        self = try utf8.withUnsafeMutableBufferPointer { (buffer) throws(DNSNameError) -> DNSName in
            try DNSName(presentation: UnsafeBufferPointer(buffer), origin: origin)
        }
    }

    /// The byte-level parser behind `init(text:origin:)`, used directly by the
    /// zone-file parser so that a token never becomes a `String`.
    public init(presentation text: UnsafeBufferPointer<UInt8>, origin: DNSName) throws(DNSNameError) {
        var out: [UInt8] = []
        try Self.appendWire(presentation: text, origin: origin, to: &out)
        self.wire = out
    }

    /// Appends the wire form of a name in presentation format to `out`:
    /// the zone-file parser writes a name in rdata straight into the
    /// record's bytes, with no array of its own.
    public static func appendWire(presentation text: UnsafeBufferPointer<UInt8>, origin: DNSName,
                                  to out: inout [UInt8]) throws(DNSNameError) {
        if text.count == 1 && text[0] == UInt8(ascii: "@") {
            out.append(contentsOf: origin.wire)
            return
        }
        if text.count == 1 && text[0] == UInt8(ascii: ".") {
            out.append(0)
            return
        }
        guard !text.isEmpty else { throw .emptyLabel }
        let base = out.count
        out.reserveCapacity(base + text.count + 2 + origin.wire.count)
        var labelStart = base
        out.append(0)
        var i = 0
        var absolute = false
        while i < text.count {
            var c = text[i]
            if c == UInt8(ascii: ".") {
                let labelLength = out.count - labelStart - 1
                guard labelLength > 0 else { throw .emptyLabel }
                guard labelLength <= Self.maxLabelLength else { throw .labelTooLong }
                out[labelStart] = UInt8(labelLength)
                i += 1
                if i == text.count {
                    absolute = true
                    break
                }
                labelStart = out.count
                out.append(0)
                continue
            }
            if c == UInt8(ascii: "\\") {
                i += 1
                guard i < text.count else { throw .badEscape }
                c = text[i]
                if isDigit(c) {
                    guard i + 2 < text.count, isDigit(text[i + 1]), isDigit(text[i + 2]) else { throw .badEscape }
                    let value = Int(c - 48) * 100 + Int(text[i + 1] - 48) * 10 + Int(text[i + 2] - 48)
                    guard value <= 255 else { throw .badEscape }
                    c = UInt8(value)
                    i += 2
                }
            }
            out.append(c)
            i += 1
        }
        if !absolute {
            let labelLength = out.count - labelStart - 1
            guard labelLength > 0 else { throw .emptyLabel }
            guard labelLength <= Self.maxLabelLength else { throw .labelTooLong }
            out[labelStart] = UInt8(labelLength)
            out.append(contentsOf: origin.wire)
        } else {
            out.append(0)
        }
        guard out.count - base <= Self.maxWireLength else { throw .nameTooLong }
    }

    /// One bulk hash of the bytes; the synthesized per-byte combine made
    /// hashing names the largest cost of checking a zone.
    public func hash(into hasher: inout Hasher) {
        wire.withUnsafeBytes { hasher.combine(bytes: $0) }
    }

    public static func == (lhs: DNSName, rhs: DNSName) -> Bool {
        lhs.wire.withUnsafeBytes { l in
            rhs.wire.withUnsafeBytes { r in
                l.count == r.count && (l.baseAddress == r.baseAddress || memcmp(l.baseAddress!, r.baseAddress!, l.count) == 0)
            }
        }
    }

    public var isRoot: Bool { wire.count == 1 }

    /// Number of labels, not counting the root label.
    public var labelCount: Int {
        var count = 0
        var i = 0
        while wire[i] != 0 {
            count += 1
            i += Int(wire[i]) + 1
        }
        return count
    }

    /// The name with ASCII letters folded to lower case (RFC 4343).
    public func lowercased() -> DNSName {
        // Zones are nearly all lower case already: share the storage then.
        guard wire.contains(where: { ($0 &- 0x41) < 26 }) else { return self }
        return DNSName(uncheckedWire: wire.map(asciiLower))
    }

    /// Whether `self` equals `ancestor` or lies below it, ignoring case.
    public func isSubdomain(of ancestor: DNSName) -> Bool {
        wire.withUnsafeBytes { DNSName.isSubdomain($0, of: ancestor) }
    }

    /// Whether the well-formed wire name in `name` equals `ancestor` or lies
    /// below it, ignoring case: for names read where they lie (a zone's
    /// packed records) rather than copied into a `DNSName`. Inlinable: the
    /// zone checker asks it for every owner and name-server name.
    @inlinable
    public static func isSubdomain(_ name: UnsafeRawBufferPointer, of ancestor: DNSName) -> Bool {
        let offset = name.count - ancestor.wire.count
        guard offset >= 0 else { return false }
        // The suffix must start on a label boundary.
        var i = 0
        while i < offset { i += Int(name[i]) + 1 }
        guard i == offset else { return false }
        return ancestor.wire.withUnsafeBytes { ancestor in
            for j in 0..<ancestor.count where asciiLower(name[offset + j]) != asciiLower(ancestor[j]) {
                return false
            }
            return true
        }
    }

    /// The name with its first label removed; the root's parent is nil.
    public var parent: DNSName? {
        guard !isRoot else { return nil }
        return DNSName(uncheckedWire: Array(wire[(Int(wire[0]) + 1)...]))
    }

    /// Presentation format, absolute (trailing dot), with RFC 1035 escapes.
    public var description: String {
        if isRoot { return "." }
        var out: [UInt8] = []
        var i = 0
        while wire[i] != 0 {
            let len = Int(wire[i])
            for b in wire[(i + 1)...(i + len)] {
                switch b {
                case UInt8(ascii: "."), UInt8(ascii: "\\"), UInt8(ascii: "\""), UInt8(ascii: "("),
                     UInt8(ascii: ")"), UInt8(ascii: ";"), UInt8(ascii: "@"), UInt8(ascii: "$"):
                    out.append(UInt8(ascii: "\\"))
                    out.append(b)
                case 0x21...0x7e:
                    out.append(b)
                default:
                    out.append(UInt8(ascii: "\\"))
                    out.append(48 + b / 100)
                    out.append(48 + (b / 10) % 10)
                    out.append(48 + b % 10)
                }
            }
            out.append(UInt8(ascii: "."))
            i += len + 1
        }
        return String(decoding: out, as: UTF8.self)
    }
}

public enum DNSNameError: Error, Sendable, Equatable, CustomStringConvertible {
    case emptyLabel, labelTooLong, nameTooLong, badEscape, truncated, trailingBytes

    public var description: String {
        switch self {
        case .emptyLabel: return "empty label in name"
        case .labelTooLong: return "label longer than 63 octets"
        case .nameTooLong: return "name longer than 255 octets"
        case .badEscape: return "bad escape in name"
        case .truncated: return "name runs past its end"
        case .trailingBytes: return "bytes after the end of the name"
        }
    }
}

/// Inlinable: the zone parser and the answering hash call it per byte
/// from other modules.
@inlinable @inline(__always)
public func asciiLower(_ b: UInt8) -> UInt8 {
    (b &- 0x41) < 26 ? b | 0x20 : b
}

@inlinable @inline(__always)
package func isDigit(_ b: UInt8) -> Bool { (b &- 48) < 10 }
