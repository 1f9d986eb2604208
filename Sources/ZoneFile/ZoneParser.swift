import DNSWire
#if canImport(Glibc)
import Glibc
#endif

/// What a master file yields: the records kept, each with the line it
/// started on (for error messages from later checks), and how many DNSSEC
/// records were stripped.
public struct ParsedZone: Sendable {
    public var records = PackedRecords()
    public var strippedCount = 0

    /// The zone as a parse with `keepDNSSEC` false would have given it: a
    /// zone verified by its DNSSEC records is stored without them, from the
    /// one parse. The names and rdata stay shared, only entries are copied.
    public func strippingDNSSEC() -> ParsedZone {
        var stripped = self
        stripped.records.removeDNSSEC()
        stripped.strippedCount += records.count - stripped.records.count
        return stripped
    }
}

/// An RFC 1035 §5 master-file parser.
///
/// Supported: `$ORIGIN`, `$TTL` (RFC 2308), parentheses across lines,
/// comments, quoted strings, `\X` and `\DDD` escapes, relative and absolute
/// names, omitted owner, TTL and class (either order), case-insensitive
/// keywords, BIND-style TTL units (`1h30m`), `TYPEnnn` and RFC 3597 `\# len
/// hex` rdata for any type. `$INCLUDE` is refused: the input is downloaded,
/// and a downloaded file must never make us read local files.
///
/// It reads both layouts found in practice: internic's tab-separated file
/// and dig-style AXFR output (rdata in chunks, compressed IPv6).
public struct ZoneParser {
    public struct Options: Sendable {
        public var origin: DNSName = .root
        /// Keep DNSSEC records (RRSIG, DNSKEY, DS, NSEC, ...). Stripped
        /// records are tokenised but their rdata is not decoded.
        public var keepDNSSEC = false
        /// The TTL of records that give none, before any `$TTL`: trust-anchor
        /// files (ldns-keygen's K*.ds) often carry no TTL, and need none.
        public var defaultTTL: UInt32?
        public init(origin: DNSName = .root, keepDNSSEC: Bool = false, defaultTTL: UInt32? = nil) {
            self.origin = origin
            self.keepDNSSEC = keepDNSSEC
            self.defaultTTL = defaultTTL
        }
    }

    /// Parses text as it arrives; an error in the input itself (corrupt or
    /// truncated gzip) takes precedence over the parse error it caused.
    public static func parse(_ text: ZoneText, options: Options = Options()) throws(ZoneError) -> ParsedZone {
        var parser = Parser(text: text, options: options)
        let result: ParsedZone
        do {
            result = try parser.run()
        } catch {
            throw text.inputError() ?? error
        }
        if let error = text.inputError() { throw error }
        return result
    }

    public static func parse(_ bytes: [UInt8], file: String, options: Options = Options()) throws(ZoneError) -> ParsedZone {
        try parse(ZoneText(bytes: bytes, path: file), options: options)
    }
}

/// A token: a slice of the input, quoted or not, escapes still in place.
struct Token {
    var start: Int
    var end: Int
    var quoted: Bool
}

struct Parser {
    let text: ZoneText
    let buf: UnsafeBufferPointer<UInt8>
    /// How much of `buf` has arrived; grows through `refill()`.
    var limit = 0
    let options: Options
    /// Field interpretation, with the current origin and entry line.
    var fields: Fields
    typealias Options = ZoneParser.Options

    var pos = 0
    var line = 1
    var tokens: [Token] = []
    var defaultTTL: UInt32?
    var lastTTL: UInt32?
    /// The current owner, stored once in the packed bytes for its run of records.
    var lastOwner: (at: Int, length: Int)?
    var lastOwnerToken: (start: Int, end: Int)?
    var zoneClass: RRClass?
    var result = ParsedZone()

    init(text: ZoneText, options: Options) {
        self.text = text
        self.buf = UnsafeBufferPointer(start: text.base, count: text.capacity)
        self.options = options
        self.fields = Fields(buf: buf, file: text.path, origin: options.origin)
        defaultTTL = options.defaultTTL
        tokens.reserveCapacity(64)
    }

    mutating func run() throws(ZoneError) -> ParsedZone {
        limit = text.waitForMore(after: 0)
        result.records.reserveCapacity(forText: text.expectedSize)
        while let ownerPresent = try nextEntry() {
            try entry(ownerPresent: ownerPresent)
        }
        return result
    }

