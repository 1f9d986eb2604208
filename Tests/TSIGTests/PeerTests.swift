import Addressing
import DNSWire
import Foundation
import Testing
import TestSupport
import TSIG

/// Our TSIG against implementations that are not ours: Debian's dnspython
/// both ways (requests, NOTIFY, a transfer's chain), and transfers from a
/// real Knot and NSD, which both sign every message.
@Suite(.serialized) struct PeerTests {
    static let secret = Array("a secret shared with the peers, 32".utf8)

    /// dnspython's half of each exchange; wire format as hex on stdin and stdout.
    static let python = #"""
        import sys, binascii, dns.message, dns.tsig, dns.opcode
        mode, name, secret, algorithm = sys.argv[1:5]
        key = dns.tsig.Key(name, secret, algorithm)
        keyring = {key.name: key}
        hexed = lambda b: binascii.hexlify(b).decode()
        lines = [binascii.unhexlify(l.strip()) for l in sys.stdin if l.strip()]
        if mode == "answer":
            q = dns.message.from_wire(lines[0], keyring=keyring)
            print(dns.opcode.to_text(q.opcode()), hexed(dns.message.make_response(q).to_wire()))
        elif mode == "ask":
            q = dns.message.make_query("example.", "SOA")
            q.use_tsig(keyring, keyname=key.name, algorithm=key.algorithm)
            print(hexed(q.to_wire()), hexed(q.mac))
        elif mode == "check":
            r = dns.message.from_wire(lines[1], keyring=keyring, request_mac=lines[0])
            print("verified", r.id)
        elif mode == "transfer":
            ctx = None
            for wire in lines[1:]:
                m = dns.message.from_wire(wire, keyring=keyring, request_mac=lines[0], xfr=True, tsig_ctx=ctx, multi=True)
                ctx = m.tsig_ctx
            print("verified", len(lines) - 1)
        elif mode == "sparse":
            ctx, out = None, []
            for i, wire in enumerate(lines[1:]):
                if 0 < i < len(lines) - 2:
                    ctx.update(wire)
                    out.append(hexed(wire))
                    continue
                m = dns.message.from_wire(wire)
                m.use_tsig(keyring, keyname=key.name, algorithm=key.algorithm)
                m.request_mac = lines[0]
                out.append(hexed(m.to_wire(multi=True, tsig_ctx=ctx)))
                ctx = m.tsig_ctx
            print(" ".join(out))
        """#

    func python(_ dir: Scratch, _ mode: String, _ key: TSIGKey, _ input: [[UInt8]] = []) throws -> [String] {
        let script = dir.write("tsig.py", Array(Self.python.utf8))
        let text = input.map { Codecs.hexEncode($0, uppercase: false) + "\n" }.joined()
        let result = try run("/usr/bin/python3", [script, mode, key.name.description, Codecs.base64Encode(key.secret), key.algorithm.rawValue],
                             input: Array(text.utf8))
        guard result.status == 0 else { throw TestFailure("dnspython \(mode): \(result.stderr)") }
        return result.output.split(separator: " ").map { String($0).trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    func bytes(_ hex: String) throws -> [UInt8] { try #require(Codecs.hexDecode(Array(hex.utf8))) }

    /// Our request (a NOTIFY, as serve sends) verified by dnspython, its signed reply verified by us.
    @Test(arguments: TSIGAlgorithm.allCases)
    func ourNotifyDnspythonAnswers(algorithm: TSIGAlgorithm) throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let key = TSIGKey(name: try DNSName(text: "notify.example."), algorithm: algorithm, secret: Self.secret)
        var notify = Message(header: MessageHeader(id: 0x7777, flags: 4 << 11 | MessageHeader.aaBit))
        notify.questions = [Question(name: try DNSName(text: "example."), type: .soa)]
        let (request, mac) = key.sign(request: notify.encoded())
        let answer = try python(dir, "answer", key, [request])
        #expect(answer.first == "NOTIFY")
        var verifier = TSIGReplyVerifier(key: key, requestMAC: mac)
        let reply = try Message(parsing: try verifier.verify(try bytes(answer[1])))
        try verifier.finish()
        #expect(reply.header.isResponse && reply.header.opcode == 4 && reply.header.id == 0x7777)
        // Not ours to accept with another secret.
        var wrong = TSIGReplyVerifier(key: TSIGKey(name: key.name, algorithm: algorithm, secret: [1]), requestMAC: mac)
        #expect(throws: TSIGFailure.badSignature) { try wrong.verify(try bytes(answer[1])) }
    }

    /// dnspython's signed query verified by our server side, our signed reply verified by dnspython.
    @Test(arguments: TSIGAlgorithm.allCases)
    func dnspythonAsksWeAnswer(algorithm: TSIGAlgorithm) throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let key = TSIGKey(name: try DNSName(text: "xfr.example."), algorithm: algorithm, secret: Self.secret)
        let asked = try python(dir, "ask", key)
        let query = try bytes(asked[0])
        guard case .valid(let found, let requestMAC) = TSIGKeyring([key]).verify(request: query) else {
            Issue.record("dnspython's signed query is not valid to us")
            return
        }
        #expect(requestMAC == (try bytes(asked[1])))
        let (record, start) = try #require(try TSIGRecord.parse(query))
        var reply = TSIGRecord.removing(from: query, at: start)
        reply[2] |= 0x84  // QR, AA
        var signer = TSIGSigner(key: found, requestMAC: record.mac)
        signer.sign(&reply)
        #expect(try python(dir, "check", key, [record.mac, reply]).first == "verified")
        // A reply altered after signing is refused by dnspython too.
        reply[3] ^= 0x01
        #expect(throws: TestFailure.self) { try python(dir, "check", key, [record.mac, reply]) }
    }

    /// Our transfer signer's chain, as dnspython's xfr reader verifies it.
    @Test func dnspythonVerifiesOurTransferChain() throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let key = TSIGKey(name: try DNSName(text: "xfr.example."), algorithm: .hmacSHA256, secret: Self.secret)
        let (_, mac) = key.sign(request: SigningTests.query())
        var signer = TSIGSigner(key: key, requestMAC: mac)
        let messages = (1...5).map { n -> [UInt8] in
            var m = SigningTests.reply(n * 7)
            signer.sign(&m)
            return m
        }
        #expect(try python(dir, "transfer", key, [mac] + messages) == ["verified", "5"])
        #expect(throws: TestFailure.self) { try python(dir, "transfer", key, [mac, messages[0], messages[2]]) }
    }

    /// A transfer signed sparsely by dnspython (first and last message, as
    /// RFC 2845 allowed and older NSD did): our verifier takes the unsigned
    /// messages in between, covered by the last MAC.
    @Test func sparseTransferFromDnspython() throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let key = TSIGKey(name: try DNSName(text: "xfr.example."), algorithm: .hmacSHA384, secret: Self.secret)
        let (_, mac) = key.sign(request: SigningTests.query())
        let signed = try python(dir, "sparse", key, [mac] + (1...5).map { SigningTests.reply($0 * 3) }).map(bytes)
        #expect(signed.map { (try? TSIGRecord.parse($0)) != nil } == [true, false, false, false, true])
        var verifier = TSIGReplyVerifier(key: key, requestMAC: mac)
        for message in signed { _ = try verifier.verify(message) }
        try verifier.finish()
        // An unsigned message changed in flight: the last MAC no longer matches.
        var altered = signed
        altered[2][altered[2].count - 1] ^= 1
        var tampered = TSIGReplyVerifier(key: key, requestMAC: mac)
        #expect(throws: TSIGFailure.badSignature) { for message in altered { _ = try tampered.verify(message) } }
    }

    /// A zone big enough for a transfer of many messages.
    static func zone(records: Int) -> String {
        var text = "$ORIGIN example.\n$TTL 3600\n@ SOA ns.example. admin.example. 2026120701 7200 3600 1209600 3600\n@ NS ns\nns A 192.0.2.53\n"
        for i in 0..<records { text += "host\(i) A 10.\(i >> 16 & 255).\(i >> 8 & 255).\(i & 255)\n" }
        return text
    }

    /// AXFR of `example.` from `server`, signed with `key`: each message
    /// through the verifier, what came, and how many were unsigned.
    func transfer(from server: Endpoint, key: TSIGKey) -> (records: Int, messages: Int, unsigned: Int, failure: String?) {
        let query = Message.query(id: 0x5151, question: Question(name: try! DNSName(text: "example."), type: .axfr)).encoded()
        let (request, mac) = key.sign(request: query)
        var verifier = TSIGReplyVerifier(key: key, requestMAC: mac)
        var records = 0, messages = 0, unsigned = 0, soas = 0
        var failure: String?
        let endpoint = try! IPEndpoint(parsing: server.description, defaultPort: 53)
        let result = DNSExchange.overTCP(request, to: endpoint, deadline: DNSExchange.monotonicMilliseconds() + 20_000,
                                         maximumBytes: 1 << 26) { message in
            messages += 1
            if (try? TSIGRecord.parse(message)) == nil { unsigned += 1 }  // a malformed one fails below
            do {
                let parsed = try Message(parsing: try verifier.verify(message))
                records += parsed.answers.count
                soas += parsed.answers.filter { $0.type == .soa }.count
                return soas < 2 && parsed.rcode == .noError
            } catch {
                failure = "\(error)"
                return false
            }
        }
        if case .failure(let error) = result { failure = failure ?? error.description }
        if failure == nil {
            do { try verifier.finish() } catch { failure = "\(error)" }
        }
        return (records, messages, unsigned, failure)
    }

    @Test func transferFromKnot() throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let generated = try run("/usr/sbin/tsig-keygen", ["-a", "hmac-sha256", "knot-xfr."])
        let keyFile = dir.write("knot.key", generated.stdout)
        chmod(keyFile, 0o600)
        let key = try #require(try TSIGKeyring(readingFiles: [keyFile]).keys.first)
        let zone = dir.write("example.zone", Array(Self.zone(records: 20_000).utf8))
        let endpoint = Endpoint.random()
        try """
            server:
                rundir: \(dir.path)
                pidfile: \(dir.path)/knot.pid
                listen: \(endpoint.host)@\(endpoint.port)
                udp-workers: 1
                tcp-workers: 1
                background-workers: 1
            database:
                storage: \(dir.path)
            log:
              - target: stderr
                any: warning
            key:
              - id: \(key.name)
                algorithm: \(key.algorithm.rawValue)
                secret: \(Codecs.base64Encode(key.secret))
            acl:
              - id: signed
                address: 127.0.0.0/8
                key: \(key.name)
                action: transfer
            zone:
              - domain: example.
                file: \(zone)
                zonefile-load: whole
                journal-content: none
                acl: signed

