/// The fixed 12-byte message header (RFC 1035 §4.1.1).
public struct MessageHeader: Hashable, Sendable {
    public static let size = 12

    public var id: UInt16
    public var flags: UInt16
    public var questionCount: UInt16 = 0
    public var answerCount: UInt16 = 0
    public var authorityCount: UInt16 = 0
    public var additionalCount: UInt16 = 0

    public init(id: UInt16, flags: UInt16) {
        self.id = id
        self.flags = flags
    }

    public static let qrBit: UInt16 = 0x8000
    public static let aaBit: UInt16 = 0x0400
    public static let tcBit: UInt16 = 0x0200
    public static let rdBit: UInt16 = 0x0100
    public static let raBit: UInt16 = 0x0080
    public static let adBit: UInt16 = 0x0020
    public static let cdBit: UInt16 = 0x0010

    public var isResponse: Bool { flags & Self.qrBit != 0 }
    public var opcode: UInt8 { UInt8((flags >> 11) & 0xF) }
    public var isAuthoritative: Bool { flags & Self.aaBit != 0 }
    public var isTruncated: Bool { flags & Self.tcBit != 0 }
    public var recursionDesired: Bool { flags & Self.rdBit != 0 }
    public var rcodeLow: UInt16 { flags & 0xF }
}

/// The EDNS(0) pseudo-record's fields (RFC 6891 §6.1.3).
public struct EDNS: Hashable, Sendable {
    public var udpPayloadSize: UInt16
    public var extendedRCode: UInt8 = 0
    public var version: UInt8 = 0
    public var dnssecOK: Bool = false
    /// Options, still in wire format (code, length, data).
    public var options: [UInt8] = []

    public init(udpPayloadSize: UInt16, extendedRCode: UInt8 = 0, version: UInt8 = 0, dnssecOK: Bool = false, options: [UInt8] = []) {
        self.udpPayloadSize = udpPayloadSize
        self.extendedRCode = extendedRCode
        self.version = version
        self.dnssecOK = dnssecOK
        self.options = options
    }
}

public struct Question: Hashable, Sendable {
    public var name: DNSName
    public var type: RRType
    public var rclass: RRClass

    public init(name: DNSName, type: RRType, rclass: RRClass = .in) {
        self.name = name
        self.type = type
        self.rclass = rclass
    }
}

public enum MessageError: Error, Sendable, Equatable, CustomStringConvertible {
    case truncated(at: Int)
    case badName(at: Int, DNSNameError)
    case pointerLoop(at: Int)
    case badRData(at: Int)
    case trailingBytes(at: Int)
    case duplicateOPT

    public var description: String {
        switch self {
        case .truncated(let at): return "message truncated at byte \(at)"
        case .badName(let at, let why): return "bad name at byte \(at): \(why)"
        case .pointerLoop(let at): return "compression pointer loop at byte \(at)"
        case .badRData(let at): return "malformed rdata at byte \(at)"
        case .trailingBytes(let at): return "trailing bytes after the last record, at byte \(at)"
        case .duplicateOPT: return "more than one OPT record"
        }
    }
}

/// A whole DNS message, parsed into values. For tools, tests and the
/// freshness monitor; the server's hot path uses `QueryParser` instead, which
/// allocates nothing.
public struct Message: Hashable, Sendable {
    public var header: MessageHeader
    public var questions: [Question] = []
    public var answers: [ResourceRecord] = []
    public var authority: [ResourceRecord] = []
    /// Additional records, the OPT pseudo-record excluded.
    public var additional: [ResourceRecord] = []
    public var edns: EDNS?

    public init(header: MessageHeader) {
        self.header = header
    }

    /// The full response code, with EDNS's upper eight bits when present.
    public var rcode: RCode {
        RCode(rawValue: header.rcodeLow | (UInt16(edns?.extendedRCode ?? 0) << 4))
    }

