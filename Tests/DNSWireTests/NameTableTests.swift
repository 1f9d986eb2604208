import Testing
@testable import DNSWire

@Suite struct NameTableTests {
    /// Names of every length from 1 to 40 bytes, so that the eight-byte
    /// steps of hashing and comparing end on every offset of a tail.
    static let names: [[UInt8]] = (1...40).map { length in
        (0..<length).map { UInt8(ascii: "a") + UInt8($0 % 26) }
    }

    private func find(_ table: NameTable, _ key: [UInt8]) -> Int? {
        key.withUnsafeBytes { table.find($0, start: 0, length: key.count) }
    }

    @Test func foundWhateverTheCase() {
        var table = NameTable(capacity: 4)
        for (node, name) in Self.names.enumerated() {
            #expect(name.withUnsafeBytes { table.insert($0, start: 0, length: name.count) } == (node, true))
        }
        for (node, name) in Self.names.enumerated() {
            let upper = name.map { $0 - 0x20 }
            let mixed = name.enumerated().map { $0.offset % 3 == 0 ? $0.element - 0x20 : $0.element }
            #expect(find(table, name) == node)
            #expect(find(table, upper) == node)
            #expect(find(table, mixed) == node)
            #expect(upper.withUnsafeBytes { table.insert($0, start: 0, length: upper.count) } == (node, false))
        }
        #expect(table.count == Self.names.count)
        #expect(find(table, Array("abcdefghiX".utf8) + [0]) == nil)
    }

    /// Only A-Z fold: the bytes just outside the range ("@" and "[", 0x40
    /// and 0x5B), and letters with the top bit set, keep their case.
    @Test func onlyASCIILettersFold() {
        var table = NameTable()
        let keys: [[UInt8]] = [
            Array("`abcdefgh{".utf8),           // 0x60 ... 0x7B
            [0xE1] + Array("bcdefghij".utf8),   // an 8-bit "a"
        ]
        for key in keys { _ = key.withUnsafeBytes { table.insert($0, start: 0, length: key.count) } }
        #expect(find(table, Array("@ABCDEFGH[".utf8)) == nil)
        #expect(find(table, Array("`ABCDEFGH{".utf8)) == 0)
        #expect(find(table, [0xC1] + Array("BCDEFGHIJ".utf8)) == nil)
        #expect(find(table, [0xE1] + Array("BCDEFGHIJ".utf8)) == 1)
    }

    @Test func probesAtAnOffsetInABuffer() {
        let table = NameTable(names: [try! DNSName(text: "Example.COM.")])
        let packet: [UInt8] = [0xFF, 0xFF, 0xFF] + (try! DNSName(text: "eXAMPLE.com.")).wire + [0xFF, 0xFF]
        #expect(packet.withUnsafeBytes { table.find($0, start: 3, length: 13) } == 0)
        #expect(packet.withUnsafeBytes { table.find($0, start: 3, length: 12) } == nil)
    }

    @Test func growsPastItsCapacity() {
        var table = NameTable(capacity: 2)
        let many = (0..<1000).map { Array("host\($0).example".utf8) }
        for (node, key) in many.enumerated() {
            #expect(key.withUnsafeBytes { table.insert($0, start: 0, length: key.count) }.node == node)
        }
        #expect(many.enumerated().allSatisfy { find(table, $0.element) == $0.offset })
    }
}
