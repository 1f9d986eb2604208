import Foundation

/// A server process started by a test. `stop()` must run on every path
/// (tests call it in `defer`); it sends SIGTERM, then SIGKILL if needed.
public final class Daemon: @unchecked Sendable {
    public let process = Process()
    public let logPath: String
    public let name: String

    /// `environment` is added to the test's own.
    public init(name: String, executable: String, arguments: [String], logPath: String, environment: [String: String] = [:]) throws {
        self.name = name
        self.logPath = logPath
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = FileHandle(forWritingAtPath: logPath)!
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    public var pid: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }
    public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    public func signal(_ signal: Int32) { kill(pid, signal) }

    public func stop() {
        guard process.isRunning else { return }
        kill(pid, SIGTERM)
        for _ in 0..<200 where process.isRunning { usleep(25_000) }
        if process.isRunning {
            kill(pid, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// Waits (bounded) until `condition` holds, or the process exits.
    public func wait(until condition: () -> Bool, attempts: Int = 400) -> Bool {
        for _ in 0..<attempts {
            if condition() { return true }
            if !process.isRunning { return condition() }
            usleep(25_000)
        }
        return condition()
    }
}

/// `rootmirror serve` on an endpoint of its own.
public final class RootmirrorServer {
    public let daemon: Daemon
    public let endpoint: Endpoint

    /// Starts the server and waits for its "serving" log line. A port that
    /// happens to be taken is retried on another endpoint.
    public init(data: String, directory: Scratch, extra: [String] = [], endpoint fixed: Endpoint? = nil) throws {
        var lastLog = ""
        for attempt in 0..<5 {
            let endpoint = fixed ?? Endpoint.random()
            let daemon = try Daemon(
                name: "rootmirror", executable: rootmirrorBinary,
                arguments: ["serve", "-d", data, "--listen", endpoint.description, "--udp-threads", "2"] + Self.quiet(extra) + extra,
                logPath: directory.file("rootmirror-\(attempt).log"))
            if daemon.wait(until: { daemon.log.contains("serving") }) {
                self.daemon = daemon
                self.endpoint = endpoint
                return
            }
            daemon.stop()
            lastLog = daemon.log
            guard lastLog.contains("cannot bind"), fixed == nil else { break }
        }
        throw TestFailure("rootmirror did not start: \(lastLog)")
    }

    public func stop() { daemon.stop() }

    /// A test server asks no real root server and opens no HTTP port unless
    /// the test says otherwise: loopback addresses of the tests' own only.
    /// Nor does it forward expired data (the 2023 root's signatures expired
    /// long ago) to the zone's root servers: it serves it unless the test
    /// names an upstream or an expiry action.
    private static func quiet(_ extra: [String]) -> [String] {
        (extra.contains("--http") ? [] : ["--http", "off"]) + (extra.contains("--check-interval") ? [] : ["--check-interval", "off"])
            + (extra.contains("--upstream") || extra.contains("--on-expiry") ? [] : ["--on-expiry", "serve"])
    }
}

/// Debian's NSD in the foreground, serving `zones` (name, file) on each
/// `listen` address (`ADDR` or `ADDR@PORT`), with rate limiting off: tests
/// and benchmarks send many queries from one address. `zoneOptions` are
/// added to every zone (a secondary's `request-xfr:`, say); `clauses`
/// after the server's (a `key:`).
public func startNSD(zones: [(name: String, file: String)], listen: [String], in dir: Scratch,
                     zoneOptions: [String] = [], clauses: String = "") throws -> Daemon {
    let state = dir.file("nsd")
    try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
    let config = """
        server:
        \(listen.map { "    ip-address: \($0)" }.joined(separator: "\n"))
            server-count: 1
            rrl-ratelimit: 0
            username: ""
            chroot: ""
            zonesdir: "\(dir.path)"
            pidfile: "\(state)/nsd.pid"
            xfrdfile: "\(state)/xfrd.state"
            zonelistfile: "\(state)/zone.list"
            database: ""
            logfile: "\(state)/nsd.log"
            verbosity: 1
        remote-control:
            control-enable: no
        \(clauses)
        \(zones.map { "zone:\n    name: \"\($0.name)\"\n    zonefile: \"\($0.file)\"" + zoneOptions.map { "\n    \($0)" }.joined() }.joined(separator: "\n"))

        """
    try config.write(toFile: dir.file("nsd.conf"), atomically: true, encoding: .utf8)
    return try Daemon(name: "nsd", executable: "/usr/sbin/nsd", arguments: ["-d", "-c", dir.file("nsd.conf")], logPath: dir.file("nsd.log"))
}

/// Debian's BIND in the foreground, in `directory`, on 127.0.0.1 (named
/// listens only on addresses configured on an interface) at `port`, queried
/// from loopback only; `options` go in its options block, `rest` after it.
public func startNamed(in directory: String, port: UInt16, options: [String], rest: String) throws -> Daemon {
    try """
        options {
            directory "\(directory)";
            pid-file "\(directory)/named.pid";
            managed-keys-directory "\(directory)";
            listen-on port \(port) { 127.0.0.1; };
            listen-on-v6 { none; };
            allow-query { 127.0.0.0/8; };
        \(options.map { "    \($0);" }.joined(separator: "\n"))
        };
        controls { };
        \(rest)

        """.write(toFile: "\(directory)/named.conf", atomically: true, encoding: .utf8)
    return try Daemon(name: "named", executable: "/usr/sbin/named", arguments: ["-g", "-4", "-c", "\(directory)/named.conf"],
                      logPath: "\(directory)/named.log")
}

/// Debian's Unbound in the foreground, in `directory`, answering loopback
/// clients on `endpoint`; `server` lines go in its server clause, `rest`
/// (a stub-zone or auth-zone clause) after it.
public func startUnbound(in directory: String, endpoint: Endpoint, server: [String], rest: String) throws -> Daemon {
    try """
        server:
            interface: \(endpoint.host)@\(endpoint.port)
            do-not-query-localhost: no
            do-ip6: no
            username: ""
            chroot: ""
            directory: "\(directory)"
            pidfile: "\(directory)/unbound.pid"
            use-syslog: no
            logfile: ""
            access-control: 127.0.0.0/8 allow
        \(server.map { "    \($0)" }.joined(separator: "\n"))
        remote-control:
            control-enable: no
        \(rest)

        """.write(toFile: "\(directory)/unbound.conf", atomically: true, encoding: .utf8)
    return try Daemon(name: "unbound", executable: "/usr/sbin/unbound", arguments: ["-d", "-c", "\(directory)/unbound.conf"],
                      logPath: "\(directory)/unbound.log")
}