    public init(parsing bytes: [UInt8]) throws(MessageError) {
        var reader = WireReader(bytes: bytes)
        let id = try reader.u16()
        let flags = try reader.u16()
        header = MessageHeader(id: id, flags: flags)
        header.questionCount = try reader.u16()
        header.answerCount = try reader.u16()
        header.authorityCount = try reader.u16()
        header.additionalCount = try reader.u16()
        for _ in 0..<header.questionCount {
            let name = try reader.name()
            let type = RRType(try reader.u16())
            let rclass = RRClass(try reader.u16())
            questions.append(Question(name: name, type: type, rclass: rclass))
        }
        for _ in 0..<header.answerCount { answers.append(try reader.record()) }
        for _ in 0..<header.authorityCount { authority.append(try reader.record()) }
        for _ in 0..<header.additionalCount {
            let record = try reader.record()
            if record.type == .opt {
                guard edns == nil else { throw .duplicateOPT }
                edns = EDNS(
                    udpPayloadSize: record.rclass.rawValue,
                    extendedRCode: UInt8(record.ttl >> 24),
                    version: UInt8((record.ttl >> 16) & 0xFF),
                    dnssecOK: record.ttl & 0x8000 != 0,
                    options: record.rdata)
            } else {
                additional.append(record)
            }
        }
        guard reader.offset == bytes.count else { throw .trailingBytes(at: reader.offset) }
    }

    /// Encodes the message with name compression where RFC 3597 allows it.
    /// Counts in the header are taken from the sections.
    public func encoded() -> [UInt8] {
        var writer = MessageWriter()
        var h = header
        h.questionCount = UInt16(questions.count)
        h.answerCount = UInt16(answers.count)
        h.authorityCount = UInt16(authority.count)
        h.additionalCount = UInt16(additional.count + (edns == nil ? 0 : 1))
        writer.header(h)
        for q in questions {
            writer.name(q.name)
            writer.u16(q.type.rawValue)
            writer.u16(q.rclass.rawValue)
        }
        for r in answers { writer.record(r) }
        for r in authority { writer.record(r) }
        for r in additional { writer.record(r) }
        if let edns { writer.opt(edns) }
        return writer.bytes
    }

    /// A query message, as a stub resolver or `dig +norec` would send it.
    public static func query(id: UInt16, question: Question, edns: EDNS? = nil, recursionDesired: Bool = false) -> Message {
        var message = Message(header: MessageHeader(id: id, flags: recursionDesired ? MessageHeader.rdBit : 0))
        message.questions = [question]
        message.edns = edns
        return message
    }
}

/// Reads a message front to back, decompressing names.
struct WireReader {
    let bytes: [UInt8]
    var offset = 0

    mutating func u8() throws(MessageError) -> UInt8 {
        guard offset < bytes.count else { throw .truncated(at: offset) }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func u16() throws(MessageError) -> UInt16 {
        guard offset + 2 <= bytes.count else { throw .truncated(at: offset) }
        defer { offset += 2 }
        return bytes.bigEndianUInt16(at: offset)
    }

    mutating func u32() throws(MessageError) -> UInt32 {
        guard offset + 4 <= bytes.count else { throw .truncated(at: offset) }
        defer { offset += 4 }
        return bytes.bigEndianUInt32(at: offset)
    }

    mutating func name() throws(MessageError) -> DNSName {
        let start = offset
        let (name, end) = try WireReader.decompressName(in: bytes, at: offset)
        offset = end
        _ = start
        return name
    }

    /// Reads a possibly compressed name at `start`; returns it and the offset
    /// just past its in-place bytes. Pointers must point strictly backwards,
    /// which rules out loops without a hop counter.
    static func decompressName(in bytes: [UInt8], at start: Int) throws(MessageError) -> (DNSName, Int) {
        var out: [UInt8] = []
        var i = start
        var end: Int?
        var lowestJump = start
        while true {
            guard i < bytes.count else { throw .truncated(at: i) }
            let len = Int(bytes[i])
            if len & 0xC0 == 0xC0 {
                guard i + 1 < bytes.count else { throw .truncated(at: i) }
                let target = (len & 0x3F) << 8 | Int(bytes[i + 1])
                if end == nil { end = i + 2 }
                guard target < lowestJump else { throw .pointerLoop(at: i) }
                lowestJump = target
                i = target
                continue
            }
            guard len & 0xC0 == 0 else { throw .badName(at: i, .badEscape) }
            guard i + 1 + len <= bytes.count else { throw .truncated(at: i) }
            out.append(contentsOf: bytes[i...(i + len)])
            guard out.count <= DNSName.maxWireLength else { throw .badName(at: start, .nameTooLong) }
            i += len + 1
            if len == 0 { break }
        }
        return (DNSName(uncheckedWire: out), end ?? i)
    }

    mutating func record() throws(MessageError) -> ResourceRecord {
        let owner = try name()
        let type = RRType(try u16())
        let rclass = RRClass(try u16())
        let ttl = try u32()
        let length = Int(try u16())
        let start = offset
        guard start + length <= bytes.count else { throw .truncated(at: start) }
        var rdata: [UInt8]
        if let layout = RDataNames.layout(of: type) {
            rdata = []
            for field in layout {
                switch field {
                case .name:
                    let (n, end) = try WireReader.decompressName(in: bytes, at: offset)
                    rdata.append(contentsOf: n.wire)
                    offset = end
                case .u16:
                    guard offset + 2 <= start + length else { throw .badRData(at: start) }
                    rdata.append(contentsOf: bytes[offset..<(offset + 2)])
                    offset += 2
                case .fixed(let n):
                    guard offset + n <= start + length else { throw .badRData(at: start) }
                    rdata.append(contentsOf: bytes[offset..<(offset + n)])
                    offset += n
                }
            }
            guard offset == start + length else { throw .badRData(at: start) }
        } else {
            rdata = Array(bytes[start..<(start + length)])
            offset = start + length
        }
        return ResourceRecord(owner: owner, type: type, rclass: rclass, ttl: ttl, rdata: rdata)
    }
}

/// Appends wire format to a growing buffer, compressing names against every
/// name already written (RFC 1035 §4.1.4).
public struct MessageWriter {
    public private(set) var bytes: [UInt8] = []
    /// Lowercased name suffix → offset where it was written.
    private var suffixes: [[UInt8]: Int] = [:]

