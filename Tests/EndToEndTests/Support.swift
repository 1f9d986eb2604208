import Foundation
import TestSupport

/// Distinct loopback addresses of this test's own; each server on them uses
/// port 53, since dnscache sends every query to port 53.
func loopbackHosts(_ count: Int) -> [String] {
    var hosts: [String] = []
    while hosts.count < count {
        let host = Endpoint.random().host
        if !hosts.contains(host) { hosts.append(host) }
    }
    return hosts
}

func port53(_ host: String) -> Endpoint { Endpoint(host: host, port: 53) }

/// A small root zone: `tlds` delegated to the name server at each address,
/// with in-zone glue. Negative answers live 5 seconds (SOA TTL and MINIMUM),
/// so that a resolver that cached "no such TLD" asks again soon.
func rootZone(serial: UInt32, rootServer: String, tlds: [(name: String, server: String)]) -> String {
    var lines = [
        "$TTL 60",
        ". 5 IN SOA a.root-servers.net. nstld.verisign-grs.com. \(serial) 1800 900 604800 5",
        ". IN NS a.root-servers.net.",
        "a.root-servers.net. IN A \(rootServer)",
    ]
    for tld in tlds {
        lines.append("\(tld.name). IN NS ns1.\(tld.name).")
        lines.append("ns1.\(tld.name). IN A \(tld.server)")
    }
    return lines.joined(separator: "\n") + "\n"
}

/// Asks `condition` every 100 ms until it holds, for at most `seconds`: the
/// generous bound only keeps a broken run from hanging.
func poll(seconds: Int = 60, _ condition: () throws -> Bool) rethrows -> Bool {
    for _ in 0..<(seconds * 10) {
        if try condition() { return true }
        usleep(100_000)
    }
    return try condition()
}

/// The addresses `dnsip` (djbdns's resolver client) finds for `name`,
/// asking the dnscache at `cache`.
func dnsip(_ name: String, cache: String) throws -> String {
    try run("/usr/bin/env", ["DNSCACHEIP=\(cache)", "/usr/bin/dnsip", name]).output
        .trimmingCharacters(in: .whitespacesAndNewlines)
}

/// The account the servers in these tests drop to.
let unprivileged = "nobody"

/// Debian's tinydns serving `data` (tinydns-data's text format) on
/// `host`:53, as the authoritative server of some TLDs.
func startTinydns(data: String, host: String, in scratch: Scratch) throws -> Daemon {
    let root = scratch.file("tinydns-\(host)")
    try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    try data.write(toFile: root + "/data", atomically: true, encoding: .utf8)
    let compiled = try run("/usr/sbin/tinydns-data", [], directory: root)
    guard compiled.status == 0 else { throw TestFailure("tinydns-data: \(compiled.stderr)") }
    return try Daemon(
        name: "tinydns", executable: "/usr/bin/env",
        arguments: ["IP=\(host)", "ROOT=\(root)", "UID=65534", "GID=65534", "/usr/sbin/tinydns"],
        logPath: scratch.file("tinydns-\(host).log"))
}

/// Debian's dnscache on `host`:53, configured by hand as dnscache-conf
/// would: its root servers are `rootServer` alone (root/servers/@), queries
/// are allowed from 127.* (root/ip/127), and it sends from its own address.
func startDnscache(host: String, rootServer: String, in scratch: Scratch) throws -> Daemon {
    let root = scratch.file("dnscache")
    for directory in ["servers", "ip"] {
        try FileManager.default.createDirectory(atPath: "\(root)/\(directory)", withIntermediateDirectories: true)
    }
    try "\(rootServer)\n".write(toFile: "\(root)/servers/@", atomically: true, encoding: .utf8)
    _ = FileManager.default.createFile(atPath: "\(root)/ip/127", contents: nil)
    return try Daemon(
        name: "dnscache", executable: "/usr/bin/env",
        arguments: ["IP=\(host)", "IPSEND=\(host)", "CACHESIZE=1000000", "ROOT=\(root)", "UID=65534", "GID=65534",
                    "/usr/sbin/dnscache"],
        logPath: scratch.file("dnscache.log"))
}
