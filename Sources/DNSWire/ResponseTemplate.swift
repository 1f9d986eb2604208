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
/// A reply may be written from several templates one after another (a
/// referral's NS RRset, its DS proof, its glue), so that what they share is
/// held once. A later template's names may point into the first one, which
/// always lands right after the question (`Builder.init(anchor:following:)`).
///
/// Records are kept as units so that the responder can drop optional ones
/// (glue that is not required, RFC 9471) when the reply would not fit. A
/// unit's names compress only against required units, which all come before
/// any optional unit, so dropping an optional unit never breaks a pointer.
public struct ResponseTemplate: Sendable {
    public enum Section: Int, Sendable { case answer = 0, authority = 1, additional = 2 }

    /// The whole template in one contiguous block, so that answering reads
    /// it through one pointer with no reference counting, and an index can
    /// pack thousands of templates into a single allocation (`packed`).
    /// Layout, all fields native `Int32`:
    /// - header: byte count, unit count, fixup count, and the answer,
    ///   authority and additional counts of the whole template;
    /// - per unit (one record, or an RRset): end offset in the bytes, end of
    ///   its fixups, flags (section, `requiredFlag`, record count);
    /// - per fixup: position in the bytes, target: `>= 0` an offset in the
    ///   bytes, `-1 ... -255` the question-name suffix of length `-target`,
    ///   `<= firstTemplateTarget` offset `firstTemplateTarget - target` in
    ///   the reply's first template;
    /// - the reply bytes, pointers still zero.
    public private(set) var packed: [UInt8] = []

    static let headerFields = 6
    static let unitFields = 3
    static let fixupFields = 2
    static let requiredFlag: Int32 = 0x100
    static let firstTemplateTarget = -1024
    /// A unit's flags carry its record count above this bit.
    static let recordShift: Int32 = 16

    /// How a template landed in a reply.
    public struct Placement: Sendable {
        public var end: Int
        public var counts: (answer: UInt16, authority: UInt16, additional: UInt16) = (0, 0, 0)
        /// A required unit did not fit; what did fit was written.
        public var truncated = false

        /// Takes in a template written at this one's end.
        @inline(__always)
        public mutating func append(_ next: Placement) {
            end = next.end
            counts.answer &+= next.counts.answer
            counts.authority &+= next.counts.authority
            counts.additional &+= next.counts.additional
            truncated = next.truncated
        }

        /// Counts one unit with these flags (see `packed`) in its section.
        @inline(__always)
        mutating func count(_ flags: Int) {
            let records = UInt16(truncatingIfNeeded: flags >> Int(recordShift))
            switch flags & 0xFF {
            case 0: counts.answer &+= records
            case 1: counts.authority &+= records
            default: counts.additional &+= records
            }
        }
    }

    /// Copies the units that fit below `limit` into `out` at `offset`, as
    /// the reply's first template.
    public func write(into out: UnsafeMutableRawBufferPointer, at offset: Int, limit: Int, qnameLength: Int) -> Placement {
        packed.withUnsafeBytes {
            Self.write(packed: $0.baseAddress!, into: out, at: offset, limit: limit, qnameLength: qnameLength, firstAt: offset)
        }
    }

    /// Writes the packed template at `template` (see `packed`). When it all
    /// fits, that is one copy and the pointer patches. Otherwise unit by
    /// unit: required units stop at the first that does not fit; optional
    /// ones are skipped individually, so a smaller later record can still go in.
    /// `firstAt` is where the reply's first template landed (`offset`, for it).
    @inline(__always)
    public static func write(packed template: UnsafeRawPointer, into out: UnsafeMutableRawBufferPointer, at offset: Int,
                             limit: Int, qnameLength: Int, firstAt: Int) -> Placement {
        @inline(__always) func field(_ i: Int) -> Int {
            Int(template.loadUnaligned(fromByteOffset: i &* 4, as: Int32.self))
        }
        let byteCount = field(0), unitCount = field(1), fixupCount = field(2)
        let unitsAt = headerFields
        let fixupsAt = unitsAt &+ unitCount &* unitFields
        let bytes = template + (fixupsAt &+ fixupCount &* fixupFields) &* 4
        let dst = out.baseAddress!
        let questionSuffixEnd = MessageHeader.size &+ qnameLength

        // Patches fixups `from..<to` for bytes copied from `source` to `to`.
        @inline(__always) func patch(_ from: Int, _ to: Int, copiedFrom source: Int, to landing: Int) {
            var f = from
            while f < to {
                let position = field(fixupsAt &+ f &* fixupFields)
                let target = field(fixupsAt &+ f &* fixupFields &+ 1)
                let pointer = target >= 0 ? offset &+ target
                    : target > firstTemplateTarget ? questionSuffixEnd &+ target : firstAt &+ firstTemplateTarget &- target
                let at = landing &+ position &- source
                dst.storeBytes(of: UInt8(truncatingIfNeeded: 0xC0 | (pointer >> 8)), toByteOffset: at, as: UInt8.self)
                dst.storeBytes(of: UInt8(truncatingIfNeeded: pointer), toByteOffset: at &+ 1, as: UInt8.self)
                f &+= 1
            }
        }

        if offset &+ byteCount <= limit {
            (dst + offset).copyMemory(from: bytes, byteCount: byteCount)
            patch(0, fixupCount, copiedFrom: 0, to: offset)
            return Placement(end: offset &+ byteCount,
                             counts: (UInt16(truncatingIfNeeded: field(3)), UInt16(truncatingIfNeeded: field(4)),
                                      UInt16(truncatingIfNeeded: field(5))))
        }
        // The units that fit one after another, from the first: one copy.
        var placement = Placement(end: offset)
        var u = 0
        var start = 0
        var fixupStart = 0
        while u < unitCount {
            let end = field(unitsAt &+ u &* unitFields)
            guard offset &+ end <= limit else { break }
            placement.count(field(unitsAt &+ u &* unitFields &+ 2))
            start = end
            u &+= 1
        }
        if u > 0 {
            fixupStart = field(unitsAt &+ (u &- 1) &* unitFields &+ 1)
            (dst + offset).copyMemory(from: bytes, byteCount: start)
            patch(0, fixupStart, copiedFrom: 0, to: offset)
            placement.end = offset &+ start
        }
        // The rest: what still fits, one unit at a time.
        while u < unitCount {
            let end = field(unitsAt &+ u &* unitFields)
            let fixupEnd = field(unitsAt &+ u &* unitFields &+ 1)
            let flags = field(unitsAt &+ u &* unitFields &+ 2)
            let length = end &- start
            if placement.end &+ length <= limit {
                (dst + placement.end).copyMemory(from: bytes + start, byteCount: length)
                patch(fixupStart, fixupEnd, copiedFrom: start, to: placement.end)
                placement.end &+= length
                placement.count(flags)
            } else if flags & Int(requiredFlag) != 0 {
                placement.truncated = true
                break
            }
            start = end
            fixupStart = fixupEnd
            u &+= 1
        }
        return placement
    }