    public init() {}

    public mutating func u8(_ v: UInt8) { bytes.append(v) }
    public mutating func u16(_ v: UInt16) { bytes.append(UInt8(v >> 8)); bytes.append(UInt8(v & 0xFF)) }
    public mutating func u32(_ v: UInt32) { u16(UInt16(v >> 16)); u16(UInt16(v & 0xFFFF)) }

    public mutating func header(_ h: MessageHeader) {
        u16(h.id); u16(h.flags); u16(h.questionCount); u16(h.answerCount)
        u16(h.authorityCount); u16(h.additionalCount)
    }

    public mutating func name(_ name: DNSName, compress: Bool = true) {
        let wire = name.wire
        var i = 0
        while wire[i] != 0 {
            let suffix = wire[i...].map(asciiLower)
            if compress, let target = suffixes[suffix] {
                u16(0xC000 | UInt16(target))
                return
            }
            if bytes.count < 0x4000 && suffixes[suffix] == nil { suffixes[suffix] = bytes.count }
            let len = Int(wire[i])
            bytes.append(contentsOf: wire[i...(i + len)])
            i += len + 1
        }
        bytes.append(0)
    }

    public mutating func record(_ r: ResourceRecord) {
        name(r.owner)
        u16(r.type.rawValue)
        u16(r.rclass.rawValue)
        u32(r.ttl)
        let lengthAt = bytes.count
        u16(0)
        let offsets = RDataNames.compressibleNameOffsets(type: r.type, rdata: r.rdata)
        var copied = 0
        for at in offsets {
            bytes.append(contentsOf: r.rdata[copied..<at])
            var end = at
            while r.rdata[end] != 0 { end += Int(r.rdata[end]) + 1 }
            end += 1
            name(DNSName(uncheckedWire: Array(r.rdata[at..<end])))
            copied = end
        }
        bytes.append(contentsOf: r.rdata[copied...])
        let length = bytes.count - lengthAt - 2
        bytes[lengthAt] = UInt8(length >> 8)
        bytes[lengthAt + 1] = UInt8(length & 0xFF)
    }

    public mutating func opt(_ e: EDNS) {
        u8(0)
        u16(RRType.opt.rawValue)
        u16(e.udpPayloadSize)
        u8(e.extendedRCode)
        u8(e.version)
        u16(e.dnssecOK ? 0x8000 : 0)
        u16(UInt16(e.options.count))
        bytes.append(contentsOf: e.options)
    }
}
