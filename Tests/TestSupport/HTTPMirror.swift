import Foundation

/// Copies a file over whatever is at `to`.
public func copy(_ from: String, to: String) throws {
    try? FileManager.default.removeItem(atPath: to)
    try FileManager.default.copyItem(atPath: from, toPath: to)
}

/// A real HTTP server on a loopback address (127.0.0.1 unless told) and a
/// port the kernel picks: python3's http.server, serving `root` with
/// Last-Modified and ETag and answering conditional requests with 304, plus
/// misbehaviours under path prefixes: `/hang/` accepts and never answers,
/// `/stall/` sends the headers and half the body and then nothing,
/// `/redirect/` answers 302 to the same path without the prefix, `/flaky/`
/// answers 503 to the first request for each path. Every request is logged
/// (path, conditional headers and User-Agent) so tests can see what the client asked.
/// Stopped when the value goes away.
public final class HTTPServer {
    public let root: String
    public let host: String
    public let port: Int
    private let process = Process()
    private let scratch: Scratch

    public var base: String { "http://\(host):\(port)/" }

    /// `host`: a loopback address to listen on.
    public init(root: String, host: String = "127.0.0.1") throws {
        self.root = root
        self.host = host
        scratch = try Scratch()
        let script = scratch.write("server.py", Array(Self.script.utf8))
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [script, root, "\(scratch.path)/requests.log", host]
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
            throw TestFailure("http server did not start")
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
    public var requests: [String] {
        ((try? String(contentsOfFile: "\(scratch.path)/requests.log", encoding: .utf8)) ?? "")
            .split(separator: "\n").map(String.init)
    }

    /// Waits, without a deadline of its own, until `client` has asked for
    /// `path`: for tests that must act while a client is mid-request. Stops
    /// waiting if the client exits first (the test's checks then fail).
    public func waitForRequest(containing path: String, from client: Process) {
        while client.isRunning && !requests.contains(where: { $0.contains(path) }) { usleep(20_000) }
    }

    static let script = #"""
        import email.utils, http.server, os, sys, threading, time
        root, log_path, host = sys.argv[1], sys.argv[2], sys.argv[3]
        log_lock = threading.Lock()
        seen = set()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                inm, ims = self.headers.get("If-None-Match"), self.headers.get("If-Modified-Since")
                with log_lock, open(log_path, "a") as log:
                    log.write(f"GET {self.path} inm={inm} ims={ims} ua={self.headers.get('User-Agent')}\n")
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

        server = Server((host, 0), Handler)
        print(server.server_address[1], flush=True)
        server.serve_forever()
        """#
}

/// A mirror directory served over HTTP: root.zone.gz and its signature.
public struct Mirror {
    public let directory: Scratch
    public let server: HTTPServer

    public init(host: String = "127.0.0.1") throws {
        directory = try Scratch()
        server = try HTTPServer(root: directory.path, host: host)
    }

    public var zone: String { "\(directory.path)/root.zone.gz" }
    public var signature: String { zone + ".sig" }

    /// Publishes `file` signed by `key` (the signature made over `signed`
    /// instead, when given: a signature that does not match).
    public func publish(_ file: String, signedBy key: SigningKey, signing signed: String? = nil) throws {
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
