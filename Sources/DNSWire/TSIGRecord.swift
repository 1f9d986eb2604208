/// A transaction signature (RFC 8945 §4.2): the record that ends a signed
/// message. Reading, writing and the digest inputs only; the HMAC is the
/// `TSIG` module's, so that the fuzz package can take this without Crypto.
public struct TSIGRecord: Hashable, Sendable {
    public var keyName: DNSName
    public var algorithm: DNSName
    /// Seconds since the epoch; 48 bits on the wire.
    public var timeSigned: UInt64
    public var fudge: UInt16
    public var mac: [UInt8]
    public var originalID: UInt16
    public var error: RCode
    public var otherData: [UInt8]

    public init(keyName: DNSName, algorithm: DNSName, timeSigned: UInt64, fudge: UInt16, mac: [UInt8],
                originalID: UInt16, error: RCode = .noError, otherData: [UInt8] = []) {
        self.keyName = keyName
        self.algorithm = algorithm
        self.timeSigned = timeSigned
        self.fudge = fudge
        self.mac = mac
        self.originalID = originalID
        self.error = error
        self.otherData = otherData
    }

    /// The TSIG that ends `message`, and where that record starts; nil when
    /// the message has none. The message must read to its last byte, and a
    /// TSIG anywhere but last in the additional section is an error
    /// (RFC 8945 §5.1: the receiver answers FORMERR), as is a second one.
    public static func parse(_ message: [UInt8]) throws(TSIGRecordError) -> (record: TSIGRecord, start: Int)? {
        var last = (index: -1, start: 0, nameEnd: 0)
        var earlierTSIG = false
        let reads = message.withUnsafeBytes { p in
            QueryParser.forEachRecord(in: p) { index, start, nameEnd in
                if last.index >= 0, p.bigEndianUInt16(at: last.nameEnd) == RRType.tsig.rawValue { earlierTSIG = true }
                last = (index, start, nameEnd)
            }
        }
        guard reads else { throw .malformedMessage }
        guard last.index >= 0, message.bigEndianUInt16(at: last.nameEnd) == RRType.tsig.rawValue else {
            if earlierTSIG { throw .notLast }
            return nil
        }
        guard !earlierTSIG else { throw .notLast }
        guard message.bigEndianUInt16(at: 10) > 0 else { throw .notInAdditional }
        let rclass = RRClass(message.bigEndianUInt16(at: last.nameEnd + 2))
        guard rclass == .any else { throw .wrongClass(rclass) }
        do {
            let (keyName, _) = try WireReader.decompressName(in: message, at: last.start)
            let rdata = last.nameEnd + 10
            // Uncompressed: RFC 3597 §4 allows compression only in RFC 1035's
            // types; and so the record keeps its length when written again.
            let (algorithm, fixedAt) = try WireReader.decompressName(in: message, at: rdata)
            guard fixedAt - rdata == algorithm.wire.count else { throw TSIGRecordError.badRData }
            // Time (6), fudge, MAC size; MAC; original ID, error, other length; other.
            guard fixedAt + 10 <= message.count else { throw TSIGRecordError.badRData }
            let time = UInt64(message.bigEndianUInt16(at: fixedAt)) << 32 | UInt64(message.bigEndianUInt32(at: fixedAt + 2))
            let macSize = Int(message.bigEndianUInt16(at: fixedAt + 8))
            let macEnd = fixedAt + 10 + macSize
            guard macEnd + 6 <= message.count else { throw TSIGRecordError.badRData }
            let otherEnd = macEnd + 6 + Int(message.bigEndianUInt16(at: macEnd + 4))
            guard otherEnd == message.count, otherEnd - rdata == Int(message.bigEndianUInt16(at: last.nameEnd + 8)) else {
                throw TSIGRecordError.badRData
            }
            let record = TSIGRecord(
                keyName: keyName, algorithm: algorithm, timeSigned: time, fudge: message.bigEndianUInt16(at: fixedAt + 6),
                mac: Array(message[(fixedAt + 10)..<macEnd]), originalID: message.bigEndianUInt16(at: macEnd),
                error: RCode(rawValue: message.bigEndianUInt16(at: macEnd + 2)), otherData: Array(message[(macEnd + 6)..<otherEnd]))
            return (record, last.start)
        } catch {
            throw .badRData
        }
    }

