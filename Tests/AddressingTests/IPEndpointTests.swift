import Addressing
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite struct IPEndpointTests {
    func parse(_ text: String) -> IPEndpoint? { try? IPEndpoint(parsing: text, defaultPort: 53) }

    @Test func readsTheFormsOperatorsType() {
        #expect(parse("192.0.2.1")?.description == "192.0.2.1:53")
        #expect(parse("192.0.2.1:5353")?.port == 5353)
        #expect(parse("2001:db8::1")?.description == "[2001:db8::1]:53")
        #expect(parse("[2001:db8::1]:5353")?.description == "[2001:db8::1]:5353")
        #expect(parse("[::1]")?.host == "::1")
        #expect(parse("192.0.2.1")?.address == [192, 0, 2, 1])
    }

    @Test func refusesWhatIsNotAnAddress() {
        for bad in ["example.com", "[2001:db8::1", "192.0.2.1:99999", "192.0.2.1:0", "[::1]x", "192.0.2.1:", "", "1.2.3"] {
            #expect(throws: IPEndpointError.self, "\(bad)") { try IPEndpoint(parsing: bad, defaultPort: 53) }
        }
        #expect(throws: IPEndpointError.self) { try IPEndpoint(parsing: "example.com", defaultPort: 53) }
        do {
            _ = try IPEndpoint(parsing: "[::1", defaultPort: 53)
        } catch {
            #expect(error.description == "bad address '[::1': missing ']'")
        }
    }

    @Test func wildcardIsRecognised() {
        #expect(parse("0.0.0.0")?.isWildcard == true)
        #expect(parse("[::]:53")?.isWildcard == true)
        #expect(parse("127.0.0.1")?.isWildcard == false)
    }

    /// What a socket reports as a datagram's sender reads back as the same endpoint.
    @Test func roundTripsThroughSockaddr() {
        for text in ["127.0.0.1:5300", "[::1]:5301", "[2001:db8::53]:53"] {
            let endpoint = parse(text)!
            var storage = sockaddr_storage()
            endpoint.withSockaddr { sa, length in
                withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: UnsafeRawBufferPointer(start: sa, count: Int(length))) }
            }
            #expect(IPEndpoint(&storage) == endpoint)
        }
    }
}
