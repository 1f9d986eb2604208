import Crypto
import DNSWire
import Testing
import TSIG

/// Our signer against our verifiers, on every path; PeerTests checks both
/// against other implementations.
@Suite struct SigningTests {
    static let now: UInt64 = 1_780_000_000
    static let key = TSIGKey(name: try! DNSName(text: "xfr.example."), algorithm: .hmacSHA256, secret: Array(0..<32))
    static let keyring = TSIGKeyring([key, TSIGKey(name: try! DNSName(text: "other."), algorithm: .hmacSHA512, secret: [9, 9])])

    static func query(_ type: RRType = .axfr, id: UInt16 = 0x4242) -> [UInt8] {
        Message.query(id: id, question: Question(name: try! DNSName(text: "example."), type: type)).encoded()
    }

    /// A reply to `query` with `count` A records: a stand-in for one message of a transfer.
    static func reply(_ count: Int, id: UInt16 = 0x4242) -> [UInt8] {
        var m = Message(header: MessageHeader(id: id, flags: MessageHeader.qrBit | MessageHeader.aaBit))
        m.questions = [Question(name: try! DNSName(text: "example."), type: .axfr)]
        m.answers = (0..<count).map { ResourceRecord(owner: try! DNSName(text: "h\($0).example."), type: .a, ttl: 60, rdata: [192, 0, 2, UInt8($0 & 0xFF)]) }
        return m.encoded()
    }

    func refusal(_ verdict: TSIGRequestVerdict) -> TSIGRefusal? {
        if case .refused(let r) = verdict { return r }
        return nil
    }

    @Test(arguments: TSIGAlgorithm.allCases)
    func requestAndReplyRoundTrip(algorithm: TSIGAlgorithm) throws {
        let key = TSIGKey(name: try DNSName(text: "k."), algorithm: algorithm, secret: Array("secret".utf8))
        let (request, mac) = key.sign(request: Self.query(), now: Self.now)
        #expect(mac.count == algorithm.macLength)
        guard case .valid(let found, let requestMAC) = TSIGKeyring([key]).verify(request: request, now: Self.now + 10) else {
            Issue.record("a request we signed is not valid")
            return
        }
        #expect(found.name == key.name && requestMAC == mac)
        var reply = Self.reply(3)
        var signer = TSIGSigner(key: found, requestMAC: requestMAC)
        signer.sign(&reply, now: Self.now + 11)
        var verifier = TSIGReplyVerifier(key: key, requestMAC: mac)
        #expect(try verifier.verify(reply, now: Self.now + 12) == Self.reply(3))
        try verifier.finish()
    }

    @Test func unsignedRequestIsSaid() {
        guard case .unsigned = Self.keyring.verify(request: Self.query(), now: Self.now) else {
            Issue.record("an unsigned request judged otherwise")
            return
        }
    }

