import Addressing
#if canImport(Glibc)
import Glibc
#endif

/// One address to serve on, UDP and TCP: `127.53.53.53`, `127.53.53.53:5353`,
/// `::1`, `[::1]:53`. A wildcard address is refused: replies must leave from
/// the address the query was sent to, and a socket bound to 0.0.0.0 on a
/// host with several addresses would answer from whichever the kernel picks
/// (a resolver drops such replies), so every address is named explicitly, as
/// with tinydns's IP.
public struct ListenAddress: Hashable, Sendable, CustomStringConvertible {
    public let endpoint: IPEndpoint

    public static let defaultPort: UInt16 = 53

    public init(parsing text: String, defaultPort: UInt16 = ListenAddress.defaultPort) throws(IPEndpointError) {
        let endpoint = try IPEndpoint(parsing: text, defaultPort: defaultPort)
        guard !endpoint.isWildcard else {
            throw IPEndpointError(text, "a wildcard address cannot guarantee the reply's source address; name one")
        }
        self.endpoint = endpoint
    }

    public var host: String { endpoint.host }
    public var port: UInt16 { endpoint.port }
    public var family: IPEndpoint.Family { endpoint.family }
    public var description: String { endpoint.description }

    func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R { endpoint.withSockaddr(body) }
}
