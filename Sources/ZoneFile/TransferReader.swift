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
            if records > 0 && record.type == .soa {
                isComplete = true
                break
            }
            lines += Array("\(record.owner)\t\(record.ttl)\t\(record.rclass)\t\(record.type)\t\(Presentation.generic(record.rdata))\n".utf8)
            records += 1
        }
        return lines
    }
}

/// Why a transfer cannot be used, as one line.
public struct TransferError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