    @Test func requestErrors() throws {
        let (request, _) = Self.key.sign(request: Self.query(), now: Self.now)
        // A flipped bit in the question: BADSIG, answered NOTAUTH with an unsigned TSIG.
        var tampered = request
        tampered[14] ^= 0x20
        let badSig = try #require(refusal(Self.keyring.verify(request: tampered, now: Self.now)))
        #expect(badSig.failure == .badSignature && badSig.failure.rcode == .badSig)
        let reply = badSig.reply(now: Self.now)
        let parsed = try Message(parsing: reply)
        #expect(parsed.header.isResponse && parsed.header.id == 0x4242 && parsed.header.rcodeLow == RCode.notAuth.rawValue)
        #expect(parsed.questions.count == 1)
        let (record, _) = try #require(try TSIGRecord.parse(reply))
        #expect(record.error == .badSig && record.mac.isEmpty && record.keyName == Self.key.name)

        // A key we do not have, and ours under another algorithm: BADKEY.
        let stranger = TSIGKey(name: try DNSName(text: "stranger."), algorithm: .hmacSHA256, secret: [1])
        let unknown = try #require(refusal(Self.keyring.verify(request: stranger.sign(request: Self.query(), now: Self.now).message, now: Self.now)))
        #expect(unknown.failure == .unknownKey(stranger.name) && unknown.failure.rcode == .badKey)
        #expect(try TSIGRecord.parse(unknown.reply(now: Self.now))?.record.error == .badKey)
        let otherAlgorithm = TSIGKey(name: Self.key.name, algorithm: .hmacSHA384, secret: Self.key.secret)
        let wrongAlgorithm = try #require(refusal(Self.keyring.verify(request: otherAlgorithm.sign(request: Self.query(), now: Self.now).message, now: Self.now)))
        #expect(wrongAlgorithm.failure.rcode == .badKey)
        // The right name with another secret: BADSIG.
        let wrongSecret = TSIGKey(name: Self.key.name, algorithm: .hmacSHA256, secret: Array(1..<33))
        #expect(refusal(Self.keyring.verify(request: wrongSecret.sign(request: Self.query(), now: Self.now).message, now: Self.now))?.failure == .badSignature)

        // A MAC cut to 16 octets (and its size with it): BADTRUNC.
        let (cut, cutStart) = try #require(try TSIGRecord.parse(request))
        var truncated = TSIGRecord.removing(from: request, at: cutStart)
        var short = cut
        short.mac = Array(cut.mac.prefix(16))
        short.append(to: &truncated)
        #expect(refusal(Self.keyring.verify(request: truncated, now: Self.now))?.failure == .truncatedMAC(16))

        // A TSIG that is not last: FORMERR, with the request's ID.
        var notLast = request + [0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 192, 0, 2, 1]
        notLast[11] += 1
        let malformed = try #require(refusal(Self.keyring.verify(request: notLast, now: Self.now)))
        #expect(malformed.failure == .malformed(.notLast) && malformed.failure.rcode == .formErr)
        let formErr = try Message(parsing: malformed.reply(now: Self.now))
        #expect(formErr.header.rcodeLow == RCode.formErr.rawValue && formErr.header.id == 0x4242 && formErr.additional.isEmpty)
    }

    /// Outside the fudge either way: BADTIME, answered signed, with the server's time.
    @Test func timeOutsideFudge() throws {
        let (request, mac) = Self.key.sign(request: Self.query(), now: Self.now)
        if case .valid = Self.keyring.verify(request: request, now: Self.now + 300) {} else { Issue.record("300 s is within the fudge") }
        if case .valid = Self.keyring.verify(request: request, now: Self.now - 300) {} else { Issue.record("-300 s is within the fudge") }
        #expect(refusal(Self.keyring.verify(request: request, now: Self.now - 301))?.failure.rcode == .badTime)
        let late = try #require(refusal(Self.keyring.verify(request: request, now: Self.now + 301)))
        #expect(late.failure == .badTime(signed: Self.now, now: Self.now + 301, fudge: 300))
        let reply = late.reply(now: Self.now + 301)
        #expect(try Message(parsing: reply).header.rcodeLow == RCode.notAuth.rawValue)
        let (record, _) = try #require(try TSIGRecord.parse(reply))
        #expect(record.error == .badTime && record.timeSigned == Self.now && record.mac.count == 32)
        #expect(record.otherData == Array(TSIGRecord.timers(timeSigned: Self.now + 301, fudge: 0).prefix(6)))
        // The client learns why, from a reply signed with the key.
        var verifier = TSIGReplyVerifier(key: Self.key, requestMAC: mac)
        #expect(throws: TSIGFailure.peerError(.badTime)) { try verifier.verify(reply, now: Self.now) }
        // And a reply signed too long ago is the client's BADTIME.
        var signer = TSIGSigner(key: Self.key, requestMAC: mac)
        var old = Self.reply(1)
        signer.sign(&old, now: Self.now - 1000)
        #expect(throws: TSIGFailure.badTime(signed: Self.now - 1000, now: Self.now, fudge: 300)) { try verifier.verify(old, now: Self.now) }
    }

