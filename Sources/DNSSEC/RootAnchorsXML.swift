import DNSWire
import ZoneFile

/// IANA's trust anchor file (RFC 9718, root-anchors.xml): a `<TrustAnchor>`
/// with a `<Zone>` and one `<KeyDigest>` per key, each a DS digest with an
/// optional `<PublicKey>` and `<Flags>` and a `validFrom`/`validUntil`
/// window. Read by a small parser of its own: the format is a handful of
/// elements, and Foundation's XMLParser would bring libxml2 and ICU into a
/// binary that has no other use for them. It takes what RFC 9718 allows
/// (the XML declaration, comments, any element order, attributes in either
/// quote, character references) and names the line of anything else.
enum RootAnchorsXML {
    struct Element {
        var name: String
        var attributes: [String: String] = [:]
        var children: [Element] = []
        var text = ""
        var line: Int
    }

    /// UTF-8's byte-order mark, which XML allows before the declaration.
    static let byteOrderMark: [UInt8] = [0xEF, 0xBB, 0xBF]

    static func anchors(_ bytes: [UInt8], file: String) throws(ZoneError) -> [TrustAnchor] {
        var reader = Reader(bytes: bytes.starts(with: byteOrderMark) ? Array(bytes.dropFirst(3)) : bytes, file: file)
        let root = try reader.document()
        guard root.name == "TrustAnchor" else {
            throw ZoneError(file: file, line: root.line, message: "root-anchors.xml: the document is <\(root.name)>, not <TrustAnchor>")
        }
        guard let zone = root.children.first(where: { $0.name == "Zone" }) else {
            throw ZoneError(file: file, line: root.line, message: "root-anchors.xml: no <Zone> element")
        }
        let owner: DNSName
        do {
            owner = try DNSName(text: zone.text.trimmingWhitespace())
        } catch {
            throw ZoneError(file: file, line: zone.line, message: "root-anchors.xml: <Zone> '\(zone.text)' is not a domain name")
        }
        var anchors: [TrustAnchor] = []
        var unusable: String?
        for element in root.children where element.name == "KeyDigest" {
            switch try keyDigest(element, owner: owner, file: file) {
            case .success(let anchor): anchors.append(anchor)
            case .failure(let reason): unusable = unusable ?? "line \(element.line): \(reason.text)"
            }
        }
        guard !anchors.isEmpty else {
            throw ZoneError(file: file, line: root.line,
                            message: "root-anchors.xml: no usable <KeyDigest>" + (unusable.map { " (\($0))" } ?? ""))
        }
        return anchors
    }

    struct Unusable: Error { var text: String }

