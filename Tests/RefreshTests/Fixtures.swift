import Foundation
import Testing
import TestSupport

/// The `rootmirror` binary SwiftPM built beside this test bundle: the tests
/// that need a real process (kill -9, two runs at once, exit statuses) run it.
let rootmirrorBinary: String = {
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    return URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("rootmirror").path
}()

let zone2023 = "\(sharedZones)/root-2023051100.zone.gz"
let zone2026a = "\(sharedZones)/root-2026082200-nosig.zone.gz"
let zone2026b = "\(sharedZones)/root-2026082201-nosig.zone.gz"

func bytes(_ path: String) -> [UInt8] {
    Array(FileManager.default.contents(atPath: path) ?? Data())
}

/// Whether `path` still holds exactly `installed` (a Bool, so that a failure
/// does not print a megabyte of bytes).
func unchanged(_ path: String, _ installed: [UInt8]) -> Bool {
    bytes(path) == installed
}

func copy(_ from: String, to: String) throws {
    try? FileManager.default.removeItem(atPath: to)
    try FileManager.default.copyItem(atPath: from, toPath: to)
}

/// A throwaway signing key made the way internic's is used: DSA-1024,
/// detached binary signatures over SHA-1. Lives in its own GnuPG home in a
/// scratch directory; the gpg-agent that signing needs is stopped after
/// every signature and again when the key goes away, so no daemon outlives
/// a test, pass or fail.
final class SigningKey {
    let scratch: Scratch
    let home: String
    /// The armored public key, for --keyring.
    let publicKey: String
    let fingerprint: String

    /// `faketime` (gpg's --faked-system-time, e.g. "20200101T000000") and
    /// `expire` ("1d") make a key that has already expired.
    init(name: String = "rootmirror test signer", faketime: String? = nil, expire: String = "0") throws {
        scratch = try Scratch()
        home = "\(scratch.path)/gnupg"
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let parameters = scratch.write("key.params", Array("""
            Key-Type: DSA
            Key-Length: 1024
            Key-Usage: sign
            Name-Real: \(name)
            Name-Email: test@rootmirror.invalid
            Expire-Date: \(expire)
            %no-protection
            %commit

            """.utf8))
        let generated = try Self.gpg(home, (faketime.map { ["--faked-system-time", $0] } ?? []) + ["--gen-key", parameters])
        guard generated.status == 0 else { throw FixtureError("gpg --gen-key: \(generated.stderr)") }
        let listing = try Self.gpg(home, ["--with-colons", "--list-keys"]).output
        fingerprint = listing.split(separator: "\n").first { $0.hasPrefix("fpr:") }.map { String($0.split(separator: ":", omittingEmptySubsequences: false)[9]) } ?? ""
        publicKey = "\(scratch.path)/public.asc"
        try export()
    }

    deinit { stopAgent() }

    /// A detached binary signature over SHA-1, like internic's root.zone.gz.sig.
    @discardableResult
    func sign(_ file: String, to signature: String? = nil, faketime: String? = nil) throws -> String {
        let output = signature ?? file + ".sig"
        defer { stopAgent() }
        let result = try Self.gpg(home, (faketime.map { ["--faked-system-time", $0] } ?? [])
            + ["--yes", "--digest-algo", "SHA1", "--detach-sign", "-o", output, file])
        guard result.status == 0 else { throw FixtureError("gpg --detach-sign: \(result.stderr)") }
        return output
    }

    /// Revokes the key with the revocation certificate gpg made with it,
    /// and re-exports the public key, now carrying the revocation.
    func revoke() throws {
        let certificate = "\(home)/openpgp-revocs.d/\(fingerprint).rev"
        // gpg puts a ':' before the armor line so the file cannot be imported by accident.
        let text = try String(contentsOfFile: certificate, encoding: .utf8).replacingOccurrences(of: ":-----BEGIN", with: "-----BEGIN")
        let imported = try Self.gpg(home, ["--import", scratch.write("revocation.asc", Array(text.utf8))])
        guard imported.status == 0 else { throw FixtureError("gpg --import revocation: \(imported.stderr)") }
        try export()
    }

    private func export() throws {
        let exported = try Self.gpg(home, ["--armor", "--export", fingerprint])
        guard exported.status == 0, !exported.stdout.isEmpty else { throw FixtureError("gpg --export: \(exported.stderr)") }
        scratch.write("public.asc", exported.stdout)
    }

    private func stopAgent() {
        _ = try? run("/usr/bin/gpgconf", ["--homedir", home, "--kill", "all"])
    }

    static func gpg(_ home: String, _ arguments: [String]) throws -> ProcessResult {
        try run("/usr/bin/gpg", ["--homedir", home, "--batch", "--no-tty"] + arguments)
    }
}

