import Testing
@testable import DNSWire

@Suite struct MessageTests {
    func record(_ owner: String, _ type: RRType, _ ttl: UInt32, _ rdata: [UInt8]) throws -> ResourceRecord {
        ResourceRecord(owner: try DNSName(text: owner), type: type, ttl: ttl, rdata: rdata)
    }

    @Test func encodeParseRoundTripCompresses() throws {
        var m = Message(header: MessageHeader(id: 0x1234, flags: MessageHeader.qrBit | MessageHeader.aaBit))
        m.questions = [Question(name: try DNSName(text: "example.com."), type: .ns)]
        let target = try DNSName(text: "ns1.example.com.")
        m.answers = [try record("example.com.", .ns, 3600, target.wire)]
        m.additional = [try record("ns1.example.com.", .a, 3600, [192, 0, 2, 1])]
        m.edns = EDNS(udpPayloadSize: 1232, dnssecOK: true)
        let wire = m.encoded()
        let parsed = try Message(parsing: wire)
        #expect(parsed.questions == m.questions && parsed.answers == m.answers && parsed.additional == m.additional)
        #expect(parsed.edns == m.edns && parsed.header.id == 0x1234 && parsed.header.isAuthoritative)
        // Uncompressed the names alone would take 13 + 13 + 17 + 17 bytes.
        #expect(wire.count == 12 + 17 + (2 + 10 + 6) + (2 + 10 + 4) + 11)
    }

    @Test func rejectsPointerLoopsAndForwardPointers() {
        // Question name is a pointer to itself.
        let loop: [UInt8] = [0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 12, 0, 1, 0, 1]
        #expect(throws: MessageError.pointerLoop(at: 12)) { try Message(parsing: loop) }
        let forward: [UInt8] = [0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 14, 0, 0, 1, 0, 1]
        #expect(throws: (any Error).self) { try Message(parsing: forward) }
    }

    @Test func rejectsTruncationAndTrailingBytes() throws {
        let q = Message.query(id: 7, question: Question(name: try DNSName(text: "com."), type: .a)).encoded()
        #expect(throws: MessageError.self) { try Message(parsing: Array(q.dropLast())) }
        #expect(throws: MessageError.trailingBytes(at: q.count)) { try Message(parsing: q + [0]) }
    }

    @Test func rcodeIncludesExtendedBits() throws {
        var m = Message(header: MessageHeader(id: 1, flags: MessageHeader.qrBit))
        m.edns = EDNS(udpPayloadSize: 1232, extendedRCode: 1)
        #expect(try Message(parsing: m.encoded()).rcode == .badVers)
    }

    @Test func presentationOfCommonTypes() throws {
        #expect(try record("a.", .a, 1, [192, 0, 2, 1]).rdataText == "192.0.2.1")
        #expect(try record("a.", .aaaa, 1, [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [1]).rdataText == "2001:db8::1")
        #expect(try record("a.", .ds, 1, [0x78, 0xBD, 8, 2, 0xAB, 0xCD]).rdataText == "30909 8 2 ABCD")
        #expect(try record("a.", .txt, 1, [5] + Array("a \"b\"".utf8)).rdataText == "\"a \\\"b\\\"\"")
        #expect(try record("a.", RRType(65), 1, [1, 2, 3]).rdataText == "\\# 3 010203")
        #expect(try record("a.", .a, 1, [1, 2, 3]).rdataText == "\\# 3 010203")
    }
}

@Suite struct QueryParserTests {
    func parse(_ bytes: [UInt8]) -> QueryParseResult {
        bytes.withUnsafeBytes { QueryParser.parse($0) }
    }

    func query(_ name: String = "www.example.com.", edns: EDNS? = nil, flags: UInt16 = 0) throws -> [UInt8] {
        var m = Message.query(id: 0xBEEF, question: Question(name: try DNSName(text: name), type: .aaaa), edns: edns)
        m.header.flags = flags
        return m.encoded()
    }

    @Test func locatesTheQuestion() throws {
        guard case .query(let q) = parse(try query(edns: EDNS(udpPayloadSize: 4096, dnssecOK: true))) else {
            Issue.record("not parsed as a query")
            return
        }
        #expect(q.id == 0xBEEF)
        #expect(q.qnameEnd == 12 + 17)
        #expect(q.qtype == .aaaa)
        #expect(q.qclass == .in)
        #expect(q.edns?.udpPayloadSize == 4096)
        #expect(q.edns?.dnssecOK == true)
    }

    @Test func dropsShortPacketsAndResponses() throws {
        guard case .drop = parse([0, 1, 0, 0, 0]) else { Issue.record("short packet not dropped"); return }
        guard case .drop = parse(try query(flags: MessageHeader.qrBit)) else { Issue.record("response not dropped"); return }
    }

