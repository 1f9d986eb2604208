import CZlib
import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The text of a master file, in one buffer that fills while it is read.
///
/// A gzip file is inflated on a second thread while the parser walks what
/// has arrived so far: on the root zone inflating is a third of the work, and
/// overlapping it with parsing is what brings a compile near the time of
/// `gzip -d` alone. The producer publishes whole lines only, so the parser
/// never sees a token cut in two; no temporary file is written.
///
/// The cap on the *decompressed* size keeps a gzip bomb, or a mirror serving
/// something else, from exhausting memory; the buffer is reserved at the cap
/// but only the pages written become resident.
public final class ZoneText: @unchecked Sendable {
    public static let defaultMaximumSize = 64 << 20

    public let path: String
    let base: UnsafeMutablePointer<UInt8>
    let capacity: Int
    /// How long the text will probably be: the file's size, or for gzip the
    /// length its trailer claims (ISIZE, RFC 1952), capped. The parser sizes
    /// its output from it once, instead of growing it step by step.
    let expectedSize: Int
    /// Bytes the reader may use; ends on a line boundary until `complete`.
    private let published = Atomic<Int>(0)
    private let complete = Atomic<Bool>(false)
    /// Written by the producer before `complete` is set, read after.
    private var failure: ZoneError?
    /// Set by the first `finish` of a streamed text.
    private let ended = Atomic<Bool>(false)
    private let progress = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)

    /// Text already in memory (tests, tools).
    public init(bytes: [UInt8], path: String = "-") {
        self.path = path
        capacity = bytes.count
        expectedSize = bytes.count
        base = Self.reserve(capacity)
        base.initialize(from: bytes, count: bytes.count)
        published.store(bytes.count, ordering: .releasing)
        complete.store(true, ordering: .releasing)
        finished.signal()
    }

    /// Text that a producer on another thread appends to in whole lines (a
    /// zone transfer as it is read), parsed as it arrives. The producer
    /// ends it with `finish`, and must, or the reader waits for ever.
    public init(streaming path: String, maximumSize: Int = defaultMaximumSize) {
        self.path = path
        capacity = maximumSize + 1
        // Unknown until the end: the parser grows its output as it goes.
        expectedSize = 0
        base = Self.reserve(capacity)
    }

    /// Appends whole lines to a streamed text; past `maximumSize` it takes
    /// nothing and returns false: the producer stops, and ends the text with
    /// `finish` once it has recorded why, so that whoever the end wakes
    /// finds the reason already there.
    public func append(_ lines: [UInt8]) -> Bool {
        guard !ended.load(ordering: .acquiring) else { return false }
        let length = published.load(ordering: .relaxed)
        guard length + lines.count < capacity else { return false }
        lines.withUnsafeBufferPointer { if let start = $0.baseAddress { (base + length).update(from: start, count: $0.count) } }
        publish(length + lines.count)
        return true
    }

    /// The end of a streamed text, or the error that ended it; only the
    /// first call counts.
    public func finish(_ error: ZoneError? = nil) {
        guard !ended.exchange(true, ordering: .acquiringAndReleasing) else { return }
        if let error {
            fail(error)
        } else {
            publish(published.load(ordering: .relaxed), final: true)
        }
        finished.signal()
    }

    /// Opens `path`, plain or gzip. Errors opening the file are thrown here;
    /// errors while reading or inflating surface from the parser.
    public init(path: String, maximumSize: Int = defaultMaximumSize) throws(ZoneError) {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ZoneError(file: path, message: "cannot open: \(errnoText())") }
        var magic: (UInt8, UInt8) = (0, 0)
        let isGzip = pread(fd, &magic, 2, 0) == 2 && magic == (0x1f, 0x8b)
        var st = stat()
        fstat(fd, &st)
        // One byte over the cap, so that exceeding it is detectable.
        capacity = (isGzip ? maximumSize : min(Int(st.st_size), maximumSize)) + 1
        var trailer: UInt32 = 0
        if isGzip && st.st_size >= 4 && pread(fd, &trailer, 4, off_t(st.st_size) - 4) == 4 {
            expectedSize = min(Int(UInt32(littleEndian: trailer)), maximumSize)
        } else {
            expectedSize = min(Int(st.st_size), maximumSize)
        }
        base = Self.reserve(capacity)
        if isGzip {
            DispatchQueue.global(qos: .userInitiated).async { [self] in
                inflateAll(fd: fd, maximumSize: maximumSize)
                close(fd)
            }
        } else {
            readAll(fd: fd, maximumSize: maximumSize)
            close(fd)
        }
    }

    deinit {
        finished.wait()
        munmap(base, max(capacity, 1))
    }

    /// Anonymous memory, committed page by page as it is written, with
    /// transparent huge pages where the kernel offers them: a few faults
    /// instead of one per 4 KiB of zone text. Not inherited by fork: `refresh`
    /// spawns gpg (through gpgme's fork and exec) while this buffer is being
    /// filled, and a child that only execs must not make the kernel
    /// copy-on-write the huge pages under the inflating thread.
    private static func reserve(_ capacity: Int) -> UnsafeMutablePointer<UInt8> {
        let p = mmap(nil, max(capacity, 1), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let p, p != MAP_FAILED else { fatalError("cannot reserve \(capacity) bytes for zone text") }
        madvise(p, max(capacity, 1), 14 /* MADV_HUGEPAGE */)
        madvise(p, max(capacity, 1), 10 /* MADV_DONTFORK */)
        return p.assumingMemoryBound(to: UInt8.self)
    }

    /// Blocks until more than `position` bytes are readable or the input is
    /// complete; returns the readable length (== position at the end).
    func waitForMore(after position: Int) -> Int {
        while true {
            let available = published.load(ordering: .acquiring)
            if available > position { return available }
            if complete.load(ordering: .acquiring) { return published.load(ordering: .acquiring) }
            progress.wait()
        }
    }

    /// Waits for the producer and returns its error, if any: an error in the
    /// input (corrupt gzip) explains a parse error it may have caused.
    func inputError() -> ZoneError? {
        while !complete.load(ordering: .acquiring) { progress.wait() }
        return failure
    }

    /// The whole text, once complete (for tests and tools).
    public func bytes() throws(ZoneError) -> [UInt8] {
        if let failure = inputError() { throw failure }
        return Array(UnsafeBufferPointer(start: base, count: published.load(ordering: .acquiring)))
    }

    private func publish(_ length: Int, final: Bool = false) {
        published.store(length, ordering: .releasing)
        if final { complete.store(true, ordering: .releasing) }
        progress.signal()
    }

    private func fail(_ error: ZoneError) {
        failure = error
        complete.store(true, ordering: .releasing)
        progress.signal()
    }

    private func readAll(fd: Int32, maximumSize: Int) {
        defer { finished.signal() }
        var length = 0
        while true {
            let n = read(fd, base + length, capacity - length)
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { return fail(ZoneError(file: path, message: "read failed: \(errnoText())")) }
            if n == 0 { break }
            length += n
            guard length <= maximumSize else {
                return fail(ZoneError(file: path, message: "larger than the \(maximumSize >> 20) MiB limit"))
            }
        }
        publish(length, final: true)
    }

    /// zlib in gzip mode (16 + MAX_WBITS: header and CRC trailer checked);
    /// several members in a row are accepted, as `gzip -d` does.
    private func inflateAll(fd: Int32, maximumSize: Int) {
        defer { finished.signal() }
        var stream = z_stream()
        guard inflateInit2_(&stream, 16 + MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            return fail(ZoneError(file: path, message: "cannot initialise zlib"))
        }
        defer { inflateEnd(&stream) }
        let chunk = UnsafeMutablePointer<UInt8>.allocate(capacity: 1 << 16)
        defer { chunk.deallocate() }
        var produced = 0
        var memberEnded = false
        var padding = false
        var sawInput = false
        while true {
            var n = read(fd, chunk, 1 << 16)
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { return fail(ZoneError(file: path, message: "read failed: \(errnoText())")) }
            if n == 0 { break }
            var input = chunk
            if memberEnded {
                // Zero padding after the last member is ignored, as gzip -d
                // does (tape blocks); another member may follow; anything
                // else is garbage.
                if padding || input[0] == 0 {
                    guard (0..<n).allSatisfy({ input[$0] == 0 }) else {
                        return fail(ZoneError(file: path, message: "corrupt gzip data: trailing garbage"))
                    }
                    padding = true
                    continue
                }
                guard input[0] == 0x1f else { return fail(ZoneError(file: path, message: "corrupt gzip data: trailing garbage")) }
                inflateReset(&stream)
                memberEnded = false
            }
            sawInput = true
            while n > 0 {
                stream.next_in = input
                stream.avail_in = uInt(n)
                stream.next_out = base + produced
                stream.avail_out = uInt(capacity - produced)
                let status = inflate(&stream, Z_NO_FLUSH)
                let consumed = n - Int(stream.avail_in)
                input += consumed
                n -= consumed
                let before = produced
                produced = capacity - Int(stream.avail_out)
                guard produced <= maximumSize else {
                    return fail(ZoneError(file: path, message: "decompressed size exceeds the \(maximumSize >> 20) MiB limit (gzip bomb?)"))
                }
                switch status {
                case Z_OK, Z_BUF_ERROR:
                    break
                case Z_STREAM_END:
                    memberEnded = true
                    if n > 0 && input[0] == 0 {
                        guard (0..<n).allSatisfy({ input[$0] == 0 }) else {
                            return fail(ZoneError(file: path, message: "corrupt gzip data: trailing garbage"))
                        }
                        padding = true
                        n = 0
                    } else if n > 0 {
                        guard input[0] == 0x1f else { return fail(ZoneError(file: path, message: "corrupt gzip data: trailing garbage")) }
                        inflateReset(&stream)
                        memberEnded = false
                    }
                default:
                    let why = stream.msg.map { String(cString: $0) } ?? "error \(status)"
                    return fail(ZoneError(file: path, message: "corrupt gzip data: \(why)"))
                }
                // Publish up to the last complete line.
                if produced > before, let newline = lastNewline(from: before, to: produced) {
                    publish(newline + 1)
                }
            }
        }
        guard sawInput, memberEnded else {
            return fail(ZoneError(file: path, message: "truncated gzip data: unexpected end of file"))
        }
        publish(produced, final: true)
    }

    private func lastNewline(from start: Int, to end: Int) -> Int? {
        var i = end - 1
        while i >= start {
            if base[i] == 0x0a { return i }
            i -= 1
        }
        return nil
    }
}

/// The C library's text for the current errno, for one-line error messages.
package func errnoText() -> String {
    String(cString: strerror(errno))
}
