import DNSWire
import Foundation
import Synchronization
import Testing
import TestSupport

/// Hot reload: data.cdb replaced by rename, or SIGHUP, while queries flow.
@Suite("serve reloads data.cdb")
struct ReloadTests {
    /// Queries `. SOA` over UDP in a loop until stopped, counting replies
    /// per serial and every query that got no NOERROR answer in time.
    final class SteadyClient: @unchecked Sendable {
        private let client: UDPClient
        private let state = Mutex<(serials: [UInt32: Int], failures: [String], running: Bool)>(([:], [], true))
        private var thread: Thread?

        init(_ endpoint: Endpoint) throws {
            client = try UDPClient(endpoint, timeoutMilliseconds: 2000)
        }

        func start() {
            let thread = Thread { [self] in
                var id: UInt16 = 0
                while state.withLock({ $0.running }) {
                    id &+= 1
                    let reply = client.exchange(makeQuery(".", .soa, id: id)).flatMap { try? Message(parsing: $0) }
                    state.withLock {
                        if let reply, reply.rcode == .noError, let serial = reply.serialInAnswer {
                            $0.serials[serial, default: 0] += 1
                        } else {
                            $0.failures.append("query \(id): \(reply.map { "\($0.rcode)" } ?? "no reply")")
                        }
                    }
                }
            }
            self.thread = thread
            thread.start()
        }

        func stop() {
            state.withLock { $0.running = false }
            while thread?.isFinished == false { usleep(5000) }
        }

        var serials: [UInt32: Int] { state.withLock { $0.serials } }
        var failures: [String] { state.withLock { $0.failures } }

        /// Waits (bounded) until `count` more answers with `serial` arrived.
        func waitForAnswers(serial: UInt32, count: Int = 50) -> Bool {
            let start = serials[serial] ?? 0
            for _ in 0..<600 {
                if (serials[serial] ?? 0) >= start + count { return true }
                usleep(10_000)
            }
            return false
        }
    }

    /// Puts `source`'s bytes at `target` the way `rootmirror compile` does:
    /// a temporary file beside it, renamed over it.
    static func install(_ source: String, at target: String) throws {
        let temporary = target + ".new"
        try? FileManager.default.removeItem(atPath: temporary)
        try FileManager.default.copyItem(atPath: source, toPath: temporary)
        guard rename(temporary, target) == 0 else { throw TestFailure("rename: \(String(cString: strerror(errno)))") }
    }

    static func install(bytes: [UInt8], at target: String) throws {
        let temporary = target + ".new"
        try Data(bytes).write(to: URL(fileURLWithPath: temporary))
        guard rename(temporary, target) == 0 else { throw TestFailure("rename: \(String(cString: strerror(errno)))") }
    }

    static let old: UInt32 = 2023051100
    static let new: UInt32 = 2026082200

    @Test("replacing data.cdb by rename and SIGHUP switch data without a failed query; bad files are refused")
    func reloadUnderQueries() throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let data = dir.file("data.cdb")
        try Self.install(CompiledData.root2023, at: data)
        let server = try RootmirrorServer(data: data, directory: dir)
        defer { server.stop() }
        let client = try SteadyClient(server.endpoint)
        client.start()
        defer { client.stop() }
        #expect(client.waitForAnswers(serial: Self.old))

        // Renamed over: the watcher notices within its poll interval.
        try Self.install(CompiledData.root2026, at: data)
        #expect(client.waitForAnswers(serial: Self.new), "new serial never served: \(client.serials)\n\(server.daemon.log)")

