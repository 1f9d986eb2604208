import DNSWire

/// An AXFR reply (RFC 5936) read message by message into master-file text
/// for the zone parser, so that a transfer goes through the same parse,
/// checks and verification as a file. Each record is written in RFC 3597's
/// generic form (`owner TTL IN TYPE \# length hex`), which the parser
/// checks against each type's layout: nothing is lost in the round trip,
/// whatever the types. The SOA opens the transfer and closes it (§2.2);
/// the text holds it once.
public struct TransferReader: Sendable {
    /// The ID of the AXFR query: every message of the reply carries it.
    public let queryID: UInt16
    /// Records read so far, the opening SOA included.
    public private(set) var records = 0
    /// Whether the closing SOA has been read.
    public private(set) var isComplete = false
    /// The opening SOA, which the closing one must repeat (RFC 5936 §2.2):
    /// a zone that changed during the transfer is not one zone.
    private var opening: ResourceRecord?

    public init(queryID: UInt16) {
        self.queryID = queryID
    }

    /// The text of the records in `message`, one line each; throws why the
    /// transfer cannot be used. Nothing after the closing SOA is read.
    public mutating func read(_ message: [UInt8]) throws(TransferError) -> [UInt8] {
        guard !isComplete else { return [] }
        guard let parsed = try? Message(parsing: message), parsed.header.id == queryID, parsed.header.isResponse else {
            throw TransferError("a malformed message after \(records) records")
        }
        guard parsed.rcode == .noError else { throw TransferError("transfer answered \(parsed.rcode)") }
        var lines: [UInt8] = []
        for record in parsed.answers {
            if records == 0 && record.type != .soa { throw TransferError("the transfer does not start with the SOA") }
            if records == 0 { opening = record }
            if records > 0 && record.type == .soa {
                guard let opening, record.owner.lowercased() == opening.owner.lowercased(), record.rdata == opening.rdata else {
                    func serial(_ r: ResourceRecord?) -> String { r.flatMap { SOAFields(rdata: $0.rdata) }.map { "\($0.serial)" } ?? "?" }
                    throw TransferError("the closing SOA (serial \(serial(record))) differs from the opening one (serial \(serial(opening)))",
                                        isZoneData: true)
                }
                isComplete = true
                break
            }
            lines += Self.line(for: record)
            records += 1
        }
        return lines
    }
}

extension TransferReader {
    /// `record` as one line of master-file text, its rdata in RFC 3597's generic form.
    public static func line(for record: ResourceRecord) -> [UInt8] {
        Array("\(record.owner)\t\(record.ttl)\t\(record.rclass)\t\(record.type)\t\(Presentation.generic(record.rdata))\n".utf8)
    }
}

/// Why a transfer cannot be used, as one line.
public struct TransferError: Error, Sendable, CustomStringConvertible {
    public var description: String
    /// The transfer arrived as sent, and what it holds is not a zone (its
    /// two SOAs disagree): the data's fault, not the network's.
    public var isZoneData: Bool

    public init(_ description: String, isZoneData: Bool = false) {
        self.description = description
        self.isZoneData = isZoneData
    }
}
