import DNSWire
import Foundation
import Testing
import TestSupport

/// rootmirror against Knot DNS and NSD (Debian's knot and nsd) serving the
/// same DNSSEC-stripped root zone, on root-shaped traffic.
@Suite("serve answers as Knot and NSD do")
struct DifferentialTests {
    /// What is compared: rcode, AA, TC and the three sections as sets
    /// (order within a section is not significant). Names are compared
    /// without case: the question's case is echoed and may be copied into
    /// owners through compression.
    struct Outcome: Equatable, CustomStringConvertible {
        var rcode: RCode
        var aa: Bool
        var tc: Bool
        var answer: Set<String>
        var authority: Set<String>
        var additional: Set<String>

        init(_ m: Message) {
            rcode = m.rcode
            aa = m.header.isAuthoritative
            tc = m.header.isTruncated
            func key(_ r: ResourceRecord) -> String {
                var r = r
                r.owner = r.owner.lowercased()
                return r.description.lowercased()
            }
            answer = Set(m.answers.map(key))
            authority = Set(m.authority.map(key))
            additional = Set(m.additional.map(key))
        }

        var description: String {
            "\(rcode) aa=\(aa) tc=\(tc) an=\(answer.count) ns=\(authority.count) ar=\(additional.count)"
        }

        /// What differs from `other`, compactly: header fields, then per
        /// section the records only in self (+) and only in other (-).
        func difference(from other: Outcome) -> String {
            var parts: [String] = []
            if rcode != other.rcode { parts.append("rcode \(rcode)/\(other.rcode)") }
            if aa != other.aa { parts.append("aa \(aa)/\(other.aa)") }
            if tc != other.tc { parts.append("tc \(tc)/\(other.tc)") }
            for (name, mine, theirs) in [("an", answer, other.answer), ("ns", authority, other.authority), ("ar", additional, other.additional)]
            where mine != theirs {
                let plus = mine.subtracting(theirs).sorted().map { "+" + $0.replacingOccurrences(of: "\t", with: " ") }
                let minus = theirs.subtracting(mine).sorted().map { "-" + $0.replacingOccurrences(of: "\t", with: " ") }
                parts.append("\(name): " + (plus + minus).prefix(6).joined(separator: ", ") + ((plus.count + minus.count) > 6 ? " ..." : ""))
            }
            return parts.joined(separator: "; ")
        }
    }

    /// Writes the stripped zone the peers load: the signed zone without its
    /// DNSSEC records, exactly the records `rootmirror compile` keeps.
    static func strippedZone(in dir: Scratch) throws -> String {
        let zone = dir.file("root.zone")
        let awk = #"$4 !~ /^(RRSIG|NSEC|NSEC3|NSEC3PARAM|DNSKEY|DS|CDS|CDNSKEY|ZONEMD)$/"#
        let result = try run("/bin/sh", ["-c", "zcat '\(Paths.signedRootZone)' | awk '\(awk)' > '\(zone)'"])
        guard result.status == 0 else { throw TestFailure("stripping the zone: \(result.output)") }
        return zone
    }

    /// Knot serving `zone`, which loopback clients may transfer; with
    /// `primary`, a secondary that transfers it from there (and takes its
    /// NOTIFY) when the file is missing.
    /// With `key` (a TSIG key's name, algorithm and secret), the primary is
    /// asked with it and its NOTIFY must carry it.
    static func startKnot(zone: String, dir: Scratch, endpoint: Endpoint, primary: Endpoint? = nil,
                          key: (name: String, algorithm: String, secret: String)? = nil) throws -> Daemon {
        let storage = dir.file("knot")
        try FileManager.default.createDirectory(atPath: storage, withIntermediateDirectories: true)
        let config = """
            server:
                rundir: \(storage)
                pidfile: \(storage)/knot.pid
                listen: \(endpoint.host)@\(endpoint.port)
                udp-workers: 1
                tcp-workers: 1
                background-workers: 1
            database:
                storage: \(storage)
            log:
              - target: stderr
                any: warning
            \(key.map { "key:\n  - id: \($0.name)\n    algorithm: \($0.algorithm)\n    secret: \($0.secret)" } ?? "")
            acl:
              - id: loopback
                address: 127.0.0.0/8
                action: [transfer, notify]
            \(key.map { "    key: \($0.name)" } ?? "")
            \(primary.map { "remote:\n  - id: primary\n    address: \($0.host)@\($0.port)\n    via: \(endpoint.host)" + (key.map { "\n    key: \($0.name)" } ?? "") } ?? "")
            template:
              - id: default
                storage: \(storage)
                zonefile-sync: -1
                zonefile-load: whole
                journal-content: none
                semantic-checks: off
            zone:
              - domain: .
                file: \(zone)
                acl: loopback
            \(primary == nil ? "" : "    master: primary")

            """
        try config.write(toFile: dir.file("knot.conf"), atomically: true, encoding: .utf8)
        return try Daemon(name: "knotd", executable: "/usr/sbin/knotd", arguments: ["-c", dir.file("knot.conf")], logPath: dir.file("knot.log"))
    }

