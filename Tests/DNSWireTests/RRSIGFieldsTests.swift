import Testing
import DNSWire

/// RFC 4034 §3.1's layout, read once for the verifier and the index.
@Suite struct RRSIGFieldsTests {
    // ". RRSIG SOA 8 0 86400 20230524170000 20230511160000 60955 . AQID" by hand.
    let rdata: [UInt8] = [0, 6, 8, 0, 0, 1, 0x51, 0x80, 0x64, 0x6E, 0x42, 0x90, 0x64, 0x5D, 0x11, 0x00, 0xEE, 0x1B, 0, 1, 2, 3]

    @Test func readsEveryField() throws {
        let fields = try RRSIGFields(rdata: rdata)
        #expect(fields.typeCovered == .soa && fields.algorithm == 8 && fields.labels == 0 && fields.originalTTL == 86400)
        #expect(Codecs.civilTimestamp(epochSeconds: Int(fields.expiration)) == "20230524170000")
        #expect(Codecs.civilTimestamp(epochSeconds: Int(fields.inception)) == "20230511160000")
        #expect(fields.keyTag == 60955 && fields.signer == 18..<19 && Array(rdata[fields.signer.upperBound...]) == [1, 2, 3])
    }

    @Test func readsInASliceByItsOwnIndices() throws {
        let signer: [UInt8] = [7] + Array("example".utf8) + [0]
        let bytes = [9, 9] + Array(rdata[0..<18]) + signer + [4, 5]
        let fields = try RRSIGFields(rdata: bytes[2...])
        #expect(fields.signer == 20..<29 && fields.keyTag == 60955 && Array(bytes[fields.signer.upperBound...]) == [4, 5])
    }

    @Test func shortOrOverrunningRdataIsNamed() {
        #expect(throws: RRSIGFields.Defect.tooShort) { try RRSIGFields(rdata: Array(rdata[0..<19])) }
        #expect(throws: RRSIGFields.Defect.signerRunsPastEnd) { try RRSIGFields(rdata: Array(rdata[0..<18]) + [5, 1, 2]) }
        #expect(RRSIGFields.Defect.signerRunsPastEnd.description == "RRSIG signer name runs past the rdata")
    }
}
