import Crypto
import DNSWire
#if canImport(Glibc)
import Glibc
#endif

/// Seconds since the epoch: the clock TSIG's times are on. Every function
/// that reads it takes it as a parameter, so that tests can skew it.
public func tsigNow() -> UInt64 { UInt64(max(0, time(nil))) }

/// What a message's MAC covers (RFC 8945 §4.3), fed to the key's HMAC as it
/// goes, so that a transfer's messages are digested where they lie.
struct RunningMAC {
    private enum State {
        case sha256(HMAC<SHA256>), sha384(HMAC<SHA384>), sha512(HMAC<SHA512>)
    }
    private var state: State

    /// Started with the prior MAC (the request's, or the previous
    /// message's), length first (§4.3.1), when there is one.
    init(_ key: TSIGKey, priorMAC: [UInt8]?) {
        switch key.algorithm {
        case .hmacSHA256: state = .sha256(HMAC(key: key.symmetric))
        case .hmacSHA384: state = .sha384(HMAC(key: key.symmetric))
        case .hmacSHA512: state = .sha512(HMAC(key: key.symmetric))
        }
        if let priorMAC {
            update([UInt8(priorMAC.count >> 8), UInt8(priorMAC.count & 0xFF)])
            update(priorMAC)
        }
    }

    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        switch state {
        case .sha256(var h): h.update(data: bytes); state = .sha256(h)
        case .sha384(var h): h.update(data: bytes); state = .sha384(h)
        case .sha512(var h): h.update(data: bytes); state = .sha512(h)
        }
    }

    mutating func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }

    /// A received message up to its TSIG, as its signer digested it: with
    /// the original ID (a forwarder may have changed the ID) and without the
    /// TSIG in ARCOUNT (§4.3.2).
    mutating func update(received message: UnsafeRawBufferPointer, upTo tsigStart: Int, originalID: UInt16) {
        let additional = message.bigEndianUInt16(at: 10) - 1
        update([UInt8(originalID >> 8), UInt8(originalID & 0xFF)])
        update(UnsafeRawBufferPointer(rebasing: message[2..<10]))
        update([UInt8(additional >> 8), UInt8(additional & 0xFF)])
        update(UnsafeRawBufferPointer(rebasing: message[12..<tsigStart]))
    }

    func finalize() -> [UInt8] {
        switch state {
        case .sha256(let h): return Array(h.finalize())
        case .sha384(let h): return Array(h.finalize())
        case .sha512(let h): return Array(h.finalize())
        }
    }

    /// Compared in constant time, so that a forger learns nothing from when a reply comes.
    func isValid(_ mac: [UInt8]) -> Bool {
        switch state {
        case .sha256(let h): return h.finalize() == mac
        case .sha384(let h): return h.finalize() == mac
        case .sha512(let h): return h.finalize() == mac
        }
    }
}

/// Signs messages with one key: a request (no prior MAC), a reply (the
/// request's MAC first), or every message of a transfer (RFC 8945 §5.3.1:
/// the first with the request's MAC and all the TSIG variables, each later
/// one with the previous message's MAC and the timers only). Works in the
/// caller's buffer: a transfer's pre-built messages are copied into one
/// scratch buffer each and signed there, nothing allocated per record.
public struct TSIGSigner: Sendable {
    public let key: TSIGKey
    public let fudge: UInt16
    /// The MAC of the message signed last: a request's, to verify its reply with.
    public private(set) var lastMAC: [UInt8]?
    private var signed = 0
    private let error: RCode
    private let otherData: [UInt8]

    /// `requestMAC` nil signs a request; a reply's signer has the request's
    /// MAC. `error` and `otherData` are for a BADTIME reply (§5.2.3).
    public init(key: TSIGKey, requestMAC: [UInt8]? = nil, fudge: UInt16 = 300, error: RCode = .noError, otherData: [UInt8] = []) {
        self.key = key
        self.fudge = fudge
        lastMAC = requestMAC
        self.error = error
        self.otherData = otherData
    }

    /// Appends the TSIG of the next message, which is `buffer[0..<length]`;
    /// the new length, or nil when the buffer has no room for the record.
    public mutating func sign(_ buffer: UnsafeMutableRawBufferPointer, length: Int, now: UInt64 = tsigNow()) -> Int? {
        guard length >= MessageHeader.size else { return nil }
        var record = TSIGRecord(keyName: key.name, algorithm: key.algorithm.name, timeSigned: now, fudge: fudge, mac: [],
                                originalID: buffer.bigEndianUInt16(at: 0), error: error, otherData: otherData)
        guard length + record.wireLength + key.algorithm.macLength <= buffer.count else { return nil }
        var mac = RunningMAC(key, priorMAC: lastMAC)
        mac.update(UnsafeRawBufferPointer(rebasing: buffer[0..<length]))
        mac.update(signed == 0 ? record.variables : record.timers)
        record.mac = mac.finalize()
        lastMAC = record.mac
        signed += 1
        return record.write(into: buffer, after: length)
    }

