import Foundation
import Testing
import TestSupport

/// The whole path a host's lookups take, with real parts on loopback
/// addresses of the test's own: dnscache, whose only root server is
/// `rootmirror serve`, which refers it to tinydns for each TLD. Then
/// `rootmirror refresh` installs, from an HTTP mirror, a signed zone with a
/// new TLD, and dnscache finds names under it with neither program restarted.
@Suite struct DnscacheTests {
    @Test func dnscacheResolvesThroughRootmirrorAndSeesARefreshedTLD() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let hosts = loopbackHosts(5)
        let (rootHost, alphaHost, betaHost, cacheHost, mirrorHost) = (hosts[0], hosts[1], hosts[2], hosts[3], hosts[4])

        // alpha on one tinydns; beta and gamma (not yet in the root zone) on another.
        let alpha = try startTinydns(data: """
            .alpha:\(alphaHost):ns1.alpha:60
            +www.alpha:10.1.1.1:60
            """ + "\n", host: alphaHost, in: scratch)
        defer { alpha.stop() }
        let betaGamma = try startTinydns(data: """
            .beta:\(betaHost):ns1.beta:60
            +www.beta:10.2.2.2:60
            .gamma:\(betaHost):ns1.gamma:60
            +host.gamma:10.3.3.3:60
            +www.gamma:10.3.3.4:60
            """ + "\n", host: betaHost, in: scratch)
        defer { betaGamma.stop() }

        let data = scratch.file("data.cdb")
        let zone = scratch.write("root.zone", Array(rootZone(
            serial: 2026112301, rootServer: rootHost, tlds: [("alpha", alphaHost), ("beta", betaHost)]).utf8))
        let compiled = try run(rootmirrorBinary, ["compile", zone, "-o", data])
        try #require(compiled.status == 0, "\(compiled.stderr)")

        let rootmirror = try RootmirrorServer(data: data, directory: scratch, endpoint: port53(rootHost))
        defer { rootmirror.stop() }
        let dnscache = try startDnscache(host: cacheHost, rootServer: rootHost, in: scratch)
        defer { dnscache.stop() }

        #expect(try poll { try dnsip("www.alpha", cache: cacheHost) == "10.1.1.1" }, "dnscache: \(dnscache.log)")
        #expect(try digShort(port53(cacheHost), "www.beta", "A") == "10.2.2.2\n")
        let unknown = try run("/usr/bin/dig", ["+time=5", "@\(cacheHost)", "www.gamma", "A"])
        #expect(unknown.output.contains("status: NXDOMAIN"), "\(unknown.output)")

        // A newer zone with gamma, signed by the test's key, on a local mirror.
        let key = try SigningKey()
        let mirror = try Mirror(host: mirrorHost)
        let newer = try scratch.gzip("newer.zone", Array(rootZone(
            serial: 2026112302, rootServer: rootHost,
            tlds: [("alpha", alphaHost), ("beta", betaHost), ("gamma", betaHost)]).utf8))
        try mirror.publish(newer, signedBy: key)
        let refresh = try run(rootmirrorBinary, ["refresh", "-d", data, "--url", mirror.server.base, "--keyring", key.publicKey,
                                                  "--min-tlds", "1", "--retries", "0", "--quiet", "--dnssec", "off", "--zonemd", "off"])
        try #require(refresh.status == 0, "\(refresh.stderr)")

        // A name dnscache never asked about, then (once the 5-second
        // NXDOMAIN has expired) the one it was told does not exist.
        #expect(try poll { try dnsip("host.gamma", cache: cacheHost) == "10.3.3.3" }, "rootmirror: \(rootmirror.daemon.log)")
        #expect(try poll { try dnsip("www.gamma", cache: cacheHost) == "10.3.3.4" })
        #expect(rootmirror.daemon.isRunning && dnscache.isRunning, "neither may have been restarted")
        #expect(try dnsip("www.alpha", cache: cacheHost) == "10.1.1.1")
    }
}