    // MARK: Lexer

    /// Collects the tokens of the next logical entry (one line, or several
    /// joined by parentheses). Returns whether the entry starts in column 0,
    /// i.e. names its owner; nil at end of input.
    mutating func nextEntry() throws(ZoneError) -> Bool? {
        while pos < limit || refill() {
            tokens.removeAll(keepingCapacity: true)
            fields.line = line
            let ownerPresent = buf[pos] != 0x20 && buf[pos] != 0x09
            var depth = 0
            var openLine = line
            scan: while pos < limit || refill() {
                let c = buf[pos]
                switch c {
                case 0x20, 0x09, 0x0d:
                    pos += 1
                case 0x0a:
                    pos += 1
                    line += 1
                    if depth == 0 { break scan }
                case UInt8(ascii: ";"):
                    while pos < limit && buf[pos] != 0x0a { pos += 1 }
                case UInt8(ascii: "("):
                    if depth == 0 { openLine = line }
                    depth += 1
                    pos += 1
                case UInt8(ascii: ")"):
                    guard depth > 0 else { throw fields.error("')' without '('", text: ")") }
                    depth -= 1
                    pos += 1
                case UInt8(ascii: "\""):
                    let start = pos + 1
                    pos += 1
                    while true {
                        guard pos < limit else { throw fields.error("unterminated quoted string", start: start - 1, end: limit) }
                        let q = buf[pos]
                        if q == UInt8(ascii: "\"") { break }
                        if q == 0x0a { throw fields.error("newline inside a quoted string", start: start - 1, end: pos) }
                        if q == UInt8(ascii: "\\") { pos += 1 }
                        pos += 1
                    }
                    tokens.append(Token(start: start, end: pos, quoted: true))
                    pos += 1
                default:
                    let start = pos
                    // One table load per byte: most bytes are plain (class 0).
                    // Locals, so that the loop keeps them in registers.
                    let classes = ByteClass.table
                    let text = buf.baseAddress!
                    let end = limit
                    var p = pos
                    while p < end {
                        let t = text[p]
                        let k = classes[Int(t)]
                        if k == 0 {
                            p &+= 1
                            continue
                        }
                        if k == ByteClass.delimiter { break }
                        guard k == ByteClass.backslash else {
                            throw fields.error("unexpected byte 0x\(Codecs.hexEncode([t], uppercase: false)) (not a text zone file?)")
                        }
                        if p + 1 < end && text[p + 1] != 0x0a { p += 1 }
                        p += 1
                    }
                    pos = p
                    tokens.append(Token(start: start, end: pos, quoted: false))
                }
            }
            if depth > 0 {
                line = openLine
                fields.line = openLine
                throw fields.error("'(' not closed before the end of the file")
            }
            if !tokens.isEmpty { return ownerPresent }
        }
        return nil
    }

    /// Waits for more text; false at the end of the input. Text arrives in
    /// whole lines, so only the line-level loops need to ask.
    mutating func refill() -> Bool {
        limit = text.waitForMore(after: pos)
        return pos < limit
    }

    // MARK: Entries