    /// `sign(_:length:now:)` for a message in an array, which grows.
    public mutating func sign(_ message: inout [UInt8], now: UInt64 = tsigNow()) {
        let length = message.count
        message += repeatElement(0, count: TSIGRecord.maximumLength(key: key.name, algorithm: key.algorithm.name) + otherData.count)
        let end = message.withUnsafeMutableBytes { sign($0, length: length, now: now) }
        precondition(end != nil, "a message shorter than a header or with ARCOUNT 65535 to sign")
        message.removeLast(message.count - end!)
    }
}

extension TSIGRecord {
    /// Room a TSIG with a MAC of up to 64 octets (SHA-512's) needs, besides other data.
    static func maximumLength(key: DNSName, algorithm: DNSName) -> Int { key.wire.count + 10 + algorithm.wire.count + 16 + 64 }
}

extension TSIGKey {
    /// Signs a request (a transfer's query, a NOTIFY, an SOA query): the
    /// signed message, and the MAC its reply's verifier needs.
    public func sign(request: [UInt8], now: UInt64 = tsigNow(), fudge: UInt16 = 300) -> (message: [UInt8], mac: [UInt8]) {
        var signer = TSIGSigner(key: self, fudge: fudge)
        var message = request
        signer.sign(&message, now: now)
        return (message, signer.lastMAC!)
    }
}

/// Why a signed message is not accepted, with RFC 8945's error code.
public enum TSIGFailure: Error, Sendable, Equatable, CustomStringConvertible {
    case malformed(TSIGRecordError)
    /// A reply, or the first message of a transfer, without a TSIG.
    case unsigned
    /// More unsigned messages in a row than the 99 §5.3.1 lets a client accept.
    case tooManyUnsigned
    /// A transfer that ended on an unsigned message.
    case lastUnsigned
    case unknownKey(DNSName)
    case wrongAlgorithm(DNSName)
    /// A MAC shorter or longer than the algorithm's (truncation, §5.2.2.1, is not accepted).
    case truncatedMAC(Int)
    case badSignature
    case badTime(signed: UInt64, now: UInt64, fudge: UInt16)
    /// The peer refused ours: the TSIG error it sent back.
    case peerError(RCode)

    /// The TSIG error a server answers with (§5.2), FORMERR for a TSIG that does not read.
    public var rcode: RCode {
        switch self {
        case .malformed: return .formErr
        case .unknownKey, .wrongAlgorithm: return .badKey
        case .truncatedMAC: return .badTrunc
        case .badTime: return .badTime
        case .unsigned, .tooManyUnsigned, .lastUnsigned, .badSignature: return .badSig
        case .peerError(let code): return code
        }
    }

    public var description: String {
        switch self {
        case .malformed(let e): return "FORMERR: \(e)"
        case .unsigned: return "BADSIG: not signed"
        case .tooManyUnsigned: return "BADSIG: more than 99 unsigned messages in a row"
        case .lastUnsigned: return "BADSIG: the last message is not signed"
        case .unknownKey(let name): return "BADKEY: no key \(name)"
        case .wrongAlgorithm(let name): return "BADKEY: the key's algorithm is not \(name)"
        case .truncatedMAC(let n): return "BADTRUNC: a MAC of \(n) octets"
        case .badSignature: return "BADSIG: the MAC does not match"
        case .badTime(let signed, let now, let fudge):
            return "BADTIME: signed at \(signed), \(Int64(bitPattern: signed &- now)) s from now, fudge \(fudge) s"
        case .peerError(let code): return "the peer answered TSIG error \(tsigErrorName(code))"
        }
    }
}

/// 16 is BADVERS as an RCODE and BADSIG as a TSIG error.
func tsigErrorName(_ code: RCode) -> String { code == .badSig ? "BADSIG" : code.description }

/// The checks of §5.2 in its order (key, MAC, time), on a message whose
/// TSIG `record` starts at `start`; `mac` holds what precedes the message
/// in the digest. Nil when the message is good.
func check(_ message: [UInt8], _ record: TSIGRecord, at start: Int, key: TSIGKey, mac: RunningMAC, fullVariables: Bool,
           now: UInt64) -> TSIGFailure? {
    guard record.keyName.lowercased() == key.name else { return .unknownKey(record.keyName) }
    guard TSIGAlgorithm(name: record.algorithm) == key.algorithm else { return .wrongAlgorithm(record.algorithm) }
    guard record.mac.count == key.algorithm.macLength else { return .truncatedMAC(record.mac.count) }
    var mac = mac
    message.withUnsafeBytes { mac.update(received: $0, upTo: start, originalID: record.originalID) }
    mac.update(fullVariables ? record.variables : record.timers)
    guard mac.isValid(record.mac) else { return .badSignature }
    let skew = record.timeSigned > now ? record.timeSigned - now : now - record.timeSigned
    guard skew <= UInt64(record.fudge) else { return .badTime(signed: record.timeSigned, now: now, fudge: record.fudge) }
    return nil
}
