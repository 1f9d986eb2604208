import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

// Helpers for the CLI tests: the binary under test, scratch directories
// removed by `defer`, and a deliberately simple reading of the shared root
// zones that owes nothing to rootmirror's own parser.

let rootmirror = rootmirrorBinary

extension Scratch {
    func makeDirectory(_ name: String) throws -> String {
        let directory = "\(path)/\(name)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return directory
    }
}

/// Runs `rootmirror` with the given arguments.
func runRootmirror(_ arguments: [String]) throws -> ProcessResult {
    try #require(FileManager.default.isExecutableFile(atPath: rootmirror), "no rootmirror binary at \(rootmirror)")
    return try run(rootmirror, arguments)
}

// MARK: The shared zones, read the simple way

/// One record of a shared root-zone file. Both layouts (internic's tabs,
/// dig's AXFR spacing) keep each record on one line: owner TTL class type
/// rdata..., where dig splits long rdata into space-separated chunks.
struct ZoneRecord: Sendable {
    var owner: String
    var ttl: UInt32
    var type: String
    var rdata: [String]
}

struct RealZone: Sendable {
    let file: String
    let path: String
    let records: [ZoneRecord]
    /// The decompressed text, as gzip(1) gives it.
    let text: String

    init(_ file: String) throws {
        self.file = file
        path = "\(sharedZones)/\(file)"
        let gunzip = try run("/bin/gzip", ["-dc", path])
        guard gunzip.status == 0 else { throw TestFailure("gzip -dc \(path): \(gunzip.stderr)") }
        var records: [ZoneRecord] = []
        for line in gunzip.output.split(separator: "\n") where !line.hasPrefix(";") {
            let f = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard f.count >= 5, f[2] == "IN", let ttl = UInt32(f[1]) else { throw TestFailure("unexpected line: \(line)") }
            records.append(ZoneRecord(owner: f[0].lowercased(), ttl: ttl, type: f[3].uppercased(), rdata: Array(f[4...])))
        }
        self.records = records
        text = gunzip.output
    }

    var soa: ZoneRecord { records.first { $0.type == "SOA" }! }
    var serial: String { soa.rdata[2] }
    /// Owners of NS records other than the apex: the delegated TLDs.
    var tlds: Set<String> { Set(records.filter { $0.type == "NS" && $0.owner != "." }.map(\.owner)) }
    var kept: [ZoneRecord] { records.filter { !dnssecTypes.contains($0.type) } }

    func records(_ owner: String, _ type: String) -> [ZoneRecord] {
        records.filter { $0.owner == owner && $0.type == type }
    }
}

/// Each shared zone read once per test process (Swift initialises globals
/// lazily and exactly once), kept as a Result so a missing file fails the
/// tests that need it rather than the whole process.
let zone2023 = Result { try RealZone("root-2023051100.zone.gz") }
let zone2026a = Result { try RealZone("root-2026082200-nosig.zone.gz") }
let zone2026b = Result { try RealZone("root-2026082201-nosig.zone.gz") }

func realZone(_ file: String) throws -> RealZone {
    switch file {
    case "root-2023051100.zone.gz": return try zone2023.get()
    case "root-2026082200-nosig.zone.gz": return try zone2026a.get()
    case "root-2026082201-nosig.zone.gz": return try zone2026b.get()
    default: return try RealZone(file)
    }
}

let dnssecTypes: Set<String> = ["RRSIG", "DNSKEY", "DS", "NSEC", "NSEC3", "NSEC3PARAM", "CDS", "CDNSKEY", "ZONEMD"]

/// Type codes from the IANA registry, for the types the shared zones use.
let typeCodes: [String: UInt16] = [
    "A": 1, "NS": 2, "SOA": 6, "MX": 15, "TXT": 16, "AAAA": 28, "DS": 43, "RRSIG": 46, "NSEC": 47, "DNSKEY": 48, "ZONEMD": 63,
]

// MARK: Wire encoding, written for the tests

