import DNSWire
import Foundation
import Testing
import TestSupport

/// Paths the integration tests need: the built binary, the shared zones.
enum Paths {
    static let packageRoot = TestSupport.packageRoot

    static let binary = rootmirrorBinary
    static let zones = sharedZones

    static let signedRootZone = zones + "/root-2023051100.zone.gz"
    static let newerRootZone = zones + "/root-2026082200-nosig.zone.gz"
    /// In the repository: code a test depends on is not borrowed from beside it.
    static let makeQueries = packageRoot + "/bench/make-queries.py"
}

/// data.cdb files compiled once per test run, shared read-only by the
/// tests. They live under .build (no test-run teardown exists to remove a
/// temporary directory), rewritten by each run.
enum CompiledData {
    static let directory: String = {
        let path = Paths.packageRoot + "/.build/serve-test-data"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }()

    /// The 2023051100 root zone, DNSSEC stripped, as `rootmirror compile` writes it.
    static let root2023: String = compile(Paths.signedRootZone, "root-2023.cdb")
    /// The same zone compiled with --keep-dnssec: every record, signed answers.
    static let signedRoot2023: String = compile(Paths.signedRootZone, "root-2023-signed.cdb", ["--keep-dnssec"])
    /// A later root zone (2026082200), for reloads.
    static let root2026: String = compile(Paths.newerRootZone, "root-2026.cdb")

    private static func compile(_ zone: String, _ name: String, _ options: [String] = []) -> String {
        let output = directory + "/" + name
        let result = try! run(Paths.binary, ["compile", zone, "-o", output] + options)
        precondition(result.status == 0, "compile \(zone) failed: \(result.output)")
        return output
    }
}

// MARK: - DNS clients on plain sockets

/// A connected UDP socket to a server, with a receive timeout so that a
/// lost reply is reported as nil rather than hanging the test.
final class UDPClient: @unchecked Sendable {
    let fd: Int32

    init(_ endpoint: Endpoint, timeoutMilliseconds: Int = 2000) throws {
        fd = try connectedSocket(SOCK_DGRAM, to: endpoint, timeoutMilliseconds: timeoutMilliseconds)
    }

    deinit { close(fd) }

    func send(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) }
    }

    func receive() -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return n < 0 ? nil : Array(buffer[0..<n])
    }

    /// Sends a query and returns the reply with the same ID (stale replies skipped).
    func exchange(_ query: [UInt8]) -> [UInt8]? {
        send(query)
        while let reply = receive() {
            if reply.count >= 2 && reply[0] == query[0] && reply[1] == query[1] { return reply }
        }
        return nil
    }
}

// MARK: - Queries and replies

/// Builds a query the way a resolver does, via DNSWire's encoder.
func makeQuery(_ name: String, _ type: RRType, id: UInt16 = UInt16.random(in: 1...0xFFFF), rclass: RRClass = .in,
               edns: EDNS? = nil) -> [UInt8] {
    Message.query(id: id, question: Question(name: try! DNSName(text: name), type: type, rclass: rclass), edns: edns).encoded()
}

/// Types the query generator names that DNSWire has no mnemonic for.
func queryType(_ text: String) -> RRType? {
    if text == "HTTPS" { return RRType(65) }
    return RRType(mnemonic: text)
}

extension Message {
    var serialInAnswer: UInt32? {
        answers.first(where: { $0.type == .soa }).flatMap { SOAFields(rdata: $0.rdata)?.serial }
    }
}

/// A copy of a compiled zone that looks written `age` seconds ago.
func agedCopy(of source: String, in dir: Scratch, name: String = "data.cdb", age: TimeInterval) throws -> String {
    let path = dir.file(name)
    try? FileManager.default.removeItem(atPath: path)
    try FileManager.default.copyItem(atPath: source, toPath: path)
    try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -age)], ofItemAtPath: path)
    return path
}
