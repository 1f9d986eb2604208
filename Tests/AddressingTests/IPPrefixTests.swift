import Addressing
import Testing

@Suite struct IPPrefixTests {
    func prefix(_ text: String) throws -> IPPrefix { try IPPrefix(parsing: text) }

    @Test func matchesTheAddressesInside() throws {
        let ten = try prefix("10.1.2.3/8")
        #expect(ten.description == "10.0.0.0/8")
        #expect(ten.contains([10, 255, 0, 1]))
        #expect(!ten.contains([11, 0, 0, 1]))
        #expect(try prefix("192.0.2.0/25").contains([192, 0, 2, 127]))
        #expect(try !prefix("192.0.2.0/25").contains([192, 0, 2, 128]))
        #expect(try prefix("0.0.0.0/0").contains([203, 0, 113, 9]))
        let host = try prefix("127.0.0.1")
        #expect(host.length == 32 && host.contains([127, 0, 0, 1]) && !host.contains([127, 0, 0, 2]))
        let six = try prefix("2001:db8::/32")
        #expect(six.contains([0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 7, count: 12)))
        #expect(!six.contains([0x20, 0x01, 0x0d, 0xb9] + [UInt8](repeating: 0, count: 12)))
        #expect(try prefix("::1").description == "::1/128")
        // An address of the other family is never inside.
        #expect(!ten.contains([UInt8](repeating: 0, count: 12) + [10, 0, 0, 1]))
    }

    @Test func refusesWhatIsNotAPrefix() {
        for bad in ["10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/x", "example.com/8", "10.0.0.0:53/8", "", "/8"] {
            #expect(throws: IPEndpointError.self, "\(bad)") { try IPPrefix(parsing: bad) }
        }
        #expect((try? IPPrefix(parsing: "10/8")) == nil)
    }
}