    @Test func formErrNotImpAndBadVers() throws {
        var two = try query()
        two[5] = 2
        guard case .error(.formErr, _, _, nil, _) = parse(two) else { Issue.record("QDCOUNT 2"); return }
        guard case .error(.notImp, _, _, .some, _) = parse(try query(flags: 2 << 11)) else { Issue.record("opcode 2"); return }
        guard case .error(.badVers, _, _, _, .some) = parse(try query(edns: EDNS(udpPayloadSize: 1232, version: 1))) else {
            Issue.record("EDNS version 1"); return
        }
        // Two OPT records.
        var m = Message.query(id: 1, question: Question(name: .root, type: .ns), edns: EDNS(udpPayloadSize: 1232))
        m.additional = []
        var wire = m.encoded()
        wire += wire.suffix(11)
        wire[11] = 2
        guard case .error(.formErr, _, _, _, _) = parse(wire) else { Issue.record("two OPTs"); return }
        // An OPT whose option overruns its rdata.
        var bad = try query(edns: EDNS(udpPayloadSize: 1232, options: [0, 10, 0, 9, 1]))
        bad[bad.count - 5] = 0
        guard case .error(.formErr, _, _, _, _) = parse(bad) else { Issue.record("garbage OPT"); return }
        // Name runs off the end; label longer than 63.
        guard case .error(.formErr, _, _, nil, _) = parse(Array(try query().prefix(20))) else { Issue.record("truncated name"); return }
        var long = try query()
        long[12] = 64
        guard case .error(.formErr, _, _, nil, _) = parse(long) else { Issue.record("label > 63"); return }
    }

    @Test func ignoresUnknownOptions() throws {
        guard case .query(let q) = parse(try query(edns: EDNS(udpPayloadSize: 1232, options: [0xFD, 0xE9, 0, 2, 1, 2]))) else {
            Issue.record("unknown option refused"); return
        }
        #expect(q.edns != nil)
    }
}

@Suite struct CodecTests {
    @Test func base64Vectors() {
        // RFC 4648 §10.
        for (plain, encoded) in [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy")] {
            #expect(Codecs.base64Encode(Array(plain.utf8)) == encoded)
            #expect(Codecs.base64Decode(Array(encoded.utf8)) == Array(plain.utf8))
        }
        #expect(Codecs.base64Decode(Array("Zm9v!".utf8)) == nil)
        #expect(Codecs.base64Decode(Array("Zg==Zg".utf8)) == nil)
    }

    @Test func base32HexAndHexVectors() {
        for (plain, encoded) in [("f", "CO"), ("fo", "CPNG"), ("foobar", "CPNMUOJ1E8")] {
            #expect(Codecs.base32HexEncode(Array(plain.utf8)) == encoded)
            #expect(Codecs.base32HexDecode(Array(encoded.utf8)) == Array(plain.utf8))
        }
        #expect(Codecs.hexDecode(Array("0aFf".utf8)) == [0x0A, 0xFF])
        #expect(Codecs.hexDecode(Array("abc".utf8)) == nil)
    }

    @Test func signatureTimes() {
        // 2023-05-11 04:00:00 UTC, an inception time in root-2023051100.
        #expect(Codecs.epochSeconds(year: 2023, month: 5, day: 11, hour: 4, minute: 0, second: 0) == 1_683_777_600)
        #expect(Codecs.civilTimestamp(epochSeconds: 1_683_777_600) == "20230511040000")
        #expect(Codecs.civilTimestamp(epochSeconds: 951_782_400) == "20000229000000")
    }

    @Test func typeBitmapRoundTrip() {
        let types: [RRType] = [.ns, .soa, .rrsig, .nsec, .dnskey, .zonemd, RRType(257)]
        let bitmap = Codecs.typeBitmap(types)
        #expect(Codecs.types(inBitmap: bitmap[...]) == types)
        // "NS SOA RRSIG NSEC DNSKEY" at the root: window 0, 7 octets.
        #expect(Array(Codecs.typeBitmap([.ns, .soa, .rrsig, .nsec, .dnskey]).prefix(2)) == [0, 7])
    }

    @Test func serialArithmetic() {
        #expect(SerialNumber.isNewer(2_026_082_201, than: 2_026_082_200))
        #expect(!SerialNumber.isNewer(2_026_082_200, than: 2_026_082_201))
        #expect(SerialNumber.isNewer(1, than: 0xFFFF_FFF0))
        #expect(!SerialNumber.isNewer(5, than: 5))
    }
}

