/// Records encoded into reply wire format once, at load, so that answering a
/// query costs a copy and a few pointer patches (NSD's and Knot's approach).
///
/// Name compression is resolved ahead too. A compressed name points either
/// into the template itself (patched by adding where the template lands) or
/// into the question name, whose suffix is known: every template is built for
/// an *anchor* that the query name is guaranteed to end with (the delegation
/// for a referral, the apex for a negative answer), so a pointer to the
/// anchor's suffix of length L is patched to `12 + qnameLength - L`.
///
/// Records are kept as units so that the responder can drop optional ones
/// (glue that is not required, RFC 9471) when the reply would not fit. A
/// unit's names compress only against required units, which all come before
/// any optional unit, so dropping an optional unit never breaks a pointer.
public struct ResponseTemplate: Sendable {
    public enum Section: Int, Sendable { case answer = 0, authority = 1, additional = 2 }

    public struct Unit: Sendable {
        var start: Int
        var end: Int
        var fixups: Range<Int>
        public var section: Section
        public var required: Bool
        public var length: Int { end - start }
    }

    /// A pointer to patch: `target >= 0` is an offset inside the template;
    /// `target < 0` is the question-name suffix of length `-target`.
    struct Fixup: Sendable {
        var position: Int
        var target: Int
    }

    public private(set) var bytes: [UInt8] = []
    var fixups: [Fixup] = []
    public private(set) var units: [Unit] = []

    public static let empty = ResponseTemplate()

    /// How a template landed in a reply.
    public struct Placement: Sendable {
        public var end: Int
        public var counts: (answer: UInt16, authority: UInt16, additional: UInt16) = (0, 0, 0)
        /// A required unit did not fit; what did fit was written.
        public var truncated = false
    }

    /// Copies the units that fit below `limit` into `out` at `offset`.
    /// Required units stop at the first that does not fit; optional ones are
    /// skipped individually, so a smaller later record can still go in.
    @inline(__always)
    public func write(into out: UnsafeMutableRawBufferPointer, at offset: Int, limit: Int, qnameLength: Int) -> Placement {
        var placement = Placement(end: offset)
        bytes.withUnsafeBytes { src in
            fixups.withUnsafeBufferPointer { fix in
                for unit in units {
                    let length = unit.end - unit.start
                    guard placement.end + length <= limit else {
                        if unit.required {
                            placement.truncated = true
                            return
                        }
                        continue
                    }
                    let dst = placement.end
                    out.baseAddress!.advanced(by: dst).copyMemory(from: src.baseAddress!.advanced(by: unit.start), byteCount: length)
                    for f in fix[unit.fixups] {
                        let pointer = f.target >= 0 ? offset + f.target : MessageHeader.size + qnameLength + f.target
                        let at = dst + f.position - unit.start
                        out[at] = UInt8(0xC0 | (pointer >> 8))
                        out[at + 1] = UInt8(pointer & 0xFF)
                    }
                    placement.end += length
                    switch unit.section {
                    case .answer: placement.counts.answer += 1
                    case .authority: placement.counts.authority += 1
                    case .additional: placement.counts.additional += 1
                    }
                }
            }
        }
        return placement
    }

    /// Assembles a template. Add records in reply order: answer, authority,
    /// additional; within additional, required before optional.
    public struct Builder {
        private var template = ResponseTemplate()
        private let anchor: [UInt8]
        /// Lowercased suffix → offset, for names in required units.
        private var written: [[UInt8]: Int] = [:]

        public init(anchor: DNSName) {
            self.anchor = anchor.wire.map(asciiLower)
        }

        public mutating func add(_ record: ResourceRecord, section: Section, required: Bool = true) {
            if let last = template.units.last {
                precondition(last.section.rawValue <= section.rawValue, "sections out of order")
                precondition(last.required || !required || last.section != section, "required after optional")
            }
            let start = template.bytes.count
            let fixupStart = template.fixups.count
            name(record.owner.wire, register: required)
            u16(record.type.rawValue)
            u16(record.rclass.rawValue)
            u16(UInt16(record.ttl >> 16))
            u16(UInt16(record.ttl & 0xFFFF))
            let lengthAt = template.bytes.count
            u16(0)
            var copied = 0
            for at in RDataNames.compressibleNameOffsets(type: record.type, rdata: record.rdata) {
                template.bytes.append(contentsOf: record.rdata[copied..<at])
                var end = at
                while record.rdata[end] != 0 { end += Int(record.rdata[end]) + 1 }
                end += 1
                name(Array(record.rdata[at..<end]), register: required)
                copied = end
            }
            template.bytes.append(contentsOf: record.rdata[copied...])
            let rdlength = template.bytes.count - lengthAt - 2
            template.bytes[lengthAt] = UInt8(rdlength >> 8)
            template.bytes[lengthAt + 1] = UInt8(rdlength & 0xFF)
            template.units.append(Unit(
                start: start, end: template.bytes.count, fixups: fixupStart..<template.fixups.count,
                section: section, required: required))
        }

        public func build() -> ResponseTemplate { template }

        private mutating func u16(_ v: UInt16) {
            template.bytes.append(UInt8(v >> 8))
            template.bytes.append(UInt8(v & 0xFF))
        }

        private mutating func name(_ wire: [UInt8], register: Bool) {
            var i = 0
            while wire[i] != 0 {
                let suffix = wire[i...].map(asciiLower)
                if suffix.count <= anchor.count && anchor.suffix(suffix.count).elementsEqual(suffix)
                    && isLabelBoundary(anchor, anchor.count - suffix.count) {
                    pointer(to: -suffix.count)
                    return
                }
                if let target = written[suffix] {
                    pointer(to: target)
                    return
                }
                if register { written[suffix] = template.bytes.count }
                let len = Int(wire[i])
                template.bytes.append(contentsOf: wire[i...(i + len)])
                i += len + 1
            }
            template.bytes.append(0)
        }

        private mutating func pointer(to target: Int) {
            template.fixups.append(Fixup(position: template.bytes.count, target: target))
            u16(0)
        }

        private func isLabelBoundary(_ wire: [UInt8], _ offset: Int) -> Bool {
            var i = 0
            while i < offset { i += Int(wire[i]) + 1 }
            return i == offset
        }
    }
}