        // A garbage file, then a truncated cdb, then an empty one: refused, the 2026 data keeps serving.
        let realBytes = Array(try Data(contentsOf: URL(fileURLWithPath: CompiledData.root2023)))
        // The last: cut inside the hash tables, every record still there to read in order.
        let cutInTables = Array(realBytes.prefix(realBytes.count - 87))
        for (index, bad) in [[UInt8](repeating: 0x41, count: 5000), Array(realBytes.prefix(realBytes.count / 2)), [], cutInTables]
            .enumerated() {
            try Self.install(bytes: bad, at: data)
            #expect(server.daemon.wait(until: { server.daemon.log.components(separatedBy: "reload refused").count - 1 > index }),
                    "bad file \(index) not refused:\n\(server.daemon.log)")
            #expect(client.waitForAnswers(serial: Self.new, count: 20))
        }
        #expect(server.daemon.log.contains("corrupt cdb file: the header's hash tables end at byte"), "\(server.daemon.log)")
        // SIGHUP retries the same (still bad) file: refused again, still serving.
        server.daemon.signal(SIGHUP)
        #expect(server.daemon.wait(until: { server.daemon.log.components(separatedBy: "reload refused").count - 1 > 4 }))
        #expect(client.waitForAnswers(serial: Self.new, count: 20))

        // A good file again: the older zone is served (the operator's choice; no serial check here).
        try Self.install(CompiledData.root2023, at: data)
        #expect(client.waitForAnswers(serial: Self.old), "\(server.daemon.log)")

        // SIGHUP reloads even when the file looks unchanged.
        server.daemon.signal(SIGHUP)
        #expect(server.daemon.wait(until: { server.daemon.log.contains("reason=SIGHUP records") }), "\(server.daemon.log)")
        #expect(client.waitForAnswers(serial: Self.old))

        client.stop()
        #expect(client.failures.isEmpty, "failed queries during reloads: \(client.failures.prefix(10))")
        #expect(server.daemon.isRunning)
    }

    static func residentKiB(_ pid: Int32) -> Int {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }

    /// A big file loaded and queried (from many source ports, so that every
    /// UDP worker answers from it), then the root again with no query at
    /// all, so no worker wakes for one: the memory the big index took goes
    /// back to the system. 300,000 records take tens of MB more than the root.
    @Test("memory goes back after a reload to smaller data")
    func memoryReturnsAfterReload() throws {
        let dir = try Scratch()
        defer { dir.remove() }
        var text = ". 86400 IN SOA a.root. nstld. 1 1800 900 604800 86400\n. 518400 IN NS a.root.\na.root. 1 IN A 192.0.2.1\n"
        for i in 0..<300_000 { text += "h\(i). 60 IN TXT \"record \(i)\"\n" }
        let big = dir.file("big.cdb")
        let compiled = try run(Paths.binary, ["compile", dir.write("big.zone", Array(text.utf8)), "-o", big])
        try #require(compiled.status == 0, "\(compiled.stderr)")
        let data = dir.file("data.cdb")
        try Self.install(CompiledData.root2023, at: data)
        let server = try RootmirrorServer(data: data, directory: dir)
        defer { server.stop() }
        // Settled: start-up's memory shed (one interval after "serving").
        usleep(1_500_000)
        let before = Self.residentKiB(server.daemon.pid)

        try Self.install(big, at: data)
        // Loading 300,000 records takes seconds in a debug build on a busy machine.
        try #require(server.daemon.wait(until: { server.daemon.log.contains("records=300003") }, attempts: 2400), "\(server.daemon.log)")
        for port in 0..<32 {
            let reply = try #require(try UDPClient(server.endpoint).exchange(makeQuery(".", .soa, id: UInt16(port))))
            #expect(try Message(parsing: reply).serialInAnswer == 1)
        }
        let loaded = Self.residentKiB(server.daemon.pid)
        try #require(loaded > before + 20_000, "the big index took only \(loaded - before) KiB")

        try Self.install(CompiledData.root2023, at: data)
        try #require(server.daemon.wait(until: { server.daemon.log.components(separatedBy: "reloaded").count - 1 >= 2 }, attempts: 2400))
        // Polled, up to 20 s: not how fast, only that it does come back.
        var after = Self.residentKiB(server.daemon.pid)
        for _ in 0..<80 where after > before + 8_000 {
            usleep(250_000)
            after = Self.residentKiB(server.daemon.pid)
        }
        #expect(after <= before + 8_000, "resident \(before) KiB before, \(loaded) with the big file, \(after) after going back")
    }

    @Test("a data.cdb that disappears keeps the old data serving")
    func fileRemoved() throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let data = dir.file("data.cdb")
        try Self.install(CompiledData.root2023, at: data)
        let server = try RootmirrorServer(data: data, directory: dir)
        defer { server.stop() }
        try FileManager.default.removeItem(atPath: data)
        server.daemon.signal(SIGHUP)
        #expect(server.daemon.wait(until: { server.daemon.log.contains("reload refused") }), "\(server.daemon.log)")
        let udp = try UDPClient(server.endpoint)
        let reply = try Message(parsing: try #require(udp.exchange(makeQuery(".", .soa))))
        #expect(reply.serialInAnswer == Self.old)
    }
}
