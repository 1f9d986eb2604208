import DNSWire
#if canImport(Glibc)
import Glibc
#endif

/// Turns a record's rdata tokens into uncompressed wire format, per type,
/// appended to `out`: the zone's packed bytes, lent by the parser, so that
/// no record gets an array of its own.
struct RDataReader {
    let fields: Fields
    let tokens: UnsafeBufferPointer<Token>
    var index: Int
    var out: [UInt8] = []

    init(fields: Fields, tokens: UnsafeBufferPointer<Token>, index: Int) {
        self.fields = fields
        self.tokens = tokens
        self.index = index
    }

    private var buf: UnsafeBufferPointer<UInt8> { fields.buf }

    mutating func read(type: RRType) throws(ZoneError) {
        if index < tokens.count, !tokens[index].quoted, tokens[index].end - tokens[index].start == 2,
           buf[tokens[index].start] == UInt8(ascii: "\\"), buf[tokens[index].start + 1] == UInt8(ascii: "#") {
            return try generic(type: type)
        }
        switch type {
        case .a:
            try ipv4()
        case .aaaa:
            try ipv6()
        case .ns, .cname, .ptr:
            try name()
        case .mx:
            try u16(); try name()
        case .soa:
            try name(); try name(); try u32()
            for _ in 0..<4 { try ttlField() }
        case .txt:
            try characterString()
            while index < tokens.count { try characterString() }
        case .hinfo:
            try characterString(); try characterString()
        case .naptr:
            // RFC 3403 §4.1: in the signed zones of RFC 8976's examples (uri.arpa).
            try u16(); try u16(); try characterString(); try characterString(); try characterString(); try name()
        case .ds, .cds:
            try u16(); try u8(); try u8(); try restHex()
        case .dnskey, .cdnskey:
            try u16(); try u8(); try u8(); try restBase64()
        case .rrsig:
            try typeField(); try u8(); try u8(); try u32(); try timeField(); try timeField(); try u16(); try name()
            try restBase64()
        case .nsec:
            try name(); try typeBitmap()
        case .nsec3:
            try u8(); try u8(); try u16(); try salt()
            let t = try next("next hashed owner")
            guard let hash = Codecs.base32HexDecode(span(t)), !hash.isEmpty, hash.count <= 255 else {
                throw fields.error("bad base32hex hash", token: t)
            }
            out.append(UInt8(hash.count)); out.append(contentsOf: hash)
            try typeBitmap()
        case .nsec3param:
            try u8(); try u8(); try u16(); try salt()
        case .zonemd:
            try u32(); try u8(); try u8(); try restHex()
        default:
            throw fields.error("type \(type) needs RFC 3597 rdata ('\\# length hex')")
        }
        guard index == tokens.count else { throw fields.error("unexpected text after the rdata", token: tokens[index]) }
    }

    // MARK: Token access

    private mutating func next(_ what: String) throws(ZoneError) -> Token {
        guard index < tokens.count else { throw fields.error("missing \(what)") }
        defer { index += 1 }
        return tokens[index]
    }

