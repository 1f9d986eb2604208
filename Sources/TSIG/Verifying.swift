import DNSWire

/// A server's judgement of a request (a transfer query, a NOTIFY).
public enum TSIGRequestVerdict: Sendable {
    case unsigned
    /// Signed by `key`: sign the reply, or each message of the transfer,
    /// with `TSIGSigner(key: key, requestMAC: requestMAC)`.
    case valid(key: TSIGKey, requestMAC: [UInt8])
    /// Signed, but not acceptably, or a TSIG that does not read (FORMERR):
    /// answer with `refusal.reply`.
    case refused(TSIGRefusal)
}

/// A signed request the server does not accept, and its answer (RFC 8945
/// §5.2, §5.3.2): NOTAUTH with a TSIG that carries the error; unsigned
/// (empty MAC) for BADKEY, BADSIG and BADTRUNC, since the server cannot or
/// must not sign with that key; signed for BADTIME, with the server's time
/// in other data so that the client can tell its clock is off.
public struct TSIGRefusal: Sendable, CustomStringConvertible {
    public let failure: TSIGFailure
    /// The request as it came, TSIG included; only its header when its
    /// TSIG does not read (FORMERR echoes no question then).
    let request: [UInt8]
    let record: TSIGRecord?
    let key: TSIGKey?

    public var description: String { failure.description }

    /// The reply to send: the request's header (ID, opcode, RD) and
    /// question, no other records, and the TSIG as §5.3.2 has it.
    public func reply(now: UInt64 = tsigNow()) -> [UInt8] {
        let rcode: RCode = record == nil ? .formErr : .notAuth
        var reply = Message(header: MessageHeader(id: request.bigEndianUInt16(at: 0),
                                                  flags: MessageHeader.qrBit | request.bigEndianUInt16(at: 2) & 0x7900 | rcode.rawValue))
        if let parsed = try? Message(parsing: request) { reply.questions = parsed.questions }
        var bytes = reply.encoded()
        guard let record else { return bytes }
        if failure.rcode == .badTime, let key {
            // Timed as the request was, so that the client's check passes and it reads our time.
            // Other data is the 48-bit time alone: the timers without the fudge.
            var signer = TSIGSigner(key: key, requestMAC: record.mac, fudge: record.fudge, error: .badTime,
                                    otherData: Array(TSIGRecord.timers(timeSigned: now, fudge: 0).prefix(6)))
            signer.sign(&bytes, now: record.timeSigned)
        } else {
            TSIGRecord(keyName: record.keyName, algorithm: record.algorithm, timeSigned: now, fudge: record.fudge, mac: [],
                       originalID: record.originalID, error: failure.rcode).append(to: &bytes)
        }
        return bytes
    }
}

extension TSIGKeyring {
    /// Judges a request by its TSIG, checks in RFC 8945 §5.2's order: the
    /// record reads and is last (else FORMERR), the key is ours with its
    /// algorithm (BADKEY), the MAC matches (BADSIG), the time is within the
    /// fudge (BADTIME).
    public func verify(request: [UInt8], now: UInt64 = tsigNow()) -> TSIGRequestVerdict {
        // Shorter than a header: no reply to build; the query parser drops these first.
        guard request.count >= MessageHeader.size else { return .unsigned }
        let found: (record: TSIGRecord, start: Int)?
        do {
            found = try TSIGRecord.parse(request)
        } catch {
            return .refused(TSIGRefusal(failure: .malformed(error), request: Array(request.prefix(MessageHeader.size)), record: nil, key: nil))
        }
        guard let (record, start) = found else { return .unsigned }
        guard let key = self[record.keyName] else {
            return .refused(TSIGRefusal(failure: .unknownKey(record.keyName), request: request, record: record, key: nil))
        }
        if let failure = check(request, record, at: start, key: key, mac: RunningMAC(key, priorMAC: nil), fullVariables: true, now: now) {
            return .refused(TSIGRefusal(failure: failure, request: request, record: record, key: failure.rcode == .badTime ? key : nil))
        }
        return .valid(key: key, requestMAC: record.mac)
    }
}

/// Checks the reply to a signed request, one message or a transfer's many
/// (RFC 8945 §5.3.1): the first must be signed (with the request's MAC and
/// all the variables), later ones with the previous signed message's MAC
/// and the timers; up to 99 unsigned messages in a row are accepted, as the
/// RFC requires of clients for older servers, each one covered by the next
/// signed message's MAC; the last must be signed (`finish`).
public struct TSIGReplyVerifier: Sendable {
    public let key: TSIGKey
    private var priorMAC: [UInt8]
    /// Started at the first unsigned message after a signed one.
    private var pending: RunningMAC?
    private var unsignedInARow = 0
    private var verified = 0

    public init(key: TSIGKey, requestMAC: [UInt8]) {
        self.key = key
        priorMAC = requestMAC
    }

    /// The next message of the reply; it as its signer wrote it, without
    /// the TSIG (ARCOUNT one less), or as it came when unsigned.
    public mutating func verify(_ message: [UInt8], now: UInt64 = tsigNow()) throws(TSIGFailure) -> [UInt8] {
        let found: (record: TSIGRecord, start: Int)?
        do { found = try TSIGRecord.parse(message) } catch { throw .malformed(error) }
        guard let (record, start) = found else {
            guard verified > 0 else { throw .unsigned }
            guard unsignedInARow < 99 else { throw .tooManyUnsigned }
            if pending == nil { pending = RunningMAC(key, priorMAC: priorMAC) }
            pending!.update(message)
            unsignedInARow += 1
            return message
        }
        guard record.error == .noError else { throw .peerError(record.error) }
        let mac = pending ?? RunningMAC(key, priorMAC: priorMAC)
        if let failure = check(message, record, at: start, key: key, mac: mac, fullVariables: verified == 0, now: now) {
            throw failure
        }
        priorMAC = record.mac
        pending = nil
        unsignedInARow = 0
        verified += 1
        return TSIGRecord.removing(from: message, at: start)
    }

    /// At the end of the reply: its last message must have been signed.
    public func finish() throws(TSIGFailure) {
        guard verified > 0 else { throw .unsigned }
        guard unsignedInARow == 0 else { throw .lastUnsigned }
    }
}