enum Wire {
    static func u16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xFF)] }
    static func u32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8((v >> UInt32(24 - 8 * $0)) & 0xFF) } }

    /// A name without escapes (all the shared zones have), lower-cased.
    static func name(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        for label in text.lowercased().split(separator: ".") {
            out.append(UInt8(label.utf8.count))
            out += label.utf8
        }
        return out + [0]
    }

    static func hex(_ text: String) -> [UInt8] {
        let digits = Array(text.utf8)
        return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(decoding: digits[$0..<$0 + 2], as: UTF8.self), radix: 16)! }
    }

    static func ipv6(_ text: String) -> [UInt8] {
        var address = in6_addr()
        precondition(inet_pton(AF_INET6, text, &address) == 1, "bad IPv6 \(text)")
        return withUnsafeBytes(of: &address) { Array($0) }
    }

    /// The RFC 5952 text of 16 bytes, as glibc's inet_ntop writes it.
    static func ipv6Text(_ bytes: [UInt8]) -> String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        _ = bytes.withUnsafeBytes { inet_ntop(AF_INET6, $0.baseAddress, &buffer, socklen_t(buffer.count)) }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// `YYYYMMDDHHMMSS` (RRSIG times) as seconds since the epoch, UTC.
    static func time(_ text: String) -> UInt32 {
        let d = Array(text.utf8).map { Int32($0) - 48 }
        func n(_ from: Int, _ count: Int) -> Int32 { d[from..<from + count].reduce(0) { $0 * 10 + $1 } }
        var parts = tm()
        parts.tm_year = n(0, 4) - 1900
        parts.tm_mon = n(4, 2) - 1
        parts.tm_mday = n(6, 2)
        parts.tm_hour = n(8, 2)
        parts.tm_min = n(10, 2)
        parts.tm_sec = n(12, 2)
        return UInt32(timegm(&parts))
    }

    static func base64(_ chunks: ArraySlice<String>) -> [UInt8] {
        Array(Data(base64Encoded: chunks.joined())!)
    }

    /// RFC 4034 §4.1.2 type bitmap (every code in the zones is below 256).
    static func typeBitmap(_ mnemonics: ArraySlice<String>) -> [UInt8] {
        let codes = mnemonics.map { typeCodes[$0]! }
        guard let highest = codes.max() else { return [] }
        var bitmap = [UInt8](repeating: 0, count: Int(highest) / 8 + 1)
        for code in codes { bitmap[Int(code) / 8] |= 0x80 >> (code % 8) }
        return [0, UInt8(bitmap.count)] + bitmap
    }

    /// The rdata of one record of the shared zones, in wire format.
    static func rdata(_ r: ZoneRecord) -> [UInt8] {
        let f = r.rdata
        switch r.type {
        case "A": return f[0].split(separator: ".").map { UInt8($0)! }
        case "AAAA": return ipv6(f[0])
        case "NS": return name(f[0])
        case "SOA": return name(f[0]) + name(f[1]) + f[2...6].flatMap { u32(UInt32($0)!) }
        case "DS": return u16(UInt16(f[0])!) + [UInt8(f[1])!, UInt8(f[2])!] + hex(f[3...].joined())
        case "DNSKEY": return u16(UInt16(f[0])!) + [UInt8(f[1])!, UInt8(f[2])!] + base64(f[3...])
        case "ZONEMD": return u32(UInt32(f[0])!) + [UInt8(f[1])!, UInt8(f[2])!] + hex(f[3...].joined())
        case "NSEC": return name(f[0]) + typeBitmap(f[1...])
        case "RRSIG":
            return u16(typeCodes[f[0]]!) + [UInt8(f[1])!, UInt8(f[2])!] + u32(UInt32(f[3])!) + u32(time(f[4])) + u32(time(f[5]))
                + u16(UInt16(f[6])!) + name(f[7]) + base64(f[8...])
        default: fatalError("no encoder for \(r.type)")
        }
    }
}

// MARK: tinydns-data input, written for the tests

/// The records as tinydns-data `data` lines: `Z` for the SOA, `&` for NS,
/// `+` for A, and the generic `:fqdn:type:rdata:ttl` line with octal-escaped
/// rdata for everything else (tinydns-data refuses that form only for NS,
/// CNAME, SOA, PTR and MX).
func tinydnsData(_ records: [ZoneRecord]) -> String {
    func octal(_ bytes: [UInt8]) -> String { bytes.map { String(format: "\\%03o", $0) }.joined() }
    var out = ""
    for r in records {
        switch r.type {
        case "SOA":
            let f = r.rdata
            out += "Z\(r.owner):\(f[0]):\(f[1]):\(f[2]):\(f[3]):\(f[4]):\(f[5]):\(f[6]):\(r.ttl)\n"
        case "NS":
            out += "&\(r.owner)::\(r.rdata[0]):\(r.ttl)\n"
        case "A":
            out += "+\(r.owner):\(r.rdata[0]):\(r.ttl)\n"
        default:
            out += ":\(r.owner):\(typeCodes[r.type]!):\(octal(Wire.rdata(r))):\(r.ttl)\n"
        }
    }
    return out
}