    /// Waits (bounded) until a peer answers the apex SOA.
    static func waitUntilAnswering(_ daemon: Daemon, _ endpoint: Endpoint) throws {
        let client = try UDPClient(endpoint, timeoutMilliseconds: 200)
        let ready = daemon.wait(until: {
            client.exchange(makeQuery(".", .soa)).flatMap { try? Message(parsing: $0) }?.serialInAnswer != nil
        })
        guard ready else { throw TestFailure("\(daemon.name) did not start:\n\(daemon.log)") }
    }

    /// Whether every additional record is an address of a name server the
    /// reply names (in a referral's authority or an NS answer).
    static func isOnlyGlue(_ message: Message) -> Bool {
        let targets = Set((message.answers + message.authority).filter { $0.type == .ns }.map { DNSName(uncheckedWire: $0.rdata).lowercased() })
        return message.additional.allSatisfy { ($0.type == .a || $0.type == .aaaa) && targets.contains($0.owner.lowercased()) }
    }

    /// How a differential query is sent.
    struct Mode: CustomStringConvertible {
        var edns: EDNS?
        var tcp = false

        static let plain = Mode(edns: nil)
        static let edns1232 = Mode(edns: EDNS(udpPayloadSize: 1232))
        static let dnssec1232 = Mode(edns: EDNS(udpPayloadSize: 1232, dnssecOK: true))
        static let dnssec4096 = Mode(edns: EDNS(udpPayloadSize: 4096, dnssecOK: true))
        static let dnssecTCP = Mode(edns: EDNS(udpPayloadSize: 1232, dnssecOK: true), tcp: true)

        var description: String {
            (tcp ? "tcp" : "udp") + (edns.map { " edns=\($0.udpPayloadSize)" + ($0.dnssecOK ? " do" : "") } ?? " plain")
        }
    }

    /// Sends one query over `mode`'s transport to each server.
    final class Clients {
        let udp: [UDPClient]
        let tcp: [TCPClient]

        init(_ endpoints: [Endpoint]) throws {
            udp = try endpoints.map { try UDPClient($0) }
            tcp = try endpoints.map { try TCPClient($0) }
        }

        func exchange(_ query: [UInt8], tcp: Bool) -> [Message?] {
            if tcp {
                return self.tcp.map { client in
                    client.write(TCPClient.framed(query))
                    return client.readFrame().flatMap { try? Message(parsing: $0) }
                }
            }
            return udp.map { $0.exchange(query).flatMap { try? Message(parsing: $0) } }
        }
    }