@Suite struct ResponseTemplateTests {
    @Test func compressesAgainstTheQuestionAndDropsOptionalUnits() throws {
        let cut = try DNSName(text: "example.")
        var builder = ResponseTemplate.Builder(anchor: cut)
        let ns1 = try DNSName(text: "ns1.example.")
        let other = try DNSName(text: "ns.other.")
        builder.add(ResourceRecord(owner: cut, type: .ns, ttl: 60, rdata: ns1.wire), section: .authority)
        builder.add(ResourceRecord(owner: cut, type: .ns, ttl: 60, rdata: other.wire), section: .authority)
        builder.add(ResourceRecord(owner: ns1, type: .a, ttl: 60, rdata: [192, 0, 2, 1]), section: .additional, required: true)
        builder.add(ResourceRecord(owner: other, type: .a, ttl: 60, rdata: [192, 0, 2, 2]), section: .additional, required: false)
        let template = builder.build()

        // A query for WWW.Example. (mixed case) lands the template after it.
        var query = Message.query(id: 9, question: Question(name: try DNSName(text: "WWW.Example."), type: .a)).encoded()
        let questionEnd = query.count
        query += [UInt8](repeating: 0, count: 512)
        let placed = query.withUnsafeMutableBytes { out in
            template.write(into: out, at: questionEnd, limit: 512, qnameLength: 13)
        }
        #expect(!placed.truncated)
        #expect(placed.counts.authority == 2 && placed.counts.additional == 2)
        var reply = Array(query[0..<placed.end])
        reply[7] = 0; reply[9] = 2; reply[11] = 2
        let parsed = try Message(parsing: reply)
        #expect(parsed.authority.map(\.owner.description) == ["Example.", "Example."])
        #expect(parsed.authority.map { DNSName(uncheckedWire: $0.rdata).description } == ["ns1.Example.", "ns.other."])
        #expect(parsed.additional.map(\.owner.description) == ["ns1.Example.", "ns.other."])

        // Without room for the optional glue it is left out, with no TC.
        let tight = placed.end - 16
        let dropped = query.withUnsafeMutableBytes { out in
            template.write(into: out, at: questionEnd, limit: tight, qnameLength: 13)
        }
        #expect(!dropped.truncated && dropped.counts.additional == 1)
        // Without room for the required glue, TC.
        let truncated = query.withUnsafeMutableBytes { out in
            template.write(into: out, at: questionEnd, limit: tight - 16, qnameLength: 13)
        }
        #expect(truncated.truncated)
    }

    @Test func aLaterTemplatePointsIntoTheFirst() throws {
        let cut = try DNSName(text: "example.")
        let other = try DNSName(text: "ns.other.")
        var ns = ResponseTemplate.Builder(anchor: cut)
        ns.add(ResourceRecord(owner: cut, type: .ns, ttl: 60, rdata: other.wire), section: .authority)
        var between = ResponseTemplate.Builder(anchor: cut)
        between.add(ResourceRecord(owner: cut, type: .ds, ttl: 60, rdata: [0, 1, 8, 2, 0xAB]), section: .authority)
        var glue = ResponseTemplate.Builder(anchor: cut, following: ns)
        glue.add(ResourceRecord(owner: other, type: .a, ttl: 60, rdata: [192, 0, 2, 2]), section: .additional)
        let parts = [ns.build(), between.build(), glue.build()]

        var query = Message.query(id: 9, question: Question(name: try DNSName(text: "www.example."), type: .a)).encoded()
        let questionEnd = query.count
        query += [UInt8](repeating: 0, count: 512)
        var placed = ResponseTemplate.Placement(end: questionEnd)
        query.withUnsafeMutableBytes { out in
            for part in parts {
                part.packed.withUnsafeBytes { packed in
                    placed.append(ResponseTemplate.write(packed: packed.baseAddress!, into: out, at: placed.end, limit: 512,
                                                         qnameLength: 13, firstAt: questionEnd))
                }
            }
        }
        #expect(!placed.truncated && placed.counts.authority == 2 && placed.counts.additional == 1)
        var reply = Array(query[0..<placed.end])
        reply[9] = 2; reply[11] = 1
        let parsed = try Message(parsing: reply)
        #expect(parsed.authority.map(\.type) == [.ns, .ds])
        #expect(parsed.additional.map(\.owner.description) == ["ns.other."])
        // The glue (the last 16 bytes: owner, fixed fields, address) names its
        // owner by a pointer to the NS target in the first template, which
        // begins after the NS owner (a pointer to the question) and 10 bytes.
        let glueAt = placed.end - 16
        #expect(reply[glueAt] & 0xC0 == 0xC0)
        #expect(Int(reply[glueAt] & 0x3F) << 8 | Int(reply[glueAt + 1]) == questionEnd + 12)
    }

    /// The EXPIRE option is read from the OPT record only when it ends the reply.
    @Test func expireSecondsFromTheLastRecord() throws {
        var m = Message(header: MessageHeader(id: 1, flags: MessageHeader.qrBit))
        m.questions = [Question(name: .root, type: .soa)]
        m.edns = EDNS(udpPayloadSize: 1232, options: EDNSOption.expire(seconds: 604800))
        #expect(EDNSOption.expireSeconds(inReply: m.encoded()) == 604800)
        m.additional = [ResourceRecord(owner: try DNSName(text: "ns."), type: .a, ttl: 60, rdata: [192, 0, 2, 1])]
        var reply = m.encoded()
        #expect(EDNSOption.expireSeconds(inReply: reply) == 604800)
        // Another record after the OPT record, or a cut message: no answer.
        reply += [0, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 2]
        reply[11] += 1
        #expect(EDNSOption.expireSeconds(inReply: reply) == nil)
        #expect(EDNSOption.expireSeconds(inReply: Array(m.encoded().dropLast())) == nil)
    }
}