    /// `message` without the TSIG that starts at `start`, ARCOUNT one less:
    /// the message as its signer saw it (RFC 8945 §4.3.2), but for the ID.
    public static func removing(from message: [UInt8], at start: Int) -> [UInt8] {
        var unsigned = Array(message[..<start])
        let count = unsigned.bigEndianUInt16(at: 10) - 1
        unsigned[10] = UInt8(count >> 8)
        unsigned[11] = UInt8(count & 0xFF)
        return unsigned
    }

    /// The TSIG variables (RFC 8945 §4.3.3) that follow the message in the
    /// digest: key name, class, TTL, algorithm, timers, error, other data,
    /// names lowercased and uncompressed.
    public var variables: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(keyName.wire.count + algorithm.wire.count + 22 + otherData.count)
        out += keyName.lowercased().wire
        out += [0, UInt8(RRClass.any.rawValue), 0, 0, 0, 0]
        out += algorithm.lowercased().wire
        out += timers
        out += [UInt8(error.rawValue >> 8), UInt8(error.rawValue & 0xFF), UInt8(otherData.count >> 8), UInt8(otherData.count & 0xFF)]
        out += otherData
        return out
    }

    /// Time signed and fudge alone: all the variables that the second and
    /// later messages of a transfer digest (RFC 8945 §5.3.1).
    public var timers: [UInt8] { Self.timers(timeSigned: timeSigned, fudge: fudge) }

    public static func timers(timeSigned: UInt64, fudge: UInt16) -> [UInt8] {
        [UInt8(truncatingIfNeeded: timeSigned >> 40), UInt8(truncatingIfNeeded: timeSigned >> 32),
         UInt8(truncatingIfNeeded: timeSigned >> 24), UInt8(truncatingIfNeeded: timeSigned >> 16),
         UInt8(truncatingIfNeeded: timeSigned >> 8), UInt8(truncatingIfNeeded: timeSigned),
         UInt8(fudge >> 8), UInt8(fudge & 0xFF)]
    }

    /// The record's length on the wire, names uncompressed.
    public var wireLength: Int { keyName.wire.count + 10 + algorithm.wire.count + 16 + mac.count + otherData.count }

    /// Writes the record after the message in `buffer[0..<length]` and
    /// counts it in ARCOUNT; the new length, or nil when it does not fit.
    /// Works in place so that a transfer's messages, copied into one
    /// scratch buffer each, are signed without another copy.
    public func write(into buffer: UnsafeMutableRawBufferPointer, after length: Int) -> Int? {
        let end = length + wireLength
        let count = Int(buffer.bigEndianUInt16(at: 10)) + 1
        let rdataLength = wireLength - keyName.wire.count - 10
        guard length >= MessageHeader.size, end <= buffer.count, count <= 0xFFFF, rdataLength <= 0xFFFF else { return nil }
        var at = length
        func put(_ bytes: [UInt8]) {
            for b in bytes {
                buffer[at] = b
                at += 1
            }
        }
        func put16(_ v: UInt16) { put([UInt8(v >> 8), UInt8(v & 0xFF)]) }
        put(keyName.wire)
        put16(RRType.tsig.rawValue)
        put16(RRClass.any.rawValue)
        put([0, 0, 0, 0])
        put16(UInt16(rdataLength))
        put(algorithm.wire)
        put(timers)
        put16(UInt16(mac.count))
        put(mac)
        put16(originalID)
        put16(error.rawValue)
        put16(UInt16(otherData.count))
        put(otherData)
        buffer[10] = UInt8(count >> 8)
        buffer[11] = UInt8(count & 0xFF)
        return end
    }

    /// Appends the record to `message` and counts it in ARCOUNT.
    public func append(to message: inout [UInt8]) {
        let length = message.count
        message += repeatElement(0, count: wireLength)
        let written = message.withUnsafeMutableBytes { write(into: $0, after: length) }
        precondition(written != nil, "a TSIG appended to a message shorter than a header, with ARCOUNT 65535, or over 65535 octets of data")
    }
}

/// Why a message's TSIG does not read; the receiver answers FORMERR.
public enum TSIGRecordError: Error, Sendable, Equatable, CustomStringConvertible {
    case malformedMessage
    /// A TSIG before the last record, or two of them.
    case notLast
    case notInAdditional
    case wrongClass(RRClass)
    /// Names, lengths or fields that do not fill the record exactly.
    case badRData

    public var description: String {
        switch self {
        case .malformedMessage: return "the message does not read to its end"
        case .notLast: return "a TSIG record that is not the message's last record"
        case .notInAdditional: return "a TSIG record outside the additional section"
        case .wrongClass(let c): return "a TSIG record of class \(c), not ANY"
        case .badRData: return "a TSIG record whose data does not read"
        }
    }
}