    mutating func entry(ownerPresent: Bool) throws(ZoneError) {
        var i = 0
        if ownerPresent {
            let t = tokens[0]
            if !t.quoted && buf[t.start] == UInt8(ascii: "$") {
                try directive()
                return
            }
            if let last = lastOwnerToken, fields.sameBytes(last, (t.start, t.end)) {
                // Consecutive records of one owner: skip reparsing the name.
            } else {
                let at = result.records.bytes.count
                try fields.appendName(t, to: &result.records.bytes)
                lastOwner = (at, result.records.bytes.count - at)
                lastOwnerToken = (t.start, t.end)
            }
            i = 1
        }
        guard let owner = lastOwner else { throw fields.error("no owner name, and no previous record to take it from") }

        var ttl: UInt32?
        var rclass: RRClass?
        while i < tokens.count && (ttl == nil || rclass == nil) {
            let t = tokens[i]
            if ttl == nil && isDigit(buf[t.start]) {
                ttl = try fields.ttlValue(t)
            } else if rclass == nil, let c = fields.classValue(t) {
                rclass = c
            } else {
                break
            }
            i += 1
        }
        guard i < tokens.count else { throw fields.error("record has no type") }
        let typeToken = tokens[i]
        guard let type = fields.typeValue(typeToken) else { throw fields.error("unknown record type", token: typeToken) }
        i += 1

        let recordClass = rclass ?? zoneClass ?? .in
        if let zc = zoneClass {
            guard recordClass == zc else { throw fields.error("class \(recordClass) differs from the zone's class \(zc)") }
        } else {
            zoneClass = recordClass
        }
        if let ttl { lastTTL = ttl }
        guard let recordTTL = ttl ?? defaultTTL ?? lastTTL else {
            throw fields.error("no TTL given and no $TTL or earlier TTL to default to")
        }

        if type.isDNSSEC && !options.keepDNSSEC {
            result.strippedCount += 1
            return
        }
        let rdataAt = result.records.bytes.count
        try tokens.withUnsafeBufferPointer { (tokens) throws(ZoneError) in
            var reader = RDataReader(fields: fields, tokens: tokens, index: i)
            swap(&reader.out, &result.records.bytes)
            defer { swap(&reader.out, &result.records.bytes) }
            try reader.read(type: type)
        }
        guard result.records.bytes.count - rdataAt <= 0xFFFF else {
            throw fields.error("rdata longer than 65535 bytes")
        }
        result.records.append(owner: owner.at, ownerLength: owner.length, rdata: rdataAt, type: type, rclass: recordClass,
                              ttl: recordTTL, line: fields.line)
    }

    mutating func directive() throws(ZoneError) {
        let t = tokens[0]
        let keyword = String(decoding: UnsafeBufferPointer(rebasing: buf[t.start..<t.end]), as: UTF8.self).uppercased()
        switch keyword {
        case "$ORIGIN":
            guard tokens.count == 2 else { throw fields.error("$ORIGIN takes exactly one name") }
            fields.origin = try fields.name(tokens[1])
            // A relative owner now means another name.
            lastOwnerToken = nil
        case "$TTL":
            guard tokens.count == 2 else { throw fields.error("$TTL takes exactly one TTL") }
            defaultTTL = try fields.ttlValue(tokens[1])
        case "$INCLUDE":
            throw fields.error("$INCLUDE is not allowed: a downloaded zone must never read local files", token: t)
        default:
            throw fields.error("unknown directive", token: t)
        }
    }
}

/// Interprets tokens as typed fields and builds errors that point at them.
/// Small and cheap to copy (a buffer pointer, the file name, the origin),
/// so the rdata reader gets its own copy instead of the whole parser.
struct Fields {
    let buf: UnsafeBufferPointer<UInt8>
    let file: String
    var line = 1
    var origin: DNSName

    func name(_ t: Token) throws(ZoneError) -> DNSName {
        var wire: [UInt8] = []
        try appendName(t, to: &wire)
        return DNSName(uncheckedWire: wire)
    }

    /// The name's wire form appended to `out` (rdata), checked as `name` does.
    func appendName(_ t: Token, to out: inout [UInt8]) throws(ZoneError) {
        do {
            try DNSName.appendWire(presentation: UnsafeBufferPointer(rebasing: buf[t.start..<t.end]), origin: origin, to: &out)
        } catch {
            throw self.error("bad name (\(error))", token: t)
        }
    }

    /// A TTL in seconds, plain or with BIND's units (`2d`, `1h30m`); at most
    /// 2^31 - 1 (RFC 2181 §8).
    func ttlValue(_ t: Token) throws(ZoneError) -> UInt32 {
        var total: UInt64 = 0
        var current: UInt64 = 0
        var sawDigit = false
        var sawUnit = false
        for i in t.start..<t.end {
            let c = buf[i]
            if isDigit(c) {
                current = current * 10 + UInt64(c - 48)
                sawDigit = true
                guard current <= UInt64(Int32.max) else { throw error("TTL out of range (at most 2147483647)", token: t) }
                continue
            }
            let multiplier: UInt64
            switch c | 0x20 {
            case UInt8(ascii: "s"): multiplier = 1
            case UInt8(ascii: "m"): multiplier = 60
            case UInt8(ascii: "h"): multiplier = 3600
            case UInt8(ascii: "d"): multiplier = 86400
            case UInt8(ascii: "w"): multiplier = 604800
            default: throw error("bad TTL", token: t)
            }
            guard sawDigit else { throw error("bad TTL", token: t) }
            total += current * multiplier
            current = 0
            sawDigit = false
            sawUnit = true
        }
        if sawDigit { total += current } else if !sawUnit { throw error("bad TTL", token: t) }
        guard total <= UInt64(Int32.max) else { throw error("TTL out of range (at most 2147483647)", token: t) }
        return UInt32(total)
    }

