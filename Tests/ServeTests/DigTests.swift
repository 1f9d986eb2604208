import DNSWire
import Foundation
import Testing
import TestSupport

/// What dig or kdig printed, reduced to the fields the tests check. Both
/// tools' outputs are read lower-cased: dig writes `flags: qr aa;` and
/// `AUTHORITY: 13,`, kdig `Flags: qr aa;` and `AUTHORITY: 13;`.
struct ToolReply {
    let text: String
    let lower: String
    /// Lower case, every run of blanks one space: dig separates record
    /// fields with tabs, kdig with spaces.
    let flat: String

    init(_ text: String) {
        self.text = text
        lower = text.lowercased()
        flat = lower.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
    }

    private func capture(_ pattern: String) -> String? {
        guard let regex = try? NSRegularExpression(pattern: pattern),
              let match = regex.firstMatch(in: lower, range: NSRange(lower.startIndex..., in: lower)),
              let range = Range(match.range(at: 1), in: lower) else { return nil }
        return String(lower[range])
    }

    var status: String? { capture(#"status: ([a-z]+)"#) }
    var flags: Set<String> { Set((capture(#";; flags: ([a-z ]*);"#) ?? "").split(separator: " ").map(String.init)) }
    func count(_ section: String) -> Int? { capture(section + #": (\d+)"#).flatMap { Int($0) } }
    /// dig's `udp: 1232`, kdig's `UDP size: 1232 B`.
    var ednsPayload: Int? { capture(#"udp(?: size)?: (\d+)"#).flatMap { Int($0) } }
    var hasEDNS: Bool { ednsPayload != nil }
}

enum Tool: String, CaseIterable, Sendable { case dig, kdig }

func query(_ tool: Tool, _ server: Endpoint, _ args: [String]) throws -> ToolReply {
    let common: [String]
    switch tool {
    case .dig: common = ["@\(server.host)", "-p", "\(server.port)", "+norec", "+tries=1", "+time=3"]
    case .kdig: common = ["@\(server.host)", "-p", "\(server.port)", "+norec", "+retry=0", "+time=3"]
    }
    let result = try run("/usr/bin/\(tool.rawValue)", common + args)
    return ToolReply(result.output)
}

@Suite("serve answers dig and kdig")
struct DigTests {
    @Test("dig and kdig over UDP and TCP, with and without EDNS")
    func toolsTransportsEDNS() throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let server = try RootmirrorServer(data: CompiledData.root2023, directory: dir)
        defer { server.stop() }
        for tool in Tool.allCases {
            for tcp in [false, true] {
                for edns in [false, true] {
                    var args = [tcp ? "+tcp" : "+notcp", edns ? "+bufsize=4096" : "+noedns"]
                    if tool == .kdig && edns { args.append("+edns") }
                    let context = "\(tool) tcp=\(tcp) edns=\(edns)"
                    // A referral: NS in authority, glue in additional, AA clear.
                    let referral = try query(tool, server.endpoint, args + ["www.example.com", "A"])
                    #expect(referral.status == "noerror", "\(context)\n\(referral.text)")
                    #expect(!referral.flags.contains("aa"), "\(context)\n\(referral.text)")
                    #expect(!referral.flags.contains("tc"), "\(context)\n\(referral.text)")
                    #expect(referral.count("authority") == 13, "\(context)\n\(referral.text)")
                    #expect(referral.flat.contains("a.gtld-servers.net. 172800 in a 192.5.6.30"), "\(context)\n\(referral.text)")
                    // Our payload is capped at 1232 whatever the client offers.
                    #expect(referral.hasEDNS == edns, "\(context)\n\(referral.text)")
                    if edns { #expect(referral.ednsPayload == 1232, "\(context)\n\(referral.text)") }
                    // Apex data: AA.
                    let soa = try query(tool, server.endpoint, args + [".", "SOA"])
                    #expect(soa.status == "noerror" && soa.flags.contains("aa") && soa.count("answer") == 1, "\(context)\n\(soa.text)")
                    #expect(soa.lower.contains("2023051100"), "\(context)\n\(soa.text)")
                }
            }
        }
    }

    @Test("IPv6 listener with the [::1]:port syntax")
    func ipv6() throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let v4 = Endpoint.random()
        let v6port = UInt16.random(in: 20000...60000)
        let server = try RootmirrorServer(data: CompiledData.root2023, directory: dir, extra: ["--listen", "[::1]:\(v6port)"], endpoint: v4)
        defer { server.stop() }
        for transport in ["+notcp", "+tcp"] {
            let reply = ToolReply(try run("/usr/bin/dig", ["@::1", "-p", "\(v6port)", "+norec", "+tries=1", transport, ".", "NS"]).output)
            #expect(reply.status == "noerror" && reply.flags.contains("aa") && reply.count("answer") == 13, "\(reply.text)")
        }
    }

    @Test("root-server behaviour: NXDOMAIN, DS at a cut, names below a cut, case, ANY, transfers")
    func rootBehaviour() throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let server = try RootmirrorServer(data: CompiledData.root2023, directory: dir)
        defer { server.stop() }
        let e = server.endpoint

        let nx = try query(.dig, e, ["no-such-tld-here", "A"])
        #expect(nx.status == "nxdomain" && nx.flags.contains("aa") && nx.count("authority") == 1, "\(nx.text)")
        // RFC 2308 §5: TTL = min(SOA TTL 86400, MINIMUM 86400).
        #expect(nx.flat.contains("\n. 86400 in soa a.root-servers.net."), "\(nx.text)")

        // DS at a delegation is the parent's data: AA, and NODATA since DS was stripped.
        let ds = try query(.dig, e, ["com", "DS"])
        #expect(ds.status == "noerror" && ds.flags.contains("aa") && ds.count("answer") == 0 && ds.flat.contains(" in soa "), "\(ds.text)")

        // A host name below a delegation gets that TLD's referral.
        let host = try query(.dig, e, ["a.gtld-servers.net", "A"])
        #expect(host.status == "noerror" && !host.flags.contains("aa") && host.flat.contains("\nnet. 172800 in ns "), "\(host.text)")

        // The question is echoed byte for byte, case kept (0x20 resolvers check it).
        let mixed = try query(.dig, e, ["WwW.ExAmPlE.CoM", "A"])
        #expect(mixed.text.contains(";WwW.ExAmPlE.CoM.\t\tIN\tA"), "\(mixed.text)")

        // RFC 8482: ANY gets one RRset.
        let any = try query(.dig, e, [".", "ANY"])
        #expect(any.status == "noerror" && any.count("answer") == 1, "\(any.text)")

        // DO is echoed; our payload is advertised.
        let dnssec = try query(.dig, e, ["+dnssec", ".", "SOA"])
        #expect(dnssec.lower.contains("flags: do;"), "\(dnssec.text)")

        // RFC 6891 §6.1.3: EDNS version 1 is BADVERS, with OPT.
        let badvers = try query(.dig, e, ["+edns=1", "+noednsnegotiation", ".", "SOA"])
        #expect(badvers.status == "badvers" && badvers.hasEDNS, "\(badvers.text)")

        // Opcode NOTIFY: NOTIMP.
        let notify = try query(.dig, e, ["+opcode=4", ".", "SOA"])
        // Not a server that follows a primary: a NOTIFY is refused, not ignored.
        #expect(notify.status == "refused", "\(notify.text)")

        // Zone transfers are refused for now.
        let udp = try UDPClient(e)
        let ixfr = try Message(parsing: try #require(udp.exchange(makeQuery(".", .ixfr))))
        #expect(ixfr.rcode == .refused)
        let tcp = try TCPClient(e)
        tcp.write(TCPClient.framed(makeQuery(".", .axfr, id: 77)))
        let axfr = try Message(parsing: try #require(tcp.readFrame()))
        #expect(axfr.rcode == .refused && axfr.header.id == 77)
    }

    @Test("CHAOS identity: configured, off, and every other non-IN query REFUSED")
    func chaos() throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let server = try RootmirrorServer(data: CompiledData.root2023, directory: dir,
                                          extra: ["--chaos-identity", "mirror-7", "--chaos-version", "rootmirror test"])
        defer { server.stop() }
        let e = server.endpoint
        for tool in Tool.allCases {
            let version = try query(tool, e, ["-c", "CH", "-t", "TXT", "version.bind"])
            #expect(version.status == "noerror" && version.flags.contains("aa") && version.text.contains("\"rootmirror test\""), "\(version.text)")
            for name in ["id.server", "HOSTNAME.BIND"] {
                let id = try query(tool, e, ["-c", "CH", "-t", "TXT", name])
                #expect(id.status == "noerror" && id.text.contains("\"mirror-7\""), "\(id.text)")
            }
        }
        for (name, type, rclass) in [("authors.bind", "TXT", "CH"), ("version.bind", "A", "CH"), ("version.bind", "TXT", "HS"), ("com", "NS", "CH")] {
            let refused = try query(.dig, e, ["-c", rclass, "-t", type, name])
            #expect(refused.status == "refused", "\(name) \(type) \(rclass)\n\(refused.text)")
        }

        let dir2 = try Scratch()
        defer { dir2.remove() }
        let quiet = try RootmirrorServer(data: CompiledData.root2023, directory: dir2, extra: ["--chaos-identity", "", "--chaos-version", ""])
        defer { quiet.stop() }
        for name in ["version.bind", "id.server", "hostname.bind"] {
            let off = try query(.dig, quiet.endpoint, ["-c", "CH", "-t", "TXT", name])
            #expect(off.status == "refused", "\(off.text)")
        }
    }

    @Test("--max-udp-payload caps what EDNS clients are offered and sent")
    func payloadCap() throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let server = try RootmirrorServer(data: CompiledData.root2023, directory: dir, extra: ["--max-udp-payload", "600"])
        defer { server.stop() }
        let reply = try query(.dig, server.endpoint, ["+bufsize=4096", "+ignore", "net", "NS"])
        #expect(reply.ednsPayload == 600, "\(reply.text)")
        let size = reply.lower.components(separatedBy: "msg size  rcvd: ").last.flatMap { Int($0.prefix(while: \.isNumber)) }
        #expect((size ?? 9999) <= 600, "\(reply.text)")
    }

    @Test("a missing or invalid data.cdb, or a bad argument, is one line and a non-zero exit")
    func startErrors() throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let garbage = dir.file("garbage.cdb")
        try Array(repeating: UInt8(0x41), count: 5000).withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: garbage)) }
        let empty = dir.file("empty.cdb")
        _ = FileManager.default.createFile(atPath: empty, contents: Data())
        let listen = Endpoint.random().description
        for (args, status, text) in [
            (["-d", dir.file("missing.cdb")], Int32(1), "cannot open"),
            (["-d", garbage], 1, "cannot load"),
            (["-d", empty], 1, "cannot load"),
            (["-d", CompiledData.root2023, "--listen", "0.0.0.0:53"], 64, "wildcard"),
            (["-d", CompiledData.root2023, "--listen", "[::1"], 64, "--listen: bad address '[::1': missing ']'"),
            (["-d", CompiledData.root2023, "--listen", "127.0.0.1:99999"], 64, "bad port"),
            (["-d", CompiledData.root2023, "--user", "no-such-user-here"], 1, "no such user"),
            (["-d", CompiledData.root2023, "--http", "localhost:8053"], 64, "--http: bad address 'localhost:8053'"),
            (["-d", CompiledData.root2023, "--upstream", "a.root-servers.net"], 64, "--upstream: bad address"),
            (["-d", CompiledData.root2023, "--check-interval", "5x"], 64, "--check-interval: '5x' is not a duration"),
            (["-d", CompiledData.root2023, "--warning-age", "0"], 64, "--warning-age: '0' is not a duration"),
            (["-d", CompiledData.root2023, "--check-timeout", "0"], 64, "--check-timeout must be above 0"),
            (["-d", CompiledData.root2023, "--on-expiry", "maybe"], 64, "Please provide one of 'forward', 'servfail' or 'serve'"),
        ] {
            // Under timeout(1): a case wrongly accepted would start serving and
            // fail the test with 124, not hang it.
            // --http off unless the case is about it: the default address may be another server's.
            let http = args.contains("--http") ? [] : ["--http", "off"]
            let result = try run("/usr/bin/timeout", ["20", Paths.binary, "serve", "--listen", listen, "--check-interval", "off"] + http + args)
            let lines = result.stderr.split(separator: "\n")
            #expect(result.status == status, "\(args): \(result.stderr)")
            #expect(lines.count == 1 && lines[0].hasPrefix("rootmirror: ") && lines[0].contains(text), "\(args): \(result.stderr)")
        }
    }

    @Test("a second server on a taken address fails with one line; the first keeps serving")
    func secondInstance() throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let first = try RootmirrorServer(data: CompiledData.root2023, directory: dir, extra: ["--udp-threads", "1"])
        defer { first.stop() }
        let second = try run("/usr/bin/timeout", ["20", Paths.binary, "serve", "-d", CompiledData.root2026, "--listen", first.endpoint.description,
                                                  "--http", "off", "--check-interval", "off", "--udp-threads", "1"])
        #expect(second.status == 1 && second.stderr == "rootmirror: cannot bind tcp \(first.endpoint): Address already in use\n", "\(second.stderr)")
        #expect(try query(.dig, first.endpoint, [".", "SOA", "+short"]).text.contains("2023051100"))
    }

    /// The scene of a second instance on one host: both on the default HTTP
    /// address, which the first holds. In a network namespace of the test's
    /// own, so that 127.0.0.1:8053 there is nobody else's.
    @Test("a second server whose HTTP address is taken, the default one, fails with one line")
    func takenHTTPAddress() throws {
        let script = """
            ip link set lo up
            "$0" serve -d "$1" --listen 127.0.0.1:5301 --check-interval off --udp-threads 1 2>/dev/null & first=$!
            i=0; until ss -ltn | grep -q '127.0.0.1:8053 ' || [ $i -ge 200 ]; do i=$((i+1)); sleep 0.1; done
            timeout 20 "$0" serve -d "$1" --listen 127.0.0.1:5302 --check-interval off --udp-threads 1; echo "status=$?"
            kill $first; wait $first
            """
        let result = try run("/usr/bin/unshare", ["--net", "/bin/sh", "-c", script, Paths.binary, CompiledData.root2023])
        #expect(result.output == "status=1\n", "\(result.output)\(result.stderr)")
        #expect(result.stderr == "rootmirror: cannot bind http 127.0.0.1:8053: Address already in use (--http ADDR:PORT chooses another, --http off none)\n",
                "\(result.stderr)")
    }

    @Test("SIGTERM and SIGINT stop the server cleanly")
    func gracefulStop() throws {
        for signal in [SIGTERM, SIGINT] {
            let dir = try Scratch()
            defer { dir.remove() }
            let server = try RootmirrorServer(data: CompiledData.root2023, directory: dir)
            defer { server.stop() }
            server.daemon.signal(signal)
            server.daemon.process.waitUntilExit()
            #expect(server.daemon.process.terminationReason == .exit && server.daemon.process.terminationStatus == 0)
            #expect(server.daemon.log.contains("stopped"), "\(server.daemon.log)")
        }
    }
}

@Suite("serve drops privileges")
struct PrivilegeTests {
    @Test("--user and --chroot: bound as root, then serving as nobody inside the directory")
    func userAndChroot() throws {
        let dir = try Scratch()
        defer { dir.remove() }
        // The jail must be searchable by the user, and data.cdb readable.
        let jail = dir.file("jail")
        try FileManager.default.createDirectory(atPath: jail, withIntermediateDirectories: false)
        chmod(dir.path, 0o755)
        chmod(jail, 0o755)
        try FileManager.default.copyItem(atPath: CompiledData.root2023, toPath: jail + "/data.cdb")
        chmod(jail + "/data.cdb", 0o644)
        let server = try RootmirrorServer(data: "data.cdb", directory: dir, extra: ["--user", "nobody", "--chroot", jail])
        defer { server.stop() }

        let status = try String(contentsOfFile: "/proc/\(server.daemon.pid)/status", encoding: .utf8)
        let uids = status.split(separator: "\n").first { $0.hasPrefix("Uid:") }?.split(whereSeparator: \.isWhitespace).dropFirst()
        #expect(uids.map(Array.init) == ["65534", "65534", "65534", "65534"], "\(status)")
        let root = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(server.daemon.pid)/root")
        #expect(root == jail)

        let udp = try UDPClient(server.endpoint)
        let reply = try Message(parsing: try #require(udp.exchange(makeQuery(".", .soa))))
        #expect(reply.serialInAnswer == 2023051100)
        let tcp = try TCPClient(server.endpoint)
        tcp.write(TCPClient.framed(makeQuery("com", .ns, id: 5)))
        #expect(try Message(parsing: try #require(tcp.readFrame())).authority.count == 13)

        // Reloads run as the user, inside the jail.
        try ReloadTests.install(CompiledData.root2026, at: jail + "/data.cdb")
        server.daemon.signal(SIGHUP)
        #expect(server.daemon.wait(until: { server.daemon.log.contains("2023051100 -> 2026082200") }), "\(server.daemon.log)")
    }
}
