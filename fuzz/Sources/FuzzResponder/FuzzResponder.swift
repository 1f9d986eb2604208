import Answering
import DNSWire
import FuzzSupport
import ZoneFile

/// A packet in, a reply out, over UDP and TCP, from a small root-shaped zone
/// with every kind of answer: apex data, referrals with in-domain and sibling
/// glue (enough for TC without EDNS), DS at a cut, NXDOMAIN, NODATA. Checked:
/// never larger than the transport's limit, the ID and the question echoed
/// byte for byte, and a reply that DNSWire's own full parser reads back.
nonisolated(unsafe) let zone: ZoneIndex = {
    var text = """
        . 86400 IN SOA a.root-servers.net. nstld.verisign-grs.com. 2023051100 1800 900 604800 86400
        . 518400 IN NS a.root-servers.net.
        a.root-servers.net. 518400 IN A 198.41.0.4
        a.root-servers.net. 518400 IN AAAA 2001:503:ba3e::2:30
        com. 86400 IN DS 30909 8 2 E2D3C916F6DEEAC73294E8268FB5885044A833FC5459588F4A9184CFC41A5766
        uk. 172800 IN NS nsa.nic.uk.
        nsa.nic.uk. 172800 IN A 156.154.100.3
        nsa.nic.uk. 172800 IN AAAA 2001:502:ad09::3
        version.bind. 60 IN TXT "not chaos"

        """
    for letter in "abcdefghijklm" {
        text += "net. 172800 IN NS \(letter).gtld-servers.net.\ncom. 172800 IN NS \(letter).gtld-servers.net.\n"
        text += "\(letter).gtld-servers.net. 172800 IN A 192.5.6.30\n\(letter).gtld-servers.net. 172800 IN AAAA 2001:503:a83e::2:30\n"
    }
    let parsed = try! ZoneParser.parse(Array(text.utf8), file: "fuzz", options: .init(keepDNSSEC: true))
    return try! ZoneIndex(records: Array(parsed.records))
}()

nonisolated(unsafe) let responder = Responder(chaos: ChaosIdentity(version: "rootmirror", identity: "fuzz"))
nonisolated(unsafe) let out = UnsafeMutableRawBufferPointer.allocate(byteCount: Responder.maximumReplySize, alignment: 16)

/// The end of the first question: the name's labels (never compressed in
/// an echoed question), then type and class. Nil if the packet has none.
func questionEnd(_ bytes: UnsafeRawBufferPointer) -> Int? {
    guard bytes.count >= 12, bytes[4] == 0, bytes[5] == 1 else { return nil }
    var at = 12
    while at < bytes.count, bytes[at] != 0 {
        guard bytes[at] < 64 else { return nil }
        at += Int(bytes[at]) + 1
    }
    return at + 5 <= bytes.count ? at + 5 : nil
}

/// The UDP payload size of the query's first OPT record, found by walking
/// every record as it is on the wire (not DNSWire's parser, which refuses
/// a query with two OPTs: the responder answers that FORMERR with an OPT).
func firstOPTPayload(_ bytes: UnsafeRawBufferPointer) -> Int? {
    guard bytes.count >= 12 else { return nil }
    func count(_ at: Int) -> Int { Int(bytes[at]) << 8 | Int(bytes[at + 1]) }
    var at = 12
    func skipName() -> Bool {
        while at < bytes.count {
            let length = Int(bytes[at])
            if length == 0 { at += 1; return true }
            if length >= 0xC0 { at += 2; return at <= bytes.count }
            at += length + 1
        }
        return false
    }
    for _ in 0..<count(4) {
        guard skipName(), at + 4 <= bytes.count else { return nil }
        at += 4
    }
    let answers = count(6) + count(8)
    for index in 0..<(answers + count(10)) {
        guard skipName(), at + 10 <= bytes.count else { return nil }
        if index >= answers && count(at) == 41 { return count(at + 2) }
        at += 10 + count(at + 8)
    }
    return nil
}

@_cdecl("LLVMFuzzerTestOneInput")
func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let packet = input(data, size)
    for transport in [Transport.udp, .tcp] {
        let reply = responder.respond(to: packet, zone: zone, transport: transport, into: out)
        guard reply.length > 0 else { continue }
        let bytes = UnsafeRawBufferPointer(rebasing: out[0..<reply.length])
        let parsed: Message
        do {
            parsed = try Message(parsing: Array(bytes))
        } catch {
            fatalError("reply does not parse (\(error)): \(Array(bytes))")
        }
        var limit = 512
        if transport == .tcp {
            limit = Responder.maximumReplySize
        } else if parsed.edns != nil {
            // An OPT in the reply only answers an OPT in the query, whose payload caps the reply.
            guard let asked = firstOPTPayload(packet) else {
                fatalError("OPT in a reply to a query without one: \(Array(packet))")
            }
            limit = max(512, min(asked, responder.maximumUDPPayload))
        }
        precondition(reply.length <= limit, "\(transport) reply of \(reply.length) bytes, limit \(limit): \(Array(packet))")
        precondition(bytes[0] == packet[0] && bytes[1] == packet[1], "ID not echoed: \(Array(packet))")
        if let end = questionEnd(bytes) {
            precondition(questionEnd(packet) == end && bytes[12..<end].elementsEqual(packet[12..<end]),
                         "question not echoed byte for byte: \(Array(packet))")
        }
    }
    return 0
}

@_cdecl("FuzzResponder_main")
func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv, fuzz)
}
