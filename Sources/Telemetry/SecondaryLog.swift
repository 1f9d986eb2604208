import Addressing
import DNSWire
import Synchronization

/// Who copies the zone from this server: each client with transfer rights
/// that asked for the SOA or a transfer, the serial it last asked for
/// (IXFR) or received, and how its transfers went, for `/health` and
/// `/metrics`. An operator sees which secondary holds which serial
/// without logging into it. At most `capacity` clients, the one heard
/// from longest ago making room: a prefix of many addresses must not
/// grow it without bound.
public final class SecondaryLog: Sendable {
    public enum Kind: String, Sendable, CaseIterable { case axfr, ixfr }
    public enum Outcome: String, Sendable, CaseIterable { case ok, refused, failed }

    public struct Secondary: Sendable, Equatable {
        public var address: String
        public var serial: UInt32?
        /// The last SOA query or transfer request.
        public var lastSeen: Int64
        public var lastTransfer: Int64?
        public var kind: Kind?
        public var bytes = 0
        public var failures = 0
    }

    static let capacity = 1024
    private let allowed: [IPPrefix]
    private let metrics: ServerMetrics
    private let clients = Mutex<[String: Secondary]>([:])

    public init(allowed: [IPPrefix], metrics: ServerMetrics) {
        self.allowed = allowed
        self.metrics = metrics
    }

    /// Whether `address` has transfer rights.
    public func allows(_ address: [UInt8]) -> Bool { allowed.contains { $0.contains(address) } }

    /// An SOA query from a client with transfer rights.
    public func askedSOA(_ address: IPEndpoint, now: Int64) {
        update(address.host, now: now) { _ in }
    }

    /// A transfer just asked for, from a client holding `serial` (IXFR's).
    public func requested(_ address: IPEndpoint, holding serial: UInt32?, now: Int64) {
        update(address.host, now: now) { s in
            if let serial { s.serial = serial }
        }
    }

    /// A transfer request and how it ended; `serial` is what the client
    /// now holds as far as we know: the one it asked IXFR from, or the one
    /// it received.
    public func transfer(_ address: IPEndpoint, kind: Kind, outcome: Outcome, serial: UInt32?, bytes: Int, now: Int64) {
        metrics.transfers[Self.index(kind, outcome)].increment()
        update(address.host, now: now) { s in
            s.kind = kind
            if let serial { s.serial = serial }
            if outcome == .ok {
                s.lastTransfer = now
                s.bytes = bytes
            } else {
                s.failures += 1
            }
        }
    }

    /// A transfer asked by a client without transfer rights: counted, not listed.
    public func refused(_ kind: Kind) {
        metrics.transfers[Self.index(kind, .refused)].increment()
    }

    static func index(_ kind: Kind, _ outcome: Outcome) -> Int {
        Kind.allCases.firstIndex(of: kind)! * Outcome.allCases.count + Outcome.allCases.firstIndex(of: outcome)!
    }

    private func update(_ address: String, now: Int64, _ change: (inout Secondary) -> Void) {
        clients.withLock { clients in
            if clients[address] == nil, clients.count >= Self.capacity,
               let oldest = clients.values.min(by: { $0.lastSeen < $1.lastSeen }) {
                clients[oldest.address] = nil
            }
            var s = clients[address] ?? Secondary(address: address, lastSeen: now)
            s.lastSeen = now
            change(&s)
            clients[address] = s
        }
    }

    public var secondaries: [Secondary] {
        clients.withLock { Array($0.values) }.sorted { $0.address < $1.address }
    }
}
