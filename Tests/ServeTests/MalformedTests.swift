import DNSWire
import Foundation
import Testing
import TestSupport

/// Raw packets, each built by hand to break one rule, sent over UDP to a
/// running server: each must get its specified reaction, and the server
/// must go on answering normally.
@Suite("serve reacts to malformed packets")
struct MalformedTests {
    enum Reaction: CustomStringConvertible {
        case drop
        /// An error reply: its rcode, whether the question is echoed, whether OPT is present.
        case reply(RCode, question: Bool, opt: Bool)

        var description: String {
            switch self {
            case .drop: return "dropped"
            case .reply(let rcode, let question, let opt): return "\(rcode) question=\(question) opt=\(opt)"
            }
        }
    }

    static let id: [UInt8] = [0x12, 0x34]

    /// Header with ID 0x1234, then the given flags and counts.
    static func header(flags: UInt16 = 0, qd: UInt16 = 1, an: UInt16 = 0, ns: UInt16 = 0, ar: UInt16 = 0) -> [UInt8] {
        id + [flags, qd, an, ns, ar].flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
    }

    /// `com. IN A` as a question.
    static let question: [UInt8] = [3, 0x63, 0x6F, 0x6D, 0, 0, 1, 0, 1]
    /// A well-formed OPT: root owner, type 41, payload 1232, version 0, no options.
    static func opt(payload: UInt16 = 1232, version: UInt8 = 0, rdata: [UInt8] = []) -> [UInt8] {
        [0, 0, 41, UInt8(payload >> 8), UInt8(payload & 0xFF), 0, version, 0, 0, UInt8(rdata.count >> 8), UInt8(rdata.count & 0xFF)] + rdata
    }

    static let cases: [(String, [UInt8], Reaction)] = {
        let longLabel: [UInt8] = [64] + [UInt8](repeating: 0x61, count: 64) + [0]
        let label63: [UInt8] = [63] + [UInt8](repeating: 0x62, count: 63)
        let longName: [UInt8] = label63 + label63 + label63 + label63 + label63 + [0]
        var cases: [(String, [UInt8], Reaction)] = [
            ("empty datagram", [], .drop),
            ("shorter than a header", [0x12, 0x34, 0, 0, 0], .drop),
            ("11 bytes", Array(header().prefix(11)), .drop),
            ("a response (QR set)", header(flags: 0x8000) + question, .drop),
            ("header only, QDCOUNT 1", header(), .reply(.formErr, question: false, opt: false)),
            ("truncated name", header() + [3, 0x63, 0x6F], .reply(.formErr, question: false, opt: false)),
            ("name without its terminating label", header() + [3, 0x63, 0x6F, 0x6D], .reply(.formErr, question: false, opt: false)),
            ("question without type and class", header() + [3, 0x63, 0x6F, 0x6D, 0, 0, 1], .reply(.formErr, question: false, opt: false)),
            ("compression pointer in the question", header() + [0xC0, 0x0C, 0, 1, 0, 1], .reply(.formErr, question: false, opt: false)),
            ("label longer than 63", header() + longLabel + [0, 1, 0, 1], .reply(.formErr, question: false, opt: false)),
            ("name longer than 255", header() + longName + [0, 1, 0, 1], .reply(.formErr, question: false, opt: false)),
            ("reserved label type 0x80", header() + [0x80, 0x61, 0, 0, 1, 0, 1], .reply(.formErr, question: false, opt: false)),
            ("QDCOUNT 0", header(qd: 0), .reply(.formErr, question: false, opt: false)),
            ("QDCOUNT 0 with OPT", header(qd: 0, ar: 1) + opt(), .reply(.formErr, question: false, opt: true)),
            ("QDCOUNT 2", header(qd: 2) + question + question, .reply(.formErr, question: false, opt: false)),
            ("ANCOUNT 1, no record", header(an: 1) + question, .reply(.formErr, question: true, opt: false)),
            ("ARCOUNT 2, one OPT", header(ar: 2) + question + opt(), .reply(.formErr, question: true, opt: true)),
            ("pointer loop in a record's owner",
             header(an: 1) + question + [0xC0, 21] + [0, 1, 0, 1, 0, 0, 0, 0, 0, 0], .reply(.formErr, question: true, opt: false)),
            ("forward pointer in a record's owner",
             header(an: 1) + question + [0xC0, 40] + [0, 1, 0, 1, 0, 0, 0, 0, 0, 0], .reply(.formErr, question: true, opt: false)),
            ("record rdata past the end", header(an: 1) + question + [0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 9, 1, 2], .reply(.formErr, question: true, opt: false)),
            ("trailing bytes", header() + question + [0xDE, 0xAD], .reply(.formErr, question: true, opt: false)),
            ("two OPT records", header(ar: 2) + question + opt() + opt(), .reply(.formErr, question: true, opt: true)),
            ("OPT owned by a name other than the root", header(ar: 1) + question + [1, 0x61, 0] + Array(opt().dropFirst()),
             .reply(.formErr, question: true, opt: false)),
            ("OPT in the answer section", header(an: 1) + question + opt(), .reply(.formErr, question: true, opt: false)),
            ("OPT option running past its rdata", header(ar: 1) + question + opt(rdata: [0, 10, 0, 8, 1, 2]),
             .reply(.formErr, question: true, opt: false)),
            ("OPT option header cut short", header(ar: 1) + question + opt(rdata: [0, 10, 0]), .reply(.formErr, question: true, opt: false)),
            ("EDNS version 1", header(ar: 1) + question + opt(version: 1), .reply(.badVers, question: true, opt: true)),
            // NOTIFY is implemented (RFC 1996): refused from anyone but a primary this server follows.
            ("opcode NOTIFY", header(flags: 4 << 11) + question, .reply(.refused, question: true, opt: false)),
            ("opcode UPDATE with EDNS", header(flags: 5 << 11, ar: 1) + question + opt(), .reply(.notImp, question: true, opt: true)),
            ("opcode DSO, QDCOUNT 0 (RFC 8490 §5.1)", header(flags: 6 << 11, qd: 0), .reply(.notImp, question: false, opt: false)),
            ("class HS", header() + [3, 0x63, 0x6F, 0x6D, 0, 0, 1, 0, 4], .reply(.refused, question: true, opt: false)),
            ("AXFR over UDP", header() + [0, 0, 252, 0, 1], .reply(.refused, question: true, opt: false)),
            ("unknown EDNS option is ignored", header(ar: 1) + question + opt(rdata: [0xFD, 0xE9, 0, 2, 7, 7]),
             .reply(.noError, question: true, opt: true)),
            ("EDNS payload below 512 is treated as 512", header(ar: 1) + question + opt(payload: 100), .reply(.noError, question: true, opt: true)),
        ]
        // A maximal but valid name (255 bytes) is answered, not refused as malformed.
        let c63: [UInt8] = [63] + [UInt8](repeating: 0x63, count: 63)
        let maxName: [UInt8] = c63 + c63 + c63 + [61] + [UInt8](repeating: 0x63, count: 61) + [0]
        cases.append(("a 255-byte name", header() + maxName + [0, 1, 0, 1], .reply(.nxDomain, question: true, opt: false)))
        return cases
    }()