    private func span(_ t: Token) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(rebasing: buf[t.start..<t.end])
    }

    private mutating func number(_ what: String, max: UInt64) throws(ZoneError) -> UInt64 {
        let t = try next(what)
        var v: UInt64 = 0
        guard t.end > t.start, !t.quoted else { throw fields.error("bad \(what)", token: t) }
        for c in span(t) {
            guard isDigit(c) else { throw fields.error("bad \(what)", token: t) }
            v = v * 10 + UInt64(c - 48)
            guard v <= max else { throw fields.error("\(what) out of range", token: t) }
        }
        return v
    }

    // MARK: Fields

    private mutating func u8() throws(ZoneError) { out.append(UInt8(try number("8-bit number", max: 0xFF))) }

    private mutating func u16() throws(ZoneError) {
        let v = try number("16-bit number", max: 0xFFFF)
        out.append(UInt8(v >> 8)); out.append(UInt8(v & 0xFF))
    }

    private mutating func append32(_ v: UInt32) {
        out.append(UInt8(v >> 24)); out.append(UInt8((v >> 16) & 0xFF))
        out.append(UInt8((v >> 8) & 0xFF)); out.append(UInt8(v & 0xFF))
    }

    private mutating func u32() throws(ZoneError) { append32(UInt32(try number("32-bit number", max: 0xFFFF_FFFF))) }

    /// SOA timers accept TTL units, as BIND does.
    private mutating func ttlField() throws(ZoneError) { append32(try fields.ttlValue(try next("SOA timer"))) }

    private mutating func name() throws(ZoneError) { try fields.appendName(try next("name"), to: &out) }

    private mutating func ipv4() throws(ZoneError) {
        let t = try next("IPv4 address")
        var octets = 0
        var value = 0
        var digits = 0
        for c in span(t) {
            if c == UInt8(ascii: ".") {
                guard digits > 0, octets < 3 else { throw fields.error("bad IPv4 address", token: t) }
                out.append(UInt8(value)); octets += 1; value = 0; digits = 0
            } else {
                guard isDigit(c), digits < 3 else { throw fields.error("bad IPv4 address", token: t) }
                value = value * 10 + Int(c - 48)
                digits += 1
                guard value <= 255 else { throw fields.error("bad IPv4 address", token: t) }
            }
        }
        guard digits > 0, octets == 3 else { throw fields.error("bad IPv4 address", token: t) }
        out.append(UInt8(value))
    }

    /// inet_pton on a NUL-terminated copy of the token, on the stack.
    private mutating func ipv6() throws(ZoneError) {
        let t = try next("IPv6 address")
        let s = span(t)
        guard s.count < 64 else { throw fields.error("bad IPv6 address", token: t) }
        var address: (UInt64, UInt64) = (0, 0)
        let parsed = withUnsafeTemporaryAllocation(of: CChar.self, capacity: 64) { text in
            UnsafeMutableRawPointer(text.baseAddress!).copyMemory(from: s.baseAddress!, byteCount: s.count)
            text[s.count] = 0
            return withUnsafeMutableBytes(of: &address) { inet_pton(AF_INET6, text.baseAddress, $0.baseAddress) } == 1
        }
        guard parsed else { throw fields.error("bad IPv6 address", token: t) }
        withUnsafeBytes(of: &address) { out.append(contentsOf: $0) }
    }

    /// One character-string: a token, quoted or not, with escapes decoded,
    /// at most 255 bytes (RFC 1035 §3.3).
    private mutating func characterString() throws(ZoneError) {
        let t = try next("character string")
        let lengthAt = out.count
        out.append(0)
        let s = span(t)
        var i = 0
        while i < s.count {
            var c = s[i]
            if c == UInt8(ascii: "\\") {
                i += 1
                guard i < s.count else { throw fields.error("bad escape", token: t) }
                c = s[i]
                if isDigit(c) {
                    guard i + 2 < s.count, isDigit(s[i + 1]), isDigit(s[i + 2]) else { throw fields.error("bad escape", token: t) }
                    let v = Int(c - 48) * 100 + Int(s[i + 1] - 48) * 10 + Int(s[i + 2] - 48)
                    guard v <= 255 else { throw fields.error("bad escape", token: t) }
                    c = UInt8(v)
                    i += 2
                }
            }
            out.append(c)
            i += 1
        }
        let length = out.count - lengthAt - 1
        guard length <= 255 else { throw fields.error("character string longer than 255 bytes", token: t) }
        out[lengthAt] = UInt8(length)
    }

    private mutating func typeField() throws(ZoneError) {
        let t = try next("type")
        guard let type = fields.typeValue(t) else { throw fields.error("unknown record type", token: t) }
        out.append(UInt8(type.rawValue >> 8)); out.append(UInt8(type.rawValue & 0xFF))
    }

    /// RRSIG times: YYYYMMDDHHmmSS, or seconds since the epoch (RFC 4034 §3.2).
    private mutating func timeField() throws(ZoneError) {
        let t = try next("signature time")
        let s = span(t)
        guard !s.isEmpty, s.allSatisfy(isDigit) else { throw fields.error("bad signature time", token: t) }
        if s.count == 14 {
            func field(_ from: Int, _ count: Int) -> Int { s[from..<(from + count)].reduce(0) { $0 * 10 + Int($1 - 48) } }
            let seconds = Codecs.epochSeconds(year: field(0, 4), month: field(4, 2), day: field(6, 2),
                                              hour: field(8, 2), minute: field(10, 2), second: field(12, 2))
            append32(UInt32(truncatingIfNeeded: seconds))
        } else {
            guard s.count <= 10, let v = UInt32(fields.text(t)) else { throw fields.error("bad signature time", token: t) }
            append32(v)
        }
    }

    private mutating func restConcatenated(_ what: String) throws(ZoneError) -> [UInt8] {
        guard index < tokens.count else { throw fields.error("missing \(what)") }
        var text: [UInt8] = []
        while index < tokens.count {
            text.append(contentsOf: span(tokens[index]))
            index += 1
        }
        return text
    }

    private mutating func restHex() throws(ZoneError) {
        let start = tokens[min(index, tokens.count - 1)]
        guard let bytes = Codecs.hexDecode(try restConcatenated("hex data")), !bytes.isEmpty else {
            throw fields.error("bad hex data", token: start)
        }
        out.append(contentsOf: bytes)
    }

    private mutating func restBase64() throws(ZoneError) {
        let start = tokens[min(index, tokens.count - 1)]
        guard let bytes = Codecs.base64Decode(try restConcatenated("base64 data")), !bytes.isEmpty else {
            throw fields.error("bad base64 data", token: start)
        }
        out.append(contentsOf: bytes)
    }

    private mutating func salt() throws(ZoneError) {
        let t = try next("salt")
        if t.end - t.start == 1 && buf[t.start] == UInt8(ascii: "-") {
            out.append(0)
            return
        }
        guard let salt = Codecs.hexDecode(Array(span(t))), salt.count <= 255 else { throw fields.error("bad salt", token: t) }
        out.append(UInt8(salt.count)); out.append(contentsOf: salt)
    }

    private mutating func typeBitmap() throws(ZoneError) {
        var types: [RRType] = []
        while index < tokens.count {
            let t = tokens[index]
            guard let type = fields.typeValue(t) else { throw fields.error("unknown record type", token: t) }
            types.append(type)
            index += 1
        }
        out.append(contentsOf: Codecs.typeBitmap(types))
    }

    /// RFC 3597 §5: `\# length hex...`; a known type's rdata must still be
    /// well formed, so that nothing downstream trusts a bad layout.
    private mutating func generic(type: RRType) throws(ZoneError) {
        let marker = tokens[index]
        index += 1
        let lengthToken = index < tokens.count ? tokens[index] : marker
        let length = Int(try number("rdata length", max: 0xFFFF))
        let bytes: [UInt8]
        if length == 0 {
            bytes = []
        } else {
            guard let decoded = Codecs.hexDecode(try restConcatenated("hex rdata")) else {
                throw fields.error("bad hex rdata", token: lengthToken)
            }
            bytes = decoded
        }
        guard index == tokens.count, bytes.count == length else {
            throw fields.error("rdata length \(length) does not match the \(bytes.count) bytes given", token: lengthToken)
        }
        guard RDataNames.isWellFormed(type: type, rdata: bytes) else {
            throw fields.error("\\# rdata is not a valid \(type) record", token: lengthToken)
        }
        out.append(contentsOf: bytes)
    }
}