            """.write(toFile: dir.file("knot.conf"), atomically: true, encoding: .utf8)
        let knot = try Daemon(name: "knotd", executable: "/usr/sbin/knotd", arguments: ["-c", dir.file("knot.conf")], logPath: dir.file("knot.log"))
        defer { knot.stop() }
        #expect(knot.wait(until: { (try? digShort(endpoint, "example.", "SOA"))?.isEmpty == false }), "\(knot.log)")

        let good = transfer(from: endpoint, key: key)
        #expect(good.failure == nil, "\(knot.log)")
        #expect(good.records == 20_000 + 4 && good.messages > 1 && good.unsigned == 0)

        let wrong = transfer(from: endpoint, key: TSIGKey(name: key.name, algorithm: key.algorithm, secret: [1, 2, 3]))
        #expect(wrong.failure == TSIGFailure.peerError(.badSig).description && wrong.records == 0)

        // A clock 1000 s behind: Knot's BADTIME reply has the shape ours has
        // (NOTAUTH, signed, timed as the request, its own time in other data).
        let signedAt = tsigNow() - 1000
        let (skewed, mac) = key.sign(request: Message.query(id: 9, question: Question(name: try DNSName(text: "example."), type: .axfr)).encoded(),
                                     now: signedAt)
        let reply = try DNSExchange.overTCP(skewed, to: try IPEndpoint(parsing: endpoint.description, defaultPort: 53),
                                            deadline: DNSExchange.monotonicMilliseconds() + 5000).get()
        let (record, _) = try #require(try TSIGRecord.parse(reply))
        #expect(try Message(parsing: reply).header.rcodeLow == RCode.notAuth.rawValue)
        #expect(record.error == .badTime && record.timeSigned == signedAt && record.mac.count == 32 && record.otherData.count == 6, "\(record)")
        let knotTime = UInt64(record.otherData.bigEndianUInt16(at: 0)) << 32 | UInt64(record.otherData.bigEndianUInt32(at: 2))
        #expect(knotTime >= signedAt + 1000 && knotTime <= tsigNow())
        var verifier = TSIGReplyVerifier(key: key, requestMAC: mac)
        #expect(throws: TSIGFailure.peerError(.badTime)) { try verifier.verify(reply) }
    }

    @Test func transferFromNSD() throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let key = TSIGKey(name: try DNSName(text: "nsd-xfr."), algorithm: .hmacSHA512, secret: Self.secret)
        let zone = dir.write("example.zone", Array(Self.zone(records: 60_000).utf8))
        let endpoint = Endpoint.random()
        // NSD's key clause rides on the zone options: the clauses may come in any order.
        let nsd = try startNSD(zones: [("example.", zone)], listen: ["\(endpoint.host)@\(endpoint.port)"], in: dir, zoneOptions: [
            "provide-xfr: 127.0.0.0/8 \(key.name)\nkey:\n    name: \"\(key.name)\"\n    algorithm: \(key.algorithm.rawValue)\n"
                + "    secret: \"\(Codecs.base64Encode(key.secret))\"",
        ])
        defer { nsd.stop() }
        #expect(nsd.wait(until: { (try? digShort(endpoint, "example.", "SOA"))?.isEmpty == false }), "\(nsd.log)")

        let good = transfer(from: endpoint, key: key)
        #expect(good.failure == nil, "\(nsd.log)")
        // NSD 4.6 signs every message (it signed every 96th before RFC 8945).
        #expect(good.records == 60_000 + 4 && good.messages > 1 && good.unsigned == 0)

        let wrong = transfer(from: endpoint, key: TSIGKey(name: try DNSName(text: "unknown."), algorithm: .hmacSHA512, secret: Self.secret))
        #expect(wrong.failure != nil && wrong.records == 0)
    }
}