struct FixtureError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A real HTTP server on 127.0.0.1 and a port the kernel picks: python3's
/// http.server, serving `root` with Last-Modified and ETag and answering
/// conditional requests with 304, plus misbehaviours under path prefixes:
/// `/hang/` accepts and never answers, `/stall/` sends the headers and half
/// the body and then nothing, `/redirect/` answers 302 to the same path
/// without the prefix, `/flaky/` answers 503 to the first request for each
/// path. Every request is logged (path and conditional headers) so tests
/// can see what the client asked. Stopped when the value goes away.
final class HTTPServer {
    let root: String
    let port: Int
    private let process = Process()
    private let scratch: Scratch

    var base: String { "http://127.0.0.1:\(port)/" }

    init(root: String) throws {
        self.root = root
        scratch = try Scratch()
        let script = scratch.write("server.py", Array(Self.script.utf8))
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [script, root, "\(scratch.path)/requests.log"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        // The script prints its port once it listens.
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        guard let port = Int(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) else {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            throw FixtureError("http server did not start")
        }
        self.port = port
    }

    deinit {
        // SIGKILL, not terminate(): a child started from a Dispatch worker
        // inherits its blocked signal mask, SIGTERM included.
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// The requests so far, one line each: "GET /path inm=... ims=...".
    var requests: [String] {
        ((try? String(contentsOfFile: "\(scratch.path)/requests.log", encoding: .utf8)) ?? "")
            .split(separator: "\n").map(String.init)
    }

    /// Waits, without a deadline of its own, until `client` has asked for
    /// `path`: for tests that must act while a client is mid-request. Stops
    /// waiting if the client exits first (the test's checks then fail).
    func waitForRequest(containing path: String, from client: Process) {
        while client.isRunning && !requests.contains(where: { $0.contains(path) }) { usleep(20_000) }
    }

    static let script = #"""
        import email.utils, http.server, os, sys, threading, time
        root, log_path = sys.argv[1], sys.argv[2]
        log_lock = threading.Lock()
        seen = set()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                inm, ims = self.headers.get("If-None-Match"), self.headers.get("If-Modified-Since")
                with log_lock, open(log_path, "a") as log:
                    log.write(f"GET {self.path} inm={inm} ims={ims}\n")
                path = self.path
                if path.startswith("/hang/"):
                    time.sleep(3600)
                    return
                if path.startswith("/redirect/"):
                    self.send_response(302)
                    self.send_header("Location", path[len("/redirect"):])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if path.startswith("/flaky/"):
                    path = path[len("/flaky"):]
                    with log_lock:
                        first = path not in seen
                        seen.add(path)
                    if first:
                        return self.empty(503)
                stall = path.startswith("/stall/")
                if stall:
                    path = path[len("/stall"):]
                file = os.path.join(root, path.lstrip("/"))
                if not os.path.isfile(file):
                    return self.empty(404)
                st = os.stat(file)
                etag = '"%x-%x"' % (st.st_size, st.st_mtime_ns)
                modified = email.utils.formatdate(st.st_mtime, usegmt=True)
                if (inm is not None and inm == etag) or (inm is None and ims == modified):
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                with open(file, "rb") as f:
                    body = f.read()
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("ETag", etag)
                self.send_header("Last-Modified", modified)
                self.end_headers()
                if stall:
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    time.sleep(3600)
                    return
                self.wfile.write(body)

            def empty(self, code):
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

        server = Server(("127.0.0.1", 0), Handler)
        print(server.server_address[1], flush=True)
        server.serve_forever()
        """#
}

/// A mirror directory served over HTTP: root.zone.gz and its signature.
struct Mirror {
    let directory: Scratch
    let server: HTTPServer

    init() throws {
        directory = try Scratch()
        server = try HTTPServer(root: directory.path)
    }

    var zone: String { "\(directory.path)/root.zone.gz" }
    var signature: String { zone + ".sig" }

    /// Publishes `file` signed by `key` (the signature made over `signed`
    /// instead, when given: a signature that does not match).
    func publish(_ file: String, signedBy key: SigningKey, signing signed: String? = nil) throws {
        try copy(file, to: zone)
        if let signed {
            let other = "\(directory.path)/other"
            try copy(signed, to: other)
            try key.sign(other, to: signature)
            try FileManager.default.removeItem(atPath: other)
        } else {
            try key.sign(zone, to: signature)
        }
    }
}

/// A data.cdb directory, and the refresh command pointed at it.
struct Target {
    let scratch: Scratch
    var data: String { "\(scratch.path)/data.cdb" }

    init() throws { scratch = try Scratch() }

    func refresh(_ arguments: [String]) throws -> ProcessResult {
        try run(rootmirrorBinary, ["refresh", "-d", data] + arguments)
    }

    /// What a refresh may leave: the data, its lock and its state; nothing temporary.
    var onlyFinalFiles: Bool {
        scratch.files.allSatisfy { ["data.cdb", "data.cdb.lock", "data.cdb.state"].contains($0) }
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