    @Test("each malformed packet gets its reaction, and normal queries are answered after each")
    func malformedPackets() throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let server = try RootmirrorServer(data: CompiledData.root2023, directory: dir)
        defer { server.stop() }
        let client = try UDPClient(server.endpoint)
        var probeID: UInt16 = 0x4000
        for (name, packet, reaction) in Self.cases {
            client.send(packet)
            // The probe goes to the same socket right behind the packet; the
            // server answers a socket's packets in order, so a reply to the
            // bad packet would arrive first. No waiting for a silence needed.
            probeID += 1
            let probe = makeQuery("org", .ns, id: probeID)
            client.send(probe)
            let first = try #require(client.receive(), "\(name): no reply at all")
            switch reaction {
            case .drop:
                #expect(first[0] == probe[0] && first[1] == probe[1], "\(name): expected no reply, got \(first)")
            case .reply(let rcode, let question, let opt):
                #expect(first[0] == 0x12 && first[1] == 0x34, "\(name): first reply is not to the packet")
                if first[0] == 0x12 {
                    let message = try Message(parsing: first)
                    #expect(message.header.isResponse, "\(name)")
                    #expect(message.rcode == rcode, "\(name): \(message.rcode), expected \(rcode)")
                    #expect(message.questions.count == (question ? 1 : 0), "\(name): question count \(message.questions.count)")
                    #expect((message.edns != nil) == opt, "\(name): OPT \(message.edns != nil)")
                    #expect(message.edns.map { $0.udpPayloadSize == 1232 } ?? true, "\(name)")
                    // Then the probe's reply.
                    let second = try #require(client.receive(), "\(name): probe unanswered")
                    #expect(second[0] == probe[0] && second[1] == probe[1], "\(name)")
                }
            }
        }
        // And a normal query after all of that.
        let reply = try Message(parsing: try #require(client.exchange(makeQuery("com", .ns, edns: EDNS(udpPayloadSize: 1232)))))
        #expect(reply.rcode == .noError && reply.authority.count == 13 && reply.edns != nil)
    }

    @Test("malformed frames over TCP get the same reactions, on the same connection")
    func malformedOverTCP() throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let server = try RootmirrorServer(data: CompiledData.root2023, directory: dir)
        defer { server.stop() }
        let tcp = try TCPClient(server.endpoint)
        var probeID: UInt16 = 0x5000
        for (name, packet, reaction) in Self.cases {
            probeID += 1
            let probe = makeQuery("org", .ns, id: probeID)
            tcp.write(TCPClient.framed(packet) + TCPClient.framed(probe))
            let first = try #require(tcp.readFrame(), "\(name): connection closed")
            switch reaction {
            case .drop:
                #expect(first[0] == probe[0] && first[1] == probe[1], "\(name): expected no reply")
            case .reply(let rcode, _, _):
                let message = try Message(parsing: first)
                #expect(message.header.id == 0x1234 && message.rcode == rcode, "\(name): \(message.rcode)")
                let second = try #require(tcp.readFrame(), "\(name): probe unanswered")
                #expect(second[0] == probe[0] && second[1] == probe[1], "\(name)")
            }
        }
    }
}