    /// A KeyDigest that does not read is an error; one whose PublicKey does
    /// not match its Digest is left out (RFC 9718 §2.2), said in `failure`.
    private static func keyDigest(_ element: Element, owner: DNSName, file: String) throws(ZoneError) -> Result<TrustAnchor, Unusable> {
        func child(_ name: String) -> Element? { element.children.first { $0.name == name } }
        func number<T: FixedWidthInteger>(_ name: String, _: T.Type) throws(ZoneError) -> T {
            guard let c = child(name) else {
                throw ZoneError(file: file, line: element.line, message: "root-anchors.xml: <KeyDigest> without <\(name)>")
            }
            guard let value = T(c.text.trimmingWhitespace()) else {
                throw ZoneError(file: file, line: c.line, message: "root-anchors.xml: <\(name)> '\(c.text)' is not a number from 0 to \(T.max)")
            }
            return value
        }
        func time(_ attribute: String) throws(ZoneError) -> Int64? {
            guard let text = element.attributes[attribute] else { return nil }
            guard let t = UTCTime.parse(text) else {
                throw ZoneError(file: file, line: element.line, message: "root-anchors.xml: \(attribute) '\(text)' is not an RFC 3339 time")
            }
            return t
        }
        let keyTag = try number("KeyTag", UInt16.self)
        let algorithm = try number("Algorithm", UInt8.self)
        let digestType = try number("DigestType", UInt8.self)
        guard let digestElement = child("Digest"),
              let digest = Codecs.hexDecode(Array(digestElement.text.filter { !$0.isWhitespace }.utf8)), !digest.isEmpty else {
            throw ZoneError(file: file, line: child("Digest")?.line ?? element.line,
                            message: "root-anchors.xml: <KeyDigest> without a hexadecimal <Digest>")
        }
        let anchor = TrustAnchor(owner: owner, kind: .ds(keyTag: keyTag, algorithm: algorithm, digestType: digestType, digest: digest),
                                 validFrom: try time("validFrom"), validUntil: try time("validUntil"), source: file)
        guard let publicKey = child("PublicKey") else { return .success(anchor) }
        guard let key = Codecs.base64Decode(Array(publicKey.text.filter { !$0.isWhitespace }.utf8)), !key.isEmpty else {
            throw ZoneError(file: file, line: publicKey.line, message: "root-anchors.xml: <PublicKey> is not base64")
        }
        let flags = child("Flags") == nil ? 257 : try number("Flags", UInt16.self)
        let rdata = [UInt8(flags >> 8), UInt8(flags & 0xFF), 3, algorithm] + key
        guard anchor.matches(dnskey: rdata) || TrustAnchor.digest(owner: owner, dnskey: rdata, type: digestType) == nil else {
            return .failure(Unusable(text: "key tag \(keyTag): the Digest is not that of the PublicKey"))
        }
        return .success(anchor)
    }

    /// A forward scan that builds the element tree, with the line of each
    /// element for the errors.
    struct Reader {
        let bytes: [UInt8]
        let file: String
        var at = 0
        var line = 1

        init(bytes: [UInt8], file: String) {
            self.bytes = bytes
            self.file = file
        }

        /// At the end of a file that ends with a newline, the last line is the one before.
        func fail(_ message: String) -> ZoneError {
            let shown = at >= bytes.count && bytes.last == 0x0A ? line - 1 : line
            return ZoneError(file: file, line: shown, message: "root-anchors.xml: \(message)")
        }

        mutating func document() throws(ZoneError) -> Element {
            var root: Element?
            while true {
                skipMisc()
                guard at < bytes.count else { break }
                guard bytes[at] == UInt8(ascii: "<") else { throw fail("text outside the document element") }
                guard root == nil else { throw fail("more than one document element") }
                root = try element()
            }
            guard let root else { throw fail("no document element") }
            return root
        }

        /// White space, the XML declaration, comments and a DOCTYPE.
        mutating func skipMisc() {
            while at < bytes.count {
                if isSpace(bytes[at]) {
                    advance()
                } else if starts(with: "<?") {
                    skip(past: "?>")
                } else if starts(with: "<!--") {
                    skip(past: "-->")
                } else if starts(with: "<!") && !starts(with: "<![CDATA[") {
                    skip(past: ">")
                } else {
                    return
                }
            }
        }

