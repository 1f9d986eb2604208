/// The HMAC algorithms a TSIG key may name (RFC 8945 §6): SHA-256 is the
/// one every peer has; MD5 and SHA-1 are refused.
public enum TSIGAlgorithm: String, CaseIterable, Hashable, Sendable {
    case hmacSHA256 = "hmac-sha256"
    case hmacSHA384 = "hmac-sha384"
    case hmacSHA512 = "hmac-sha512"

    /// The algorithm's name in a TSIG record.
    public var name: DNSName { DNSName(uncheckedWire: [UInt8(rawValue.utf8.count)] + Array(rawValue.utf8) + [0]) }

    /// The algorithm a TSIG record names, in any case; nil for one we do not have.
    public init?(name: DNSName) {
        guard let found = Self.allCases.first(where: { $0.name == name.lowercased() }) else { return nil }
        self = found
    }

    /// Octets of a full MAC.
    public var macLength: Int {
        switch self {
        case .hmacSHA256: return 32
        case .hmacSHA384: return 48
        case .hmacSHA512: return 64
        }
    }
}

/// One `key` statement of a key file.
public struct TSIGKeyDefinition: Hashable, Sendable {
    /// Lowercased: key names compare without case (RFC 8945 §4.2 digests them lowercased).
    public var name: DNSName
    public var algorithm: TSIGAlgorithm
    public var secret: [UInt8]
    /// Where the statement starts, for errors that name it.
    public var line: Int
}

public struct TSIGKeyFileError: Error, Sendable, Equatable, CustomStringConvertible {
    public var path: String
    public var line: Int
    public var message: String

    public init(path: String, line: Int, message: String) {
        self.path = path
        self.line = line
        self.message = message
    }

    /// Line 0 is the file as a whole (its mode, or that it cannot be read).
    public var description: String { line > 0 ? "\(path):\(line): \(message)" : "\(path): \(message)" }
}

/// Key files in the format `tsig-keygen` writes and BIND, Knot (`keymgr`
/// imports it) and NSD's docs show:
/// `key "NAME" { algorithm hmac-sha256; secret "BASE64"; };`, several to a
/// file, with `#`, `//` and `/* */` comments.
public enum TSIGKeyFile {
    public static func parse(_ text: [UInt8], path: String) throws(TSIGKeyFileError) -> [TSIGKeyDefinition] {
        var lexer = Lexer(text: text)
        var keys: [TSIGKeyDefinition] = []
        func fail(_ line: Int, _ message: String) -> TSIGKeyFileError { TSIGKeyFileError(path: path, line: line, message: message) }
        func expect(_ punctuation: UInt8, after what: String) throws(TSIGKeyFileError) {
            let token = try lexer.next(path: path)
            guard case .punctuation(punctuation) = token?.kind else {
                throw fail(token?.line ?? lexer.line, "expected '\(Character(Unicode.Scalar(punctuation)))' after \(what)")
            }
        }
        while let token = try lexer.next(path: path) {
            guard case .word(let keyword) = token.kind, keyword == "key" else {
                throw fail(token.line, "expected a key statement, found \(token.kind)")
            }
            guard let nameToken = try lexer.next(path: path), let nameText = nameToken.kind.text else {
                throw fail(token.line, "a key statement without a name")
            }
            let name: DNSName
            do { name = try DNSName(text: nameText).lowercased() } catch { throw fail(nameToken.line, "key name \"\(nameText)\": \(error)") }
            if let first = keys.first(where: { $0.name == name }) {
                throw fail(token.line, "key \(name) defined twice (first on line \(first.line))")
            }
            try expect(UInt8(ascii: "{"), after: "key \(name)")
            var algorithm: TSIGAlgorithm?
            var secret: [UInt8]?
            while true {
                guard let clause = try lexer.next(path: path) else { throw fail(lexer.line, "key \(name) is not closed") }
                if case .punctuation(UInt8(ascii: "}")) = clause.kind { break }
                guard case .word(let field) = clause.kind, field == "algorithm" || field == "secret" else {
                    throw fail(clause.line, "key \(name): expected algorithm or secret, found \(clause.kind)")
                }
                guard let value = try lexer.next(path: path), let valueText = value.kind.text else {
                    throw fail(clause.line, "key \(name): \(field) without a value")
                }
                if field == "algorithm" {
                    guard algorithm == nil else { throw fail(clause.line, "key \(name): algorithm given twice") }
                    guard let a = TSIGAlgorithm(rawValue: valueText.lowercased()) else {
                        throw fail(value.line, "key \(name): algorithm \(valueText) is not one of "
                            + TSIGAlgorithm.allCases.map(\.rawValue).joined(separator: ", "))
                    }
                    algorithm = a
                } else {
                    guard secret == nil else { throw fail(clause.line, "key \(name): secret given twice") }
                    guard let bytes = Codecs.base64Decode(Array(valueText.utf8)), !bytes.isEmpty else {
                        throw fail(value.line, "key \(name): the secret is not base64")
                    }
                    secret = bytes
                }
                try expect(UInt8(ascii: ";"), after: "\(field) of key \(name)")
            }
            try expect(UInt8(ascii: ";"), after: "key \(name)'s '}'")
            guard let algorithm else { throw fail(token.line, "key \(name) has no algorithm") }
            guard let secret else { throw fail(token.line, "key \(name) has no secret") }
            keys.append(TSIGKeyDefinition(name: name, algorithm: algorithm, secret: secret, line: token.line))
        }
        return keys
    }