    /// Assembles a template. Add records in reply order: answer, authority,
    /// additional; within additional, required before optional.
    public struct Builder {
        private struct Unit {
            var end: Int
            var fixupEnd: Int
            var section: Section
            var required: Bool
            var records: Int
        }

        private var bytes: [UInt8] = []
        private var units: [Unit] = []
        /// (position, target) pairs, see `packed`.
        private var fixups: [(position: Int, target: Int)] = []
        private let anchor: [UInt8]
        /// Lowercased suffix → offset, for names in required units.
        private var written: [[UInt8]: Int] = [:]

        public init(anchor: DNSName) {
            self.anchor = anchor.wire.map(asciiLower)
        }

        /// A template to be written after `first` (and any others), whose
        /// names may point into `first`'s required units.
        public init(anchor: DNSName, following first: Builder) {
            self.init(anchor: anchor)
            written = first.written.mapValues { ResponseTemplate.firstTemplateTarget - $0 }
        }

        public mutating func add(_ record: ResourceRecord, section: Section, required: Bool = true) {
            add(rrset: [record], section: section, required: required)
        }

        /// Adds records as one unit: a reply carries an RRset whole or not
        /// at all (RFC 2181 §5.1, §9), so a truncated reply never holds part
        /// of one, as Knot's and NSD's do not.
        public mutating func add(rrset: [ResourceRecord], section: Section, required: Bool = true) {
            if let last = units.last {
                precondition(last.section.rawValue <= section.rawValue, "sections out of order")
                precondition(last.required || !required || last.section != section, "required after optional")
            }
            for record in rrset { append(record, register: required) }
            units.append(Unit(end: bytes.count, fixupEnd: fixups.count, section: section, required: required,
                              records: rrset.count))
        }

        private mutating func append(_ record: ResourceRecord, register required: Bool) {
            name(record.owner.wire, register: required)
            u16(record.type.rawValue)
            u16(record.rclass.rawValue)
            u16(UInt16(record.ttl >> 16))
            u16(UInt16(record.ttl & 0xFFFF))
            let lengthAt = bytes.count
            u16(0)
            var copied = 0
            for at in RDataNames.compressibleNameOffsets(type: record.type, rdata: record.rdata) {
                bytes.append(contentsOf: record.rdata[copied..<at])
                var end = at
                while record.rdata[end] != 0 { end += Int(record.rdata[end]) + 1 }
                end += 1
                name(Array(record.rdata[at..<end]), register: required)
                copied = end
            }
            bytes.append(contentsOf: record.rdata[copied...])
            let rdlength = bytes.count - lengthAt - 2
            bytes[lengthAt] = UInt8(rdlength >> 8)
            bytes[lengthAt + 1] = UInt8(rdlength & 0xFF)
        }

        public func build() -> ResponseTemplate {
            precondition(bytes.count <= Int(Int32.max), "template too large")
            var fields: [Int32] = [Int32(bytes.count), Int32(units.count), Int32(fixups.count), 0, 0, 0]
            for unit in units {
                fields[3 + unit.section.rawValue] += Int32(unit.records)
                fields += [Int32(unit.end), Int32(unit.fixupEnd),
                           Int32(unit.section.rawValue) | (unit.required ? requiredFlag : 0) | Int32(unit.records) << recordShift]
            }
            for fixup in fixups { fields += [Int32(fixup.position), Int32(fixup.target)] }
            var template = ResponseTemplate()
            template.packed = fields.withUnsafeBytes { Array($0) } + bytes
            return template
        }

        private mutating func u16(_ v: UInt16) {
            bytes.append(UInt8(v >> 8))
            bytes.append(UInt8(v & 0xFF))
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
                if register { written[suffix] = bytes.count }
                let len = Int(wire[i])
                bytes.append(contentsOf: wire[i...(i + len)])
                i += len + 1
            }
            bytes.append(0)
        }

        private mutating func pointer(to target: Int) {
            fixups.append((bytes.count, target))
            u16(0)
        }

        private func isLabelBoundary(_ wire: [UInt8], _ offset: Int) -> Bool {
            var i = 0
            while i < offset { i += Int(wire[i]) + 1 }
            return i == offset
        }
    }
}
