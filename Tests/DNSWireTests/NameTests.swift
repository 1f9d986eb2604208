import Testing
@testable import DNSWire

@Suite struct NameTests {
    @Test func absoluteRelativeAndOrigin() throws {
        let origin = try DNSName(text: "example.")
        #expect(try DNSName(text: "www.example.com.").wire == Array("\u{3}www\u{7}example\u{3}com\u{0}".utf8))
        #expect(try DNSName(text: "www", origin: origin).description == "www.example.")
        #expect(try DNSName(text: "@", origin: origin) == origin)
        #expect(try DNSName(text: ".") == .root)
        #expect(DNSName.root.description == ".")
    }

    @Test func escapesRoundTrip() throws {
        let name = try DNSName(text: "a\\.b\\032c\\\\.example.")
        #expect(name.wire == [6] + Array("a.b c\\".utf8) + [7] + Array("example".utf8) + [0])
        #expect(name.description == "a\\.b\\032c\\\\.example.")
        #expect(try DNSName(text: name.description) == name)
    }

    @Test(arguments: [
        ("a..b.", DNSNameError.emptyLabel),
        (String(repeating: "x", count: 64) + ".", .labelTooLong),
        (Array(repeating: String(repeating: "x", count: 63), count: 5).joined(separator: ".") + ".", .nameTooLong),
        ("a\\25.", .badEscape),
        ("a\\256.", .badEscape),
        ("a\\", .badEscape),
    ])
    func badNames(text: String, error: DNSNameError) {
        #expect(throws: error) { try DNSName(text: text) }
    }

    @Test func longestNameIsAccepted() throws {
        // 3 labels of 63 + one of 61 = 4 * 1 + 250 + 1 = 255 octets.
        let text = [String](repeating: String(repeating: "x", count: 63), count: 3).joined(separator: ".") + "." + String(repeating: "y", count: 61) + "."
        #expect(try DNSName(text: text).wire.count == 255)
    }

    @Test func caseAndAncestry() throws {
        let name = try DNSName(text: "WWW.Example.COM.")
        #expect(name.lowercased().description == "www.example.com.")
        #expect(name.isSubdomain(of: try DNSName(text: "example.com.")))
        #expect(name.isSubdomain(of: .root))
        #expect(!(try DNSName(text: "xcom.")).isSubdomain(of: try DNSName(text: "com.")))
        #expect(name.parent?.description == "Example.COM.")
        #expect(DNSName.root.parent == nil)
        #expect(name.labelCount == 3)
    }

    @Test func validatingWire() {
        #expect(throws: DNSNameError.truncated) { try DNSName(validatingWire: [3, 97, 98]) }
        #expect(throws: DNSNameError.trailingBytes) { try DNSName(validatingWire: [0, 0]) }
        #expect(throws: DNSNameError.labelTooLong) { try DNSName(validatingWire: [64] + [UInt8](repeating: 97, count: 64) + [0]) }
    }
}