    private struct Token {
        enum Kind: CustomStringConvertible {
            case word(String)
            case quoted(String)
            case punctuation(UInt8)

            var text: String? {
                switch self {
                case .word(let s), .quoted(let s): return s
                case .punctuation: return nil
                }
            }

            var description: String {
                switch self {
                case .word(let s): return s
                case .quoted(let s): return "\"\(s)\""
                case .punctuation(let c): return "'\(Character(Unicode.Scalar(c)))'"
                }
            }
        }

        var kind: Kind
        var line: Int
    }

    /// named.conf's lexical rules, as far as key statements need them.
    private struct Lexer {
        let text: [UInt8]
        var at = 0
        var line = 1

        mutating func next(path: String) throws(TSIGKeyFileError) -> Token? {
            try skipSpaceAndComments(path: path)
            guard at < text.count else { return nil }
            let start = at
            let c = text[at]
            switch c {
            case UInt8(ascii: "{"), UInt8(ascii: "}"), UInt8(ascii: ";"):
                at += 1
                return Token(kind: .punctuation(c), line: line)
            case UInt8(ascii: "\""):
                at += 1
                while at < text.count, text[at] != UInt8(ascii: "\""), text[at] != UInt8(ascii: "\n") { at += 1 }
                guard at < text.count, text[at] == UInt8(ascii: "\"") else {
                    throw TSIGKeyFileError(path: path, line: line, message: "a quoted string that does not end on its line")
                }
                at += 1
                return Token(kind: .quoted(String(decoding: text[(start + 1)..<(at - 1)], as: UTF8.self)), line: line)
            default:
                while at < text.count, !Self.isSpace(text[at]), !"{};\"".utf8.contains(text[at]),
                      !startsComment(at) {
                    at += 1
                }
                return Token(kind: .word(String(decoding: text[start..<at], as: UTF8.self)), line: line)
            }
        }

        private static func isSpace(_ c: UInt8) -> Bool { c == 32 || (9...13).contains(c) }

        private func startsComment(_ i: Int) -> Bool {
            text[i] == UInt8(ascii: "#")
                || (text[i] == UInt8(ascii: "/") && i + 1 < text.count && (text[i + 1] == UInt8(ascii: "/") || text[i + 1] == UInt8(ascii: "*")))
        }

        private mutating func skipSpaceAndComments(path: String) throws(TSIGKeyFileError) {
            while at < text.count {
                if text[at] == UInt8(ascii: "\n") {
                    line += 1
                    at += 1
                } else if Self.isSpace(text[at]) {
                    at += 1
                } else if startsComment(at) && text[at + (text[at] == UInt8(ascii: "#") ? 0 : 1)] != UInt8(ascii: "*") {
                    while at < text.count, text[at] != UInt8(ascii: "\n") { at += 1 }
                } else if startsComment(at) {
                    let opened = line
                    at += 2
                    while at + 1 < text.count, !(text[at] == UInt8(ascii: "*") && text[at + 1] == UInt8(ascii: "/")) {
                        if text[at] == UInt8(ascii: "\n") { line += 1 }
                        at += 1
                    }
                    guard at + 1 < text.count else {
                        throw TSIGKeyFileError(path: path, line: opened, message: "a /* comment that is not closed")
                    }
                    at += 2
                } else {
                    return
                }
            }
        }
    }
}