    /// The server signs every message (§5.3.1); the client checks the chain,
    /// so a message dropped, repeated or reordered breaks it.
    @Test func transferChain() throws {
        let (_, mac) = Self.key.sign(request: Self.query(), now: Self.now)
        var signer = TSIGSigner(key: Self.key, requestMAC: mac)
        let unsigned = (1...4).map { Self.reply($0 * 10) }
        // Signed in place in a scratch buffer, as serve's transfers are.
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 65535, alignment: 1)
        defer { scratch.deallocate() }
        let signed = unsigned.map { message -> [UInt8] in
            scratch.copyBytes(from: message)
            let length = signer.sign(scratch, length: message.count, now: Self.now)!
            return Array(scratch[0..<length])
        }
        var verifier = TSIGReplyVerifier(key: Self.key, requestMAC: mac)
        for (s, u) in zip(signed, unsigned) { #expect(try verifier.verify(s, now: Self.now) == u) }
        try verifier.finish()

        for broken in [[signed[0], signed[2]], [signed[0], signed[0]], [signed[1]]] {
            var v = TSIGReplyVerifier(key: Self.key, requestMAC: mac)
            #expect(throws: TSIGFailure.badSignature) { for m in broken { _ = try v.verify(m, now: Self.now) } }
        }
        // The first message's MAC binds the request: another request's MAC fails.
        var other = TSIGReplyVerifier(key: Self.key, requestMAC: Array(repeating: 0, count: 32))
        #expect(throws: TSIGFailure.badSignature) { try other.verify(signed[0], now: Self.now) }
        // No room in the buffer: nil, nothing written past it.
        var tight = TSIGSigner(key: Self.key, requestMAC: mac)
        let small = UnsafeMutableRawBufferPointer(rebasing: scratch[0..<(unsigned[0].count + 40)])
        small.copyBytes(from: unsigned[0])
        #expect(tight.sign(small, length: unsigned[0].count, now: Self.now) == nil)
    }

    /// Servers that sign sparsely (NSD signs every 96th and the last): up to
    /// 99 unsigned in a row, each covered by the next signed MAC; the first
    /// and the last must be signed.
    @Test func unsignedIntermediateMessages() throws {
        let (_, mac) = Self.key.sign(request: Self.query(), now: Self.now)
        func sequence(unsignedRun: Int, signLast: Bool = true) -> [[UInt8]] {
            var out: [[UInt8]] = []
            var signer = TSIGSigner(key: Self.key, requestMAC: mac)
            var first = Self.reply(1)
            signer.sign(&first, now: Self.now)
            out.append(first)
            let middle = (0..<unsignedRun).map { _ in Self.reply(2) }
            out += middle
            guard signLast else { return out }
            out.append(Self.sparselySigned(after: middle, last: Self.reply(3), priorMAC: signer.lastMAC!))
            return out
        }
        var verifier = TSIGReplyVerifier(key: Self.key, requestMAC: mac)
        for m in sequence(unsignedRun: 99) { _ = try verifier.verify(m, now: Self.now) }
        try verifier.finish()

        var tooMany = TSIGReplyVerifier(key: Self.key, requestMAC: mac)
        #expect(throws: TSIGFailure.tooManyUnsigned) { for m in sequence(unsignedRun: 100) { _ = try tooMany.verify(m, now: Self.now) } }
        var lastUnsigned = TSIGReplyVerifier(key: Self.key, requestMAC: mac)
        for m in sequence(unsignedRun: 3, signLast: false) { _ = try lastUnsigned.verify(m, now: Self.now) }
        #expect(throws: TSIGFailure.lastUnsigned) { try lastUnsigned.finish() }
        var firstUnsigned = TSIGReplyVerifier(key: Self.key, requestMAC: mac)
        #expect(throws: TSIGFailure.unsigned) { try firstUnsigned.verify(Self.reply(1), now: Self.now) }
        // An unsigned message altered in flight breaks the next MAC.
        var altered = sequence(unsignedRun: 2)
        altered[1][altered[1].count - 1] ^= 1
        var tamper = TSIGReplyVerifier(key: Self.key, requestMAC: mac)
        #expect(throws: TSIGFailure.badSignature) { for m in altered { _ = try tamper.verify(m, now: Self.now) } }
    }

    /// What a sparse signer's MAC covers (RFC 8945 §5.3.1): the prior MAC, the
    /// unsigned messages whole, the signed one, the timers. Built here from
    /// the record and HMAC alone, as NSD does, not with our signer's chain.
    static func sparselySigned(after middle: [[UInt8]], last: [UInt8], priorMAC: [UInt8]) -> [UInt8] {
        var record = TSIGRecord(keyName: key.name, algorithm: key.algorithm.name, timeSigned: now, fudge: 300, mac: [],
                                originalID: last.bigEndianUInt16(at: 0))
        let digested = [UInt8(priorMAC.count >> 8), UInt8(priorMAC.count & 0xFF)] + priorMAC + middle.flatMap { $0 } + last + record.timers
        record.mac = Array(HMAC<SHA256>.authenticationCode(for: digested, using: SymmetricKey(data: key.secret)))
        var signed = last
        record.append(to: &signed)
        return signed
    }
}
