import DNSWire
import Testing

/// The TSIG record as DNSWire reads and writes it, no keys involved.
@Suite struct TSIGRecordTests {
    static let record = TSIGRecord(
        keyName: try! DNSName(text: "Transfer.Example."), algorithm: TSIGAlgorithm.hmacSHA256.name,
        timeSigned: 0x0001_2345_6789, fudge: 300, mac: Array(repeating: 0xAB, count: 32), originalID: 0x1234,
        error: .noError, otherData: [1, 2])

    static func query(additional: [ResourceRecord] = []) -> [UInt8] {
        var m = Message.query(id: 0x1234, question: Question(name: try! DNSName(text: "example."), type: .axfr))
        m.additional = additional
        return m.encoded()
    }

    @Test func writesAndReadsBack() throws {
        let unsigned = Self.query(additional: [ResourceRecord(owner: .root, type: .a, ttl: 0, rdata: [192, 0, 2, 1])])
        var signed = unsigned
        Self.record.append(to: &signed)
        #expect(signed.bigEndianUInt16(at: 10) == 2)
        let (read, start) = try #require(try TSIGRecord.parse(signed))
        #expect(read == Self.record && start == unsigned.count)
        #expect(TSIGRecord.removing(from: signed, at: start) == unsigned)
        // Another reader agrees on every field: the record is one ordinary RR of class ANY.
        let parsed = try Message(parsing: signed)
        #expect(parsed.additional.last?.type == .tsig && parsed.additional.last?.rclass == .any && parsed.additional.last?.ttl == 0)
        #expect(try TSIGRecord.parse(unsigned) == nil)
    }

    /// RFC 8945 §4.3.3: names lowercased, class ANY, TTL 0, 48-bit time.
    @Test func variablesAreCanonical() throws {
        let v = Self.record.variables
        let key = try DNSName(text: "transfer.example.").wire
        let algorithm = TSIGAlgorithm.hmacSHA256.name.wire
        #expect(v == key + [0, 255, 0, 0, 0, 0] + algorithm + [0x00, 0x01, 0x23, 0x45, 0x67, 0x89, 0x01, 0x2C] + [0, 0, 0, 2, 1, 2])
        #expect(Self.record.timers == [0x00, 0x01, 0x23, 0x45, 0x67, 0x89, 0x01, 0x2C])
    }

    @Test func compressedKeyNameReads() throws {
        // The key name as a pointer to the question name, as some signers write it.
        var message = Self.query()
        let name = try DNSName(text: "example.")
        var signed = message
        TSIGRecord(keyName: name, algorithm: TSIGAlgorithm.hmacSHA256.name, timeSigned: 1, fudge: 300, mac: [1], originalID: 1)
            .append(to: &signed)
        message += [0xC0, 12] + signed[(message.count + name.wire.count)...]
        message[11] = 1
        #expect(try TSIGRecord.parse(message)?.record.keyName == name)
        // The algorithm name compressed: refused (RFC 3597 §4).
        let rdata: [UInt8] = [0xC0, 12] + [0, 0, 0, 0, 0, 1, 1, 44, 0, 1, 7, 0, 1, 0, 0, 0, 0]
        var compressed = Self.query() + [0xC0, 12, 0, 250, 0, 255, 0, 0, 0, 0, 0, UInt8(rdata.count)] + rdata
        compressed[11] = 1
        #expect(throws: TSIGRecordError.badRData) { try TSIGRecord.parse(compressed) }
    }

    @Test func misplacedOrMalformedRecordsAreErrors() throws {
        var signed = Self.query()
        Self.record.append(to: &signed)
        // Not last: an A record after it.
        var notLast = signed + [0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 192, 0, 2, 1]
        notLast[11] += 1
        #expect(throws: TSIGRecordError.notLast) { try TSIGRecord.parse(notLast) }
        // Two of them.
        var twice = signed
        Self.record.append(to: &twice)
        #expect(throws: TSIGRecordError.notLast) { try TSIGRecord.parse(twice) }
        // In the answer section.
        var answer = signed
        answer[7] = 1
        answer[11] = 0
        #expect(throws: TSIGRecordError.notInAdditional) { try TSIGRecord.parse(answer) }
        // Class IN.
        var wrongClass = signed
        let classAt = Self.query().count + Self.record.keyName.wire.count + 2
        wrongClass[classAt + 1] = 1
        wrongClass[classAt] = 0
        #expect(throws: TSIGRecordError.wrongClass(.in)) { try TSIGRecord.parse(wrongClass) }
        // A MAC size beyond the record, and RDLENGTH that disagrees with the fields.
        var longMAC = signed
        let macSizeAt = classAt + 8 + Self.record.algorithm.wire.count + 8
        longMAC[macSizeAt + 1] = 40
        #expect(throws: TSIGRecordError.badRData) { try TSIGRecord.parse(longMAC) }
        var shortMAC = signed
        shortMAC[macSizeAt + 1] = 31
        #expect(throws: TSIGRecordError.badRData) { try TSIGRecord.parse(shortMAC) }
        // Cut anywhere inside the record: the message no longer reads, never a crash.
        for cut in Self.query().count..<(signed.count - 1) {
            #expect(throws: (any Error).self) { try TSIGRecord.parse(Array(signed[..<cut])) }
        }
        #expect(throws: TSIGRecordError.malformedMessage) { try TSIGRecord.parse([0, 1, 2]) }
    }

    @Test func writeRefusesABufferWithoutRoom() {
        var message = Self.query()
        let length = message.count
        message += [UInt8](repeating: 0, count: Self.record.wireLength - 1)
        #expect(message.withUnsafeMutableBytes { Self.record.write(into: $0, after: length) } == nil)
        message.append(0)
        #expect(message.withUnsafeMutableBytes { Self.record.write(into: $0, after: length) } == message.count)
    }
}
