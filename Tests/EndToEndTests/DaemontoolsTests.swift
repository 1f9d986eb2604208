import Foundation
import Testing
import TestSupport

/// `service/daemontools/rootmirror` as shipped, under Debian's daemontools:
/// svscan starts it (and its multilog), it answers, and supervise starts it
/// again after the server is killed.
@Suite struct DaemontoolsTests {
    @Test func serviceDirectoryStartsAnswersAndIsRestartedAfterKill() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let host = loopbackHosts(1)[0]

        let dataDirectory = scratch.file("data")
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        let zone = scratch.write("root.zone", Array(rootZone(serial: 2026112301, rootServer: host, tlds: [("alpha", host)]).utf8))
        let compiled = try run(rootmirrorBinary, ["compile", zone, "-o", dataDirectory + "/data.cdb"])
        try #require(compiled.status == 0, "\(compiled.stderr)")

        // The service directory copied as is; only its settings are this test's.
        let services = scratch.file("service")
        let service = services + "/rootmirror"
        try FileManager.default.createDirectory(atPath: services, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: packageRoot + "/service/daemontools/rootmirror", toPath: service)
        let binDirectory = URL(fileURLWithPath: rootmirrorBinary).deletingLastPathComponent().path
        for (name, value) in ["ROOT": dataDirectory, "IP": host, "USER": unprivileged, "PATH": "\(binDirectory):/usr/bin:/bin"] {
            try "\(value)\n".write(toFile: "\(service)/env/\(name)", atomically: true, encoding: .utf8)
        }
        // No log/main: the packaged example has none, and log/run makes it.

        let svscan = try Daemon(name: "svscan", executable: "/usr/bin/svscan", arguments: [services], logPath: scratch.file("svscan.log"))
        defer { stopSupervised(svscan: svscan, service: service, under: scratch.path) }

        let server = port53(host)
        #expect(try poll { try digShort(server, ".", "SOA").contains("2026112301") }, "log: \(serviceLog(service))")
        let first = try #require(supervisedPID(service))
        #expect(kill(first, SIGKILL) == 0)
        #expect(poll { supervisedPID(service).map { $0 != first } ?? false }, "svstat: \(svstat(service))")
        #expect(try poll { try digShort(server, ".", "SOA").contains("2026112301") }, "log: \(serviceLog(service))")
        #expect(serviceLog(service).contains("serving"))
    }

    func svstat(_ service: String) -> String {
        (try? run("/usr/bin/svstat", [service]))?.output ?? ""
    }

    /// The pid `svstat` reports for a service that is up.
    func supervisedPID(_ service: String) -> Int32? {
        let status = svstat(service)
        guard let start = status.range(of: "up (pid ")?.upperBound else { return nil }
        return Int32(status[start...].prefix(while: \.isNumber))
    }

    /// What multilog wrote to log/main/current (tai64n-stamped lines).
    func serviceLog(_ service: String) -> String {
        (try? String(contentsOfFile: service + "/log/main/current", encoding: .utf8)) ?? ""
    }

    /// Stops everything svscan started, then svscan. The service directory is
    /// moved out of svscan's sight first (so it starts nothing again), each
    /// supervise is told to stop its service and exit (`svc -dx`), and
    /// whatever still runs in the scratch directory after that (a process
    /// that ignored the signal) is killed. svscan goes last: Foundation sees
    /// a child exit only once every process that inherited from it has.
    func stopSupervised(svscan: Daemon, service: String, under directory: String) {
        let stopped = directory + "/stopped-service"
        if (try? FileManager.default.moveItem(atPath: service, toPath: stopped)) != nil {
            let supervised = [stopped, stopped + "/log"]
            _ = try? run("/usr/bin/svc", ["-dx"] + supervised)
            _ = poll(seconds: 10) { supervised.allSatisfy { (try? run("/usr/bin/svok", [$0]))?.status != 0 } }
        }
        for pid in processes(workingIn: directory) { kill(pid, SIGKILL) }
        svscan.stop()
    }

    /// Processes whose working directory is `directory` or below it
    /// (supervise and multilog in the service directory, the server in its chroot).
    func processes(workingIn directory: String) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry in
            guard let pid = Int32(entry),
                  let cwd = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(entry)/cwd"),
                  cwd == directory || cwd.hasPrefix(directory + "/") else { return nil }
            return pid
        }
    }
}
