import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The four validating resolvers of Debian (Unbound, BIND, Knot Resolver,
/// PowerDNS Recursor) on a signed mirror, set up as the README tells an
/// operator to: a synthetic root signed by ldns-signzone with a test KSK
/// (their trust anchor), served by `rootmirror serve` from data compiled with
/// --keep-dnssec; a signed and an unsigned TLD served by NSD. Each must
/// validate the signed TLD's name (AD), resolve the unsigned one without
/// AD, fail (SERVFAIL) once the root's DS for the signed TLD is altered, and
/// never leave the mirror: the root's own name server (`a.root-servers.net`)
/// is a trap that counts every packet sent to it.
@Suite("validating resolvers on a signed mirror")
struct ValidatingResolverTests {
    /// Everything but the resolver: addresses, zones, NSD, two mirrors (the
    /// good root and the one with the altered DS) and the trap.
    final class World {
        let dir: Scratch
        let mirror: String
        let alteredMirror: String
        /// Serves the good root with every signature expired, forwarding to
        /// `mirror` (the live roots' stand-in) as expired data is.
        let expiredMirror: String
        private(set) var expiredServer: RootmirrorServer?
        /// The good root's compiled data, for installing fresh signatures.
        var goodData: String { dir.file("\(mirror).cdb") }
        var expiredData: String { dir.file("\(expiredMirror).cdb") }
        let trap: Trap
        /// The root KSK's DS: the resolvers' trust anchor.
        private(set) var anchor = ""
        private var daemons: [Daemon] = []

        init() throws {
            dir = try Scratch()
            let hosts = loopbackHosts(6)
            (mirror, alteredMirror, expiredMirror) = (hosts[0], hosts[1], hosts[5])
            let (signedServer, plainServer) = (hosts[3], hosts[4])
            trap = try Trap(host: hosts[2])
            do {
                let childKeys = try DNSSECKeys(origin: "signed.", in: dir, name: "signed")
                let child = try childKeys.sign("""
                    signed. 3600 IN SOA ns.signed. hostmaster.signed. 1 3600 900 604800 300
                    signed. 3600 IN NS ns.signed.
                    ns.signed. 3600 IN A \(signedServer)
                    www.signed. 3600 IN A 192.0.2.1

                    """, in: dir, name: "signed")
                let plain = dir.file("plain.zone")
                try """
                    plain. 3600 IN SOA ns.plain. hostmaster.plain. 1 3600 900 604800 300
                    plain. 3600 IN NS ns.plain.
                    ns.plain. 3600 IN A \(plainServer)
                    www.plain. 3600 IN A 192.0.2.2

                    """.write(toFile: plain, atomically: true, encoding: .utf8)
                daemons.append(try startNSD(zones: [("signed.", child), ("plain.", plain)], listen: [signedServer, plainServer], in: dir))

                // The real root's shape: the root's name server lives under
                // its own delegation (root-servers.net), its glue the trap.
                func root(ds: String) -> String {
                    """
                    . 86400 IN SOA a.root-servers.net. nstld.example. 2026112700 1800 900 604800 86400
                    . 518400 IN NS a.root-servers.net.
                    root-servers.net. 172800 IN NS a.root-servers.net.
                    a.root-servers.net. 172800 IN A \(trap.host)
                    signed. 172800 IN NS ns.signed.
                    ns.signed. 172800 IN A \(signedServer)
                    \(ds)
                    plain. 172800 IN NS ns.plain.
                    ns.plain. 172800 IN A \(plainServer)

                    """
                }
                let rootKeys = try DNSSECKeys(origin: ".", in: dir, name: "root")
                anchor = rootKeys.ds
                // The digest's first hex digit changed: a DS that matches no key of the child.
                var altered = Array(childKeys.ds)
                let at = childKeys.ds.distance(from: childKeys.ds.startIndex, to: childKeys.ds.range(of: " ", options: .backwards)!.upperBound)
                altered[at] = altered[at] == "0" ? "1" : "0"
                let goodRoot = try rootKeys.sign(root(ds: childKeys.ds), in: dir, name: "root")
                let alteredRoot = try rootKeys.sign(root(ds: String(altered)), in: dir, name: "root-altered")
                for (zone, host) in [(goodRoot, mirror), (alteredRoot, alteredMirror)] {
                    let data = dir.file("\(host).cdb")
                    let compiled = try run(rootmirrorBinary, ["compile", zone, "-o", data, "--keep-dnssec"])
                    guard compiled.status == 0 else { throw TestFailure("compile \(zone): \(compiled.stderr)") }
                    daemons.append(try RootmirrorServer(data: data, directory: dir, endpoint: port53(host)).daemon)
                }
                let expiredRoot = try rootKeys.sign(root(ds: childKeys.ds), in: dir, name: "root-expired",
                                                    inception: Date(timeIntervalSinceNow: -10 * 86400),
                                                    expiration: Date(timeIntervalSinceNow: -86400))
                let compiled = try run(rootmirrorBinary, ["compile", expiredRoot, "-o", expiredData, "--keep-dnssec"])
                guard compiled.status == 0 else { throw TestFailure("compile \(expiredRoot): \(compiled.stderr)") }
                let expired = try RootmirrorServer(data: expiredData, directory: dir, extra: [
                    "--upstream", "\(mirror):53", "--on-expiry", "forward",
                ], endpoint: port53(expiredMirror))
                expiredServer = expired
                daemons.append(expired.daemon)
            } catch {
                stop()
                throw error
            }
        }

        func stop() {
            for daemon in daemons { daemon.stop() }
            trap.close()
        }
    }

    /// A resolver's answer, as dig reports it.
    struct Outcome {
        var status: String
        var authenticated: Bool
        var addresses: [String]
    }

    /// Generous retries: a loaded machine can make a resolver's first
    /// lookups slow; what is checked is the answer, never its speed.
    static func ask(_ resolver: Endpoint, _ name: String, patient: Bool = true) throws -> Outcome? {
        let r = try run("/usr/bin/dig", ["@\(resolver.host)", "-p", "\(resolver.port)"] + (patient ? ["+time=10", "+tries=3"] : ["+time=1", "+tries=1"])
                        + [name, "A"])
        let lines = r.output.split(separator: "\n")
        guard let header = lines.first(where: { $0.contains("status: ") }),
              let flags = lines.first(where: { $0.hasPrefix(";; flags:") }) else { return nil }
        let status = header.split(separator: "status: ")[1].prefix { $0 != "," }
        let answers = lines.filter { !$0.hasPrefix(";") && $0.contains("\tA\t") }.map { String($0.split(separator: "\t").last!) }
        return Outcome(status: String(status), authenticated: flags.dropFirst(";; flags:".count).prefix { $0 != ";" }.split(separator: " ").contains("ad"),
                       addresses: answers)
    }

    /// One resolver set up to use `mirror` for the root; `start` returns the
    /// daemon and where it answers.
    struct Resolver: Sendable, CustomStringConvertible {
        var name: String
        var start: @Sendable (_ world: World, _ mirror: String, _ dir: String) throws -> (Daemon, Endpoint)
        var description: String { name }
    }

    static let resolvers: [Resolver] = [
        Resolver(name: "unbound") { world, mirror, dir in
            try startUnbound(world: world, dir: dir, root: """
                stub-zone:
                    name: "."
                    stub-addr: \(mirror)
                """)
        },
        Resolver(name: "named") { world, mirror, dir in
            // named listens only on addresses configured on an interface: 127.0.0.1.
            let endpoint = Endpoint(host: "127.0.0.1", port: Endpoint.random().port)
            let ds = world.anchor.split(whereSeparator: \.isWhitespace).suffix(4)
            return (try startNamed(in: dir, port: endpoint.port, options: ["recursion yes", "dnssec-validation yes"], rest: """
                trust-anchors { . static-ds \(ds.dropLast().joined(separator: " ")) "\(ds.last!)"; };
                zone "." { type static-stub; server-addresses { \(mirror); }; };
                """), endpoint)
        },
        Resolver(name: "kresd") { world, mirror, dir in
            let endpoint = Endpoint.random()
            try """
                net.listen('\(endpoint.host)', \(endpoint.port), { kind = 'dns' })
                modules.unload('priming')
                modules.unload('detect_time_skew')
                modules.unload('detect_time_jump')
                modules.load('hints > iterate')
                hints.root({ ['a.root-servers.net.'] = '\(mirror)' })
                hints.set('a.root-servers.net. \(mirror)')
                trust_anchors.remove('.')
                trust_anchors.add('\(world.anchor)')
                policy.add(policy.all(policy.FLAGS('ALLOW_LOCAL')))
                cache.size = 10 * MB

                """.write(toFile: "\(dir)/kresd.conf", atomically: true, encoding: .utf8)
            return (try Daemon(name: "kresd", executable: "/usr/sbin/kresd", arguments: ["-n", "-c", "\(dir)/kresd.conf", dir],
                               logPath: "\(dir)/kresd.log"), endpoint)
        },
        Resolver(name: "pdns_recursor") { world, mirror, dir in
            let endpoint = Endpoint.random()
            let ds = world.anchor.split(whereSeparator: \.isWhitespace).suffix(4).joined(separator: " ")
            try "clearTA('.')\naddTA('.', \"\(ds)\")\n".write(toFile: "\(dir)/recursor.lua", atomically: true, encoding: .utf8)
            try """
                local-address=\(endpoint.host)
                local-port=\(endpoint.port)
                dont-query=
                dnssec=validate
                forward-zones=.=\(mirror)
                lua-config-file=\(dir)/recursor.lua
                socket-dir=\(dir)
                security-poll-suffix=
                daemon=no
                write-pid=no
                setuid=
                setgid=

                """.write(toFile: "\(dir)/recursor.conf", atomically: true, encoding: .utf8)
            return (try Daemon(name: "pdns_recursor", executable: "/usr/sbin/pdns_recursor", arguments: ["--config-dir=\(dir)"],
                               logPath: "\(dir)/recursor.log"), endpoint)
        },
    ]

    /// Unbound validating with the world's trust anchor, `root` saying how
    /// it reaches the root (a `stub-zone` clause, or `root-hints`).
    static func startUnbound(world: World, dir: String, root: String) throws -> (Daemon, Endpoint) {
        let endpoint = Endpoint.random()
        return (try TestSupport.startUnbound(in: dir, endpoint: endpoint, server: ["trust-anchor: \"\(world.anchor)\""], rest: root), endpoint)
    }

    /// Starts `resolver` on `mirror` in a directory of its own and waits
    /// (bounded) until it answers a query at all.
    static func start(_ resolver: Resolver, _ world: World, mirror: String, phase: String) throws -> (Daemon, Endpoint) {
        let dir = world.dir.file("\(resolver.name)-\(phase)")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let (daemon, endpoint) = try resolver.start(world, mirror, dir)
        guard poll(seconds: 30, { (try? ask(endpoint, "nonexistent.", patient: false)) ?? nil != nil }) else {
            daemon.stop()
            throw TestFailure("\(resolver.name) did not answer:\n\(daemon.log)")
        }
        return (daemon, endpoint)
    }

    @Test("validates through the mirror, and stays on it", arguments: resolvers)
    func validates(_ resolver: Resolver) throws {
        let world = try World()
        defer {
            world.stop()
            world.dir.remove()
        }
        do {
            let (daemon, endpoint) = try Self.start(resolver, world, mirror: world.mirror, phase: "good")
            defer { daemon.stop() }
            let signed = try #require(try Self.ask(endpoint, "www.signed."), "\(daemon.log)")
            #expect(signed.status == "NOERROR" && signed.authenticated && signed.addresses == ["192.0.2.1"], "\(resolver): \(signed)\n\(daemon.log)")
            let plain = try #require(try Self.ask(endpoint, "www.plain."))
            #expect(plain.status == "NOERROR" && !plain.authenticated && plain.addresses == ["192.0.2.2"], "\(resolver): \(plain)")
            let missing = try #require(try Self.ask(endpoint, "www.missing."))
            #expect(missing.status == "NXDOMAIN" && missing.authenticated, "\(resolver): \(missing)")
        }
        do {
            let (daemon, endpoint) = try Self.start(resolver, world, mirror: world.alteredMirror, phase: "altered")
            defer { daemon.stop() }
            let bogus = try #require(try Self.ask(endpoint, "www.signed."))
            #expect(bogus.status == "SERVFAIL" && bogus.addresses.isEmpty, "\(resolver): \(bogus)")
            let plain = try #require(try Self.ask(endpoint, "www.plain."))
            #expect(plain.status == "NOERROR" && plain.addresses == ["192.0.2.2"], "\(resolver): \(plain)")
        }
        let leaked = world.trap.packets()
        #expect(leaked.isEmpty, "\(resolver) left the mirror for the root servers' glue: \(leaked)")
    }
}

extension ValidatingResolverTests {
    /// Signed data past its signatures' expiry has expired: served as is,
    /// every answer would be bogus to the resolver behind it. Forwarded to
    /// the live roots (here the good mirror) instead, Unbound keeps
    /// validating; fresh signed data installed by rename ends the forwarding.
    @Test("expired signatures are forwarded, and Unbound keeps validating")
    func expiredSignaturesAreForwarded() throws {
        let world = try World()
        defer {
            world.stop()
            world.dir.remove()
        }
        let server = try #require(world.expiredServer)
        #expect(server.daemon.log.contains("data expired"), "\(server.daemon.log)")
        let (daemon, endpoint) = try Self.start(Self.resolvers[0], world, mirror: world.expiredMirror, phase: "expired")
        defer { daemon.stop() }
        let signed = try #require(try Self.ask(endpoint, "www.signed."), "\(daemon.log)")
        #expect(signed.status == "NOERROR" && signed.authenticated && signed.addresses == ["192.0.2.1"], "\(signed)\n\(daemon.log)")

        try FileManager.default.copyItem(atPath: world.goodData, toPath: world.expiredData + ".new")
        #expect(rename(world.expiredData + ".new", world.expiredData) == 0)
        #expect(server.daemon.wait(until: { server.daemon.log.contains("no longer expired") }), "\(server.daemon.log)")
        let missing = try #require(try Self.ask(endpoint, "www.missing."))
        #expect(missing.status == "NXDOMAIN" && missing.authenticated, "\(missing)")
        #expect(world.trap.packets().isEmpty)
    }

    /// The trap works: Unbound given only a hints file that names the mirror
    /// primes from it (`. NS`), trusts the glue, and goes to the trap, as
    /// it went to the real root servers when tried with the real zone.
    @Test("the trap catches a resolver that primes from the mirror")
    func trapCatchesPriming() throws {
        let world = try World()
        defer {
            world.stop()
            world.dir.remove()
        }
        let hinted = Resolver(name: "unbound-hints") { world, mirror, dir in
            try ". 3600000 IN NS a.root-servers.net.\na.root-servers.net. 3600000 IN A \(mirror)\n"
                .write(toFile: "\(dir)/root.hints", atomically: true, encoding: .utf8)
            return try Self.startUnbound(world: world, dir: dir, root: "server:\n    root-hints: \"\(dir)/root.hints\"")
        }
        let (daemon, endpoint) = try Self.start(hinted, world, mirror: world.mirror, phase: "hints")
        defer { daemon.stop() }
        _ = try Self.ask(endpoint, "www.signed.", patient: false)
        _ = try Self.ask(endpoint, "www.plain.", patient: false)
        #expect(poll(seconds: 30) { !world.trap.packets().isEmpty })
    }
}

/// A UDP and TCP listener on port 53 that answers nothing and counts what
/// reaches it: the address a resolver would go to if it left the mirror.
final class Trap: @unchecked Sendable {
    let host: String
    private let udp: Int32
    private let tcp: Int32

    init(host: String) throws {
        self.host = host
        udp = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        tcp = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        for fd in [udp, tcp] {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = UInt16(53).bigEndian
            inet_pton(AF_INET, host, &address.sin_addr)
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard bound == 0 else {
                let why = String(cString: strerror(errno))
                Glibc.close(udp)
                Glibc.close(tcp)
                throw TestFailure("trap \(host):53: \(why)")
            }
        }
        listen(tcp, 64)
    }

    /// What reached the trap since the last call: the question of each
    /// datagram (`name type`), and `TCP connection` for each connection.
    func packets() -> [String] {
        var seen: [String] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let length = buffer.withUnsafeMutableBytes { recv(udp, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            guard length >= 0 else { break }
            seen.append(Self.question(buffer[..<length]))
        }
        _ = fcntl(tcp, F_SETFL, O_NONBLOCK)
        while true {
            let connection = accept(tcp, nil, nil)
            guard connection >= 0 else { break }
            Glibc.close(connection)
            seen.append("TCP connection")
        }
        return seen
    }

    /// The question of a query, for the failure message: which lookup left the mirror.
    private static func question(_ packet: ArraySlice<UInt8>) -> String {
        var labels: [String] = []
        var i = packet.startIndex + 12
        while i < packet.endIndex, packet[i] != 0, Int(packet[i]) < 64, i + 1 + Int(packet[i]) <= packet.endIndex {
            labels.append(String(decoding: packet[(i + 1)..<(i + 1 + Int(packet[i]))], as: UTF8.self))
            i += 1 + Int(packet[i])
        }
        let type = i + 2 < packet.endIndex ? Int(packet[i + 1]) << 8 | Int(packet[i + 2]) : -1
        return labels.joined(separator: ".") + ". type \(type)"
    }

    func close() {
        Glibc.close(udp)
        Glibc.close(tcp)
    }
}
