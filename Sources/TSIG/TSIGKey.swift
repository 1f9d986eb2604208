import CDBStore
import Crypto
import DNSWire
#if canImport(Glibc)
import Glibc
#endif

/// A shared secret for transaction signatures (RFC 8945).
public struct TSIGKey: Sendable {
    /// Lowercased, as the digest takes it.
    public let name: DNSName
    public let algorithm: TSIGAlgorithm
    public let secret: [UInt8]
    let symmetric: SymmetricKey

    public init(name: DNSName, algorithm: TSIGAlgorithm, secret: [UInt8]) {
        self.name = name.lowercased()
        self.algorithm = algorithm
        self.secret = secret
        symmetric = SymmetricKey(data: secret)
    }

    public init(_ definition: TSIGKeyDefinition) {
        self.init(name: definition.name, algorithm: definition.algorithm, secret: definition.secret)
    }
}

/// The keys `--tsig-key` files define, found by name.
public struct TSIGKeyring: Sendable {
    private var byName: [DNSName: TSIGKey] = [:]

    public init(_ keys: [TSIGKey] = []) {
        for key in keys { byName[key.name] = key }
    }

    /// Reads each file (`tsig-keygen`'s format). A file that group or
    /// others may read is refused, as BIND warns of one: the secret is the
    /// whole of the authority it grants. A name defined twice, in one file
    /// or two, is an error: which secret wins would be a guess.
    public init(readingFiles paths: [String]) throws(TSIGKeyFileError) {
        var origin: [DNSName: String] = [:]
        for path in paths {
            let text: [UInt8]?
            do {
                text = try readSmallFile(path, limit: 1 << 20)
            } catch {
                throw TSIGKeyFileError(path: path, line: 0, message: error.message)
            }
            guard let text else { throw TSIGKeyFileError(path: path, line: 0, message: "no such file") }
            var st = stat()
            guard stat(path, &st) == 0, st.st_mode & 0o044 == 0 else {
                throw TSIGKeyFileError(path: path, line: 0, message: "readable by others; chmod 600")
            }
            for definition in try TSIGKeyFile.parse(text, path: path) {
                if let first = origin[definition.name] {
                    throw TSIGKeyFileError(path: path, line: definition.line, message: "key \(definition.name) is also defined in \(first)")
                }
                origin[definition.name] = "\(path):\(definition.line)"
                byName[definition.name] = TSIGKey(definition)
            }
        }
    }

    public subscript(name: DNSName) -> TSIGKey? { byName[name.lowercased()] }

    public var keys: [TSIGKey] { Array(byName.values) }
}
