import DNSWire
import Foundation
import Testing
import TestSupport

/// serve under systemd's `Type=notify`: the messages arrive on a socket the
/// test listens on, as systemd's own.
@Suite("serve notifies systemd")
struct NotifyTests {
    /// serve on the 2023 root zone in `dir`, with `environment` added.
    func startServe(in dir: Scratch, environment: [String: String]) throws -> (daemon: Daemon, endpoint: Endpoint, data: String) {
        let data = dir.file("data.cdb")
        try ReloadTests.install(CompiledData.root2023, at: data)
        let endpoint = Endpoint.random()
        let daemon = try Daemon(
            name: "rootmirror", executable: rootmirrorBinary,
            arguments: ["serve", "-d", data, "--listen", endpoint.description, "--udp-threads", "2",
                        "--http", "off", "--check-interval", "off"],
            logPath: dir.file("serve.log"), environment: environment)
        return (daemon, endpoint, data)
    }

    /// READY=1 only once queries are answered; RELOADING=1 and READY=1 with
    /// the new serial around each reload; WATCHDOG=1 while idle; STOPPING=1.
    @Test func readyReloadWatchdogStop() throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let listener = try NotifyListener(path: dir.file("notify"))
        // Pings every 200 ms: idle workers must wake on their own to earn them.
        let (daemon, endpoint, data) = try startServe(in: dir, environment: [
            "NOTIFY_SOCKET": listener.address, "WATCHDOG_USEC": "400000",
        ])
        defer { daemon.stop() }

        let start = listener.messages(until: { $0.hasPrefix("READY=1") })
        try #require(start.last?.hasPrefix("READY=1\nSTATUS=serving serial 2023051100, freshness ") == true, "\(start)\n\(daemon.log)")
        #expect(start.count == 1, "nothing before READY=1: \(start)")
        // Ready means bound and loaded: the first query is answered, on both transports.
        let udp = try UDPClient(endpoint)
        #expect(try Message(parsing: try #require(udp.exchange(makeQuery(".", .soa)))).serialInAnswer == ReloadTests.old)
        let tcp = try TCPClient(endpoint)
        tcp.write(TCPClient.framed(makeQuery(".", .soa)))
        #expect(try Message(parsing: try #require(tcp.readFrame())).serialInAnswer == ReloadTests.old)

        // No queries now: the pings keep coming.
        for _ in 0..<3 {
            #expect(listener.messages(until: { $0 == "WATCHDOG=1" }).last == "WATCHDOG=1", "\(daemon.log)")
        }

        daemon.signal(SIGHUP)
        var reload = listener.messages(until: { $0.hasPrefix("READY=1") }).filter { $0 != "WATCHDOG=1" }
        #expect(reload.count == 2 && reload[0].hasPrefix("RELOADING=1\nMONOTONIC_USEC="), "\(reload)")
        #expect(reload.last?.hasPrefix("READY=1\nSTATUS=serving serial 2023051100,") == true, "\(reload)")

        try ReloadTests.install(CompiledData.root2026, at: data)
        reload = listener.messages(until: { $0.hasPrefix("READY=1") }).filter { $0 != "WATCHDOG=1" }
        #expect(reload.count == 2 && reload[0].hasPrefix("RELOADING=1\n"), "\(reload)")
        #expect(reload.last?.hasPrefix("READY=1\nSTATUS=serving serial 2026082200,") == true, "\(reload)")

        daemon.signal(SIGTERM)
        #expect(listener.messages(until: { $0 == "STOPPING=1" }).last == "STOPPING=1")
    }

    /// Without WATCHDOG_USEC, or with it meant for another process, serve
    /// says it is ready and never pings.
    @Test func noWatchdogUnlessAskedForThisProcess() throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let listener = try NotifyListener(path: dir.file("notify"))
        let (daemon, _, _) = try startServe(in: dir, environment: [
            "NOTIFY_SOCKET": listener.address, "WATCHDOG_USEC": "400000", "WATCHDOG_PID": "1",
        ])
        defer { daemon.stop() }
        #expect(listener.messages(until: { $0.hasPrefix("READY=1") }).count == 1, "\(daemon.log)")
        // The reload's messages follow READY=1 directly: no ping in between,
        // though several ping intervals passed.
        usleep(1_000_000)
        daemon.signal(SIGHUP)
        let next = listener.messages(until: { $0.hasPrefix("READY=1") })
        #expect(next.count == 2 && next[0].hasPrefix("RELOADING=1"), "\(next)")
    }

    @Test func anUnusableNotifySocketStopsTheStart() throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let (daemon, _, _) = try startServe(in: dir, environment: ["NOTIFY_SOCKET": dir.file("absent")])
        defer { daemon.stop() }
        daemon.process.waitUntilExit()
        #expect(daemon.process.terminationStatus == 1)
        #expect(daemon.log == "rootmirror: NOTIFY_SOCKET=\(dir.file("absent")): No such file or directory\n")
    }
}