    func classValue(_ t: Token) -> RRClass? {
        guard !t.quoted else { return nil }
        let length = t.end - t.start
        if length == 2 {
            let a = buf[t.start] | 0x20, b = buf[t.start + 1] | 0x20
            switch (a, b) {
            case (UInt8(ascii: "i"), UInt8(ascii: "n")): return .in
            case (UInt8(ascii: "c"), UInt8(ascii: "h")): return .ch
            case (UInt8(ascii: "h"), UInt8(ascii: "s")): return .hs
            case (UInt8(ascii: "c"), UInt8(ascii: "s")): return .cs
            default: return nil
            }
        }
        guard length > 5, buf[t.start] | 0x20 == UInt8(ascii: "c") else { return nil }
        return RRClass(mnemonic: text(t))
    }

    func typeValue(_ t: Token) -> RRType? {
        guard !t.quoted else { return nil }
        let length = t.end - t.start
        if length <= 8 {
            var key: UInt64 = 0
            for i in t.start..<t.end { key = key << 8 | UInt64(buf[i] & 0xDF) }
            for entry in typeKeys where entry.key == key { return entry.type }
        }
        guard let type = RRType(mnemonic: text(t)), type != .opt, type != .any, type != .axfr, type != .ixfr else { return nil }
        return type
    }

    func text(_ t: Token) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: buf[t.start..<t.end]), as: UTF8.self)
    }

    func sameBytes(_ a: (Int, Int), _ b: (Int, Int)) -> Bool {
        guard a.1 - a.0 == b.1 - b.0 else { return false }
        return memcmp(buf.baseAddress! + a.0, buf.baseAddress! + b.0, a.1 - a.0) == 0
    }

    // MARK: Errors

    func error(_ message: String, token: Token) -> ZoneError {
        error(message, start: token.start, end: token.end)
    }

    func error(_ message: String, start: Int, end: Int) -> ZoneError {
        ZoneError(file: file, line: line, message: message,
                  text: String(decoding: UnsafeBufferPointer(rebasing: buf[start..<min(end, start + 200)]), as: UTF8.self))
    }

    func error(_ message: String, text: String? = nil) -> ZoneError {
        ZoneError(file: file, line: line, message: message, text: text)
    }
}

/// What a byte means inside an unquoted token, by table: the lexer's inner
/// loop does one load and one test for the common, plain byte.
enum ByteClass {
    static let plain: UInt8 = 0
    /// Ends the token: blank, newline, `;`, `(`, `)`, `"`.
    static let delimiter: UInt8 = 1
    static let backslash: UInt8 = 2
    /// A control byte or DEL: not a text zone file.
    static let invalid: UInt8 = 3

    /// Never freed, never written after it is made: one table for the life
    /// of the process, read through a plain pointer.
    nonisolated(unsafe) static let table: UnsafePointer<UInt8> = {
        let table = UnsafeMutablePointer<UInt8>.allocate(capacity: 256)
        for c in 0..<256 {
            switch c {
            case 0x20, 0x09, 0x0a, 0x0d, 0x3b /* ; */, 0x28 /* ( */, 0x29 /* ) */, 0x22 /* " */: table[c] = delimiter
            case 0x5c /* \ */: table[c] = backslash
            case 0..<0x20, 0x7f: table[c] = invalid
            default: table[c] = plain
            }
        }
        return UnsafePointer(table)
    }()
}

/// Type mnemonics of up to eight letters, upper-cased and packed into an
/// integer, so that the type of each of the root zone's 25,000 records is
/// found with a few integer compares and no String: a short list, the
/// root zone's most frequent types first.
private let typeKeys: [(key: UInt64, type: RRType)] = [
    RRType.ns, .a, .aaaa, .rrsig, .ds, .nsec, .soa, .dnskey, .cname, .ptr, .hinfo, .mx, .txt, .nsec3, .cds, .cdnskey, .zonemd,
].map { type in
    var key: UInt64 = 0
    for c in type.description.utf8 { key = key << 8 | UInt64(c & 0xDF) }
    return (key, type)
}