    /// Runs `count` make-queries.py queries, cycling through `modes`, against
    /// rootmirror serving `data` and Knot and NSD serving `zone`; returns the
    /// unexplained differences and prints the tally.
    static func differences(data: String, zone: String, count: Int, modes: [Mode], extra: [String] = []) throws -> [String] {
        let dir = try Scratch()
        defer { dir.remove() }
        let ours = try RootmirrorServer(data: data, directory: dir, extra: extra)
        defer { ours.stop() }
        let knotEndpoint = Endpoint.random()
        let knot = try Self.startKnot(zone: zone, dir: dir, endpoint: knotEndpoint)
        defer { knot.stop() }
        let nsdEndpoint = Endpoint.random()
        let nsd = try startNSD(zones: [(".", zone)], listen: [nsdEndpoint.description.replacingOccurrences(of: ":", with: "@")], in: dir)
        defer { nsd.stop() }
        try Self.waitUntilAnswering(knot, knotEndpoint)
        try Self.waitUntilAnswering(nsd, nsdEndpoint)

        let generated = try run("/usr/bin/python3", [Paths.makeQueries, zone, "\(count)", "20261123"])
        let lines = generated.output.split(separator: "\n")
        #expect(generated.status == 0 && lines.count == count)

        let clients = try Clients([ours.endpoint, knotEndpoint, nsdEndpoint])
        var differences: [String] = []
        var knotNSDDiffer = 0
        var truncatedGlueDiffers = 0
        var optionalGlueDiffers = 0
        var anyDiffers = 0
        var followsKnotNotNSD = 0
        for (index, line) in lines.enumerated() {
            let parts = line.split(separator: " ")
            guard parts.count == 2, let type = queryType(String(parts[1])) else {
                differences.append("unusable query line: \(line)")
                continue
            }
            let mode = modes[index % modes.count]
            let query = makeQuery(String(parts[0]), type, id: UInt16(index & 0xFFFF), edns: mode.edns)
            let replies = clients.exchange(query, tcp: mode.tcp)
            guard let mine = replies[0], let fromKnot = replies[1], let fromNSD = replies[2] else {
                differences.append("\(line) \(mode): no reply from \(["rootmirror", "knot", "nsd"].enumerated().filter { replies[$0.offset] == nil }.map(\.element))")
                continue
            }
            let (o, k, n) = (Outcome(mine), Outcome(fromKnot), Outcome(fromNSD))
            if k != n { knotNSDDiffer += 1 }
            let asked = try Message(parsing: query).questions
            #expect(mine.questions == asked, "question not echoed byte for byte: \(line)")
            #expect((mine.edns != nil) == (mode.edns != nil), "OPT presence: \(line)")
            #expect(mine.edns?.dnssecOK == fromKnot.edns?.dnssecOK, "DO echoed as Knot does: \(line)")

            // Where Knot and NSD legitimately differ, rootmirror follows Knot:
            // - TC on a referral without EDNS whose in-domain glue does not
            //   fit in 512 bytes (net, org, ...): RFC 9471 §3 requires it;
            //   NSD 4.6 predates it and clears TC.
            // - No NS RRset in authority on positive answers (`. SOA`): RFC
            //   1034 §4.3.2 step 3a puts only the RRset in the answer; NSD adds
            //   the apex NS (and glue), which only makes the reply larger.
            if o == k {
                if o != n { followsKnotNotNSD += 1 }
                continue
            }
            // RFC 2181 §9: a resolver ignores a reply with TC set and retries
            // over TCP, so which glue a truncated referral happens to carry is
            // not significant (RFC 9471 only requires TC when in-domain glue
            // is missing). Both must truncate; ours must carry only glue.
            if o.tc && k.tc, o.rcode == k.rcode, o.aa == k.aa, o.answer == k.answer, o.authority == k.authority,
               Self.isOnlyGlue(mine) {
                truncatedGlueDiffers += 1
                continue
            }
            // Optional additional data that does not all fit in 512 bytes
            // (sibling glue in a referral such as com's, the root servers'
            // addresses for `. NS`): RFC 1034 §4.3.2 step 6 and RFC 9471 §3
            // leave the choice to the server. Knot fills name server by name
            // server (a's A and AAAA, then b's...); NSD and rootmirror put
            // every A first, then AAAA while they fit, so that dnscache, which
            // sends no EDNS and uses IPv4, gets an address for every server.
            // Here we follow NSD: same header, answer and authority as Knot,
            // additional only addresses of the named servers, and all of it
            // exactly NSD's.
            if !o.tc && !k.tc, o.rcode == k.rcode, o.aa == k.aa, o.answer == k.answer, o.authority == k.authority,
               o == n, Self.isOnlyGlue(mine) {
                optionalGlueDiffers += 1
                continue
            }
            // RFC 8482 §4.2: to ANY, a responder may return any one RRset of
            // the name. Knot picks the apex NS (with glue), NSD and
            // rootmirror the SOA, which needs no glue and is the smallest.
            // Both answer one RRset, authoritatively; ours is NSD's.
            if type == .any, o == n, o.rcode == k.rcode, o.aa == k.aa,
               Set(mine.answers.map(\.type)).subtracting([.rrsig]).count == 1,
               Set(fromKnot.answers.map(\.type)).subtracting([.rrsig]).count == 1 {
                anyDiffers += 1
                continue
            }
            differences.append("\(line) \(mode): ours \(o)\n  vs knot: \(o.difference(from: k))\n  vs nsd: \(o == n ? "same" : o.difference(from: n))")
        }
        print("differential (\(modes.map(\.description).joined(separator: ", "))): \(lines.count) queries; Knot and NSD differ on \(knotNSDDiffer); "
              + "rootmirror differs from Knot on \(truncatedGlueDiffers) (glue in a TC referral, RFC 2181 §9), \(optionalGlueDiffers) (optional glue, as NSD), "
              + "\(anyDiffers) (ANY, as NSD), \(differences.count) unexplained; same as Knot but not NSD: \(followsKnotNotNSD)")
        return differences
    }

    @Test("a few thousand make-queries.py queries, with and without EDNS, compared with Knot and NSD")
    func compareWithKnotAndNSD() throws {
        let dir = try Scratch()
        defer { dir.remove() }
        // Half without EDNS (dnscache's case, 512 bytes), half with EDNS 1232.
        let differences = try Self.differences(data: CompiledData.root2023, zone: try Self.strippedZone(in: dir), count: 3000,
                                               modes: [.plain, .edns1232])
        #expect(differences.isEmpty, "\(differences.count) differences from Knot; first ones:\n\(differences.prefix(8).joined(separator: "\n"))")
    }

    @Test("the signed root with --keep-dnssec: DO over UDP 1232 and 4096 and TCP, and without DO, compared with Knot and NSD")
    func compareSignedWithKnotAndNSD() throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let zone = dir.file("root.zone")
        let unzip = try run("/bin/sh", ["-c", "zcat '\(Paths.signedRootZone)' > '\(zone)'"])
        try #require(unzip.status == 0, "\(unzip.output)")
        let differences = try Self.differences(data: CompiledData.signedRoot2023, zone: zone, count: 3000,
                                               modes: [.dnssec1232, .dnssec4096, .dnssecTCP, .edns1232, .plain])
        #expect(differences.isEmpty, "\(differences.count) differences from Knot; first ones:\n\(differences.prefix(8).joined(separator: "\n"))")
    }
}