// MARK: cdb files, read with tinycdb's own tool

struct CDBEntry: Hashable, Comparable {
    var key: [UInt8]
    var value: [UInt8]
    /// The record type of a tinydns-data value (its first two bytes).
    var type: UInt16 { UInt16(value[0]) << 8 | UInt16(value[1]) }

    static func < (a: CDBEntry, b: CDBEntry) -> Bool {
        a.key == b.key ? a.value.lexicographicallyPrecedes(b.value) : a.key.lexicographicallyPrecedes(b.key)
    }
}

/// Every entry of a cdb file, from `cdb -d` (`+klen,vlen:key->value\n` each,
/// then an empty line).
func cdbEntries(_ path: String) throws -> [CDBEntry] {
    let dump = try run("/usr/bin/cdb", ["-d", path])
    guard dump.status == 0 else { throw TestFailure("cdb -d \(path): \(dump.stderr)") }
    let b = dump.stdout
    var i = 0
    var entries: [CDBEntry] = []
    func number(until terminator: UInt8) throws -> Int {
        var n = 0
        while i < b.count, b[i] != terminator {
            guard b[i] >= 48 && b[i] <= 57 else { throw TestFailure("cdb -d: bad length at byte \(i)") }
            n = n * 10 + Int(b[i] - 48)
            i += 1
        }
        i += 1
        return n
    }
    while i < b.count && b[i] == UInt8(ascii: "+") {
        i += 1
        let klen = try number(until: UInt8(ascii: ","))
        let vlen = try number(until: UInt8(ascii: ":"))
        guard i + klen + 2 + vlen < b.count else { throw TestFailure("cdb -d: short output") }
        let key = Array(b[i..<i + klen])
        i += klen + 2 // "->"
        let value = Array(b[i..<i + vlen])
        i += vlen + 1 // "\n"
        entries.append(CDBEntry(key: key, value: value))
    }
    guard i == b.count - 1, b[i] == 0x0a else { throw TestFailure("cdb -d: unexpected trailer at byte \(i)") }
    return entries
}

/// Record counts by type code.
func countsByType(_ entries: [CDBEntry]) -> [UInt16: Int] {
    entries.reduce(into: [:]) { $0[$1.type, default: 0] += 1 }
}

func countsByType(_ records: [ZoneRecord]) -> [UInt16: Int] {
    records.reduce(into: [:]) { $0[typeCodes[$1.type]!, default: 0] += 1 }
}

// MARK: dig-style output of `rootmirror query`

/// `rootmirror query` output taken apart: header, flags, and each section's
/// records as their five tab-separated fields.
struct DigReply {
    var text: String
    var status = ""
    var flags: Set<String> = []
    var counts: [String: Int] = [:]
    var sections: [String: [[String]]] = [:]

    init(_ text: String) {
        self.text = text
        var section: String?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.hasPrefix(";; ->>HEADER<<-"), let range = line.range(of: "status: ") {
                status = String(line[range.upperBound...].prefix { $0 != "," })
            } else if line.hasPrefix(";; flags:") {
                let parts = line.dropFirst(";; flags:".count).split(separator: ";", maxSplits: 1)
                flags = Set(parts[0].split(separator: " ").map(String.init))
                for count in parts[1].split(separator: ",") {
                    let kv = count.split(separator: ":").map { $0.trimmingCharacters(in: .whitespaces) }
                    counts[kv[0]] = Int(kv[1])
                }
            } else if line.hasPrefix(";; "), line.hasSuffix(" SECTION:") {
                section = String(line.dropFirst(3).dropLast(" SECTION:".count))
            } else if line.isEmpty || line.hasPrefix(";") {
                if line.isEmpty { section = nil }
            } else if let section {
                sections[section, default: []].append(line.split(separator: "\t", maxSplits: 4).map(String.init))
            }
        }
    }

    func section(_ name: String) -> [[String]] { sections[name] ?? [] }
    /// Records of a section as "owner ttl class type rdata" lines.
    func lines(_ name: String) -> [String] { section(name).map { $0.joined(separator: " ") } }
}

/// `rootmirror query NAME TYPE -d DATA`, required to succeed.
func query(_ name: String, _ type: String, data: String, _ extra: [String] = []) throws -> DigReply {
    let result = try runRootmirror(["query", name, type, "-d", data] + extra)
    try #require(result.status == 0, "query \(name) \(type): \(result.stderr)")
    #expect(result.stderr.isEmpty)
    return DigReply(result.output)
}
