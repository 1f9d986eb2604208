import Foundation
import Testing
import TestSupport

let zone2023 = "\(sharedZones)/root-2023051100.zone.gz"
let zone2026a = "\(sharedZones)/root-2026082200-nosig.zone.gz"
let zone2026b = "\(sharedZones)/root-2026082201-nosig.zone.gz"

/// The shared root files carry no whole DNSSEC chain (2026: signatures
/// removed; 2023: expired, and no ZONEMD): tests of everything else switch
/// the zone's own proofs off, as an operator of a private zone would.
let unsignedZone = ["--dnssec", "off", "--zonemd", "off"]

func bytes(_ path: String) -> [UInt8] {
    Array(FileManager.default.contents(atPath: path) ?? Data())
}

/// Whether `path` still holds exactly `installed` (a Bool, so that a failure
/// does not print a megabyte of bytes).
func unchanged(_ path: String, _ installed: [UInt8]) -> Bool {
    bytes(path) == installed
}

/// A data.cdb directory, and the refresh command pointed at it.
struct Target {
    let scratch: Scratch
    var data: String { "\(scratch.path)/data.cdb" }

    init() throws { scratch = try Scratch() }

    func refresh(_ arguments: [String]) throws -> ProcessResult {
        try run(rootmirrorBinary, ["refresh", "-d", data] + arguments)
    }

    /// What a refresh may leave: the data, its lock, its state, its trust
    /// anchors and its journal; nothing temporary.
    var onlyFinalFiles: Bool {
        scratch.files.allSatisfy { ["data.cdb", "data.cdb.lock", "data.cdb.state", "data.cdb.anchors", "data.cdb.journal"].contains($0) }
    }
}

/// One line on stderr, starting "rootmirror: ", and nothing on stdout.
func expectOneLineFailure(_ result: ProcessResult, status: Int32, mentions: String,
                          sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(result.status == status, "stderr: \(result.stderr)", sourceLocation: sourceLocation)
    let lines = result.stderr.split(separator: "\n")
    #expect(lines.count == 1 && result.stderr.hasPrefix("rootmirror: "), "stderr: \(result.stderr)", sourceLocation: sourceLocation)
    #expect(result.stderr.contains(mentions), "stderr: \(result.stderr)", sourceLocation: sourceLocation)
    #expect(result.output.isEmpty, "stdout: \(result.output)", sourceLocation: sourceLocation)
}

/// The serial `endpoint` answers for `. SOA`, or nil when it does not answer.
func servedSerial(_ endpoint: Endpoint) throws -> String? {
    let dig = try run("/usr/bin/dig", ["+short", "+time=1", "+tries=1", "@\(endpoint.host)", "-p", "\(endpoint.port)", ".", "SOA"])
    // An SOA line is "mname rname serial refresh retry expire minimum";
    // anything else (dig's own error lines) means no answer yet.
    for line in dig.output.split(separator: "\n") {
        let fields = line.split(separator: " ")
        if fields.count == 7, fields[2].allSatisfy(\.isNumber) { return String(fields[2]) }
    }
    return nil
}

/// What `serve` on `data` shows at `/health` once it holds `key`, and its
/// `/metrics` then; the server is stopped before this returns.
func serveReports(data: String, once key: String) throws -> (health: String, metrics: String) {
    let http = Endpoint.random()
    let serve = Process()
    serve.executableURL = URL(fileURLWithPath: rootmirrorBinary)
    serve.arguments = ["serve", "-d", data, "--listen", Endpoint.random().description, "--http", http.description,
                       "--check-interval", "off"]
    serve.standardError = FileHandle.nullDevice
    try serve.run()
    defer {
        serve.terminate()
        serve.waitUntilExit()
    }
    var health = ""
    for _ in 0..<100 where !health.contains(key) {
        usleep(50_000)
        health = try run("/usr/bin/curl", ["-s", "--max-time", "5", "http://\(http)/health"]).output
    }
    return (health, try run("/usr/bin/curl", ["-s", "--max-time", "5", "http://\(http)/metrics"]).output)
}