        mutating func element() throws(ZoneError) -> Element {
            let startLine = line
            advance() // <
            var element = Element(name: try name(), line: startLine)
            while true {
                while at < bytes.count && isSpace(bytes[at]) { advance() }
                guard at < bytes.count else { throw fail("<\(element.name)> is not closed") }
                if starts(with: "/>") {
                    advance(2)
                    return element
                }
                if bytes[at] == UInt8(ascii: ">") {
                    advance()
                    break
                }
                let attribute = try name()
                while at < bytes.count && isSpace(bytes[at]) { advance() }
                guard at < bytes.count, bytes[at] == UInt8(ascii: "=") else { throw fail("attribute \(attribute) without a value") }
                advance()
                while at < bytes.count && isSpace(bytes[at]) { advance() }
                guard at < bytes.count, bytes[at] == UInt8(ascii: "\"") || bytes[at] == UInt8(ascii: "'") else {
                    throw fail("attribute \(attribute): value not in quotes")
                }
                let quote = bytes[at]
                advance()
                let start = at
                while at < bytes.count && bytes[at] != quote { advance() }
                guard at < bytes.count else { throw fail("attribute \(attribute): the quote is not closed") }
                element.attributes[attribute] = try decode(bytes[start..<at])
                advance()
            }
            // Content: text, children, comments, until the end tag.
            var text: [UInt8] = []
            while true {
                guard at < bytes.count else { throw fail("<\(element.name)> (line \(startLine)) is not closed") }
                if starts(with: "</") {
                    advance(2)
                    let end = try name()
                    guard end == element.name else { throw fail("</\(end)> closes <\(element.name)> (line \(startLine))") }
                    while at < bytes.count && isSpace(bytes[at]) { advance() }
                    guard at < bytes.count, bytes[at] == UInt8(ascii: ">") else { throw fail("</\(end) is not closed") }
                    advance()
                    element.text = try decode(text[...])
                    return element
                }
                if starts(with: "<!--") {
                    skip(past: "-->")
                } else if starts(with: "<![CDATA[") {
                    advance(9)
                    let start = at
                    skip(past: "]]>")
                    text += bytes[start..<max(start, at - 3)]
                } else if starts(with: "<?") {
                    skip(past: "?>")
                } else if bytes[at] == UInt8(ascii: "<") {
                    element.children.append(try self.element())
                } else {
                    text.append(bytes[at])
                    advance()
                }
            }
        }

        mutating func name() throws(ZoneError) -> String {
            let start = at
            while at < bytes.count, !isSpace(bytes[at]), ![UInt8(ascii: ">"), UInt8(ascii: "/"), UInt8(ascii: "=")].contains(bytes[at]) {
                advance()
            }
            guard at > start else { throw fail("a tag or attribute without a name") }
            return String(decoding: bytes[start..<at], as: UTF8.self)
        }

        /// The five predefined entities and character references.
        func decode(_ raw: ArraySlice<UInt8>) throws(ZoneError) -> String {
            let text = String(decoding: raw, as: UTF8.self)
            guard text.contains("&") else { return text }
            var out = ""
            var rest = Substring(text)
            while let amp = rest.firstIndex(of: "&") {
                out += rest[..<amp]
                guard let semi = rest[amp...].firstIndex(of: ";") else { throw fail("'&' without ';'") }
                let entity = rest[rest.index(after: amp)..<semi]
                switch entity {
                case "lt": out += "<"
                case "gt": out += ">"
                case "amp": out += "&"
                case "quot": out += "\""
                case "apos": out += "'"
                default:
                    let value = entity.hasPrefix("#x") ? UInt32(entity.dropFirst(2), radix: 16)
                        : entity.hasPrefix("#") ? UInt32(entity.dropFirst()) : nil
                    guard let value, let scalar = Unicode.Scalar(value) else { throw fail("unknown entity &\(entity);") }
                    out.unicodeScalars.append(scalar)
                }
                rest = rest[rest.index(after: semi)...]
            }
            return out + rest
        }

        func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D }

        func starts(with prefix: StaticString) -> Bool {
            let count = prefix.utf8CodeUnitCount
            guard at + count <= bytes.count else { return false }
            return prefix.withUTF8Buffer { p in (0..<count).allSatisfy { bytes[at + $0] == p[$0] } }
        }

        mutating func advance(_ n: Int = 1) {
            for _ in 0..<n where at < bytes.count {
                if bytes[at] == 0x0A { line += 1 }
                at += 1
            }
        }

        /// Past the next `terminator`, or to the end.
        mutating func skip(past terminator: StaticString) {
            while at < bytes.count && !starts(with: terminator) { advance() }
            advance(terminator.utf8CodeUnitCount)
        }
    }
}
