import CZlib
#if canImport(Glibc)
import Glibc
#endif

/// Reads a master file into memory, inflating gzip on the fly.
///
/// The whole text is held in memory (the root zone is about 2 MB) because the
/// parser walks it as one buffer; the cap on the *decompressed* size is what
/// keeps a gzip bomb, or a mirror serving something else, from exhausting
/// memory. No temporary file is written.
public enum ZoneInput {
    public static let defaultMaximumSize = 64 << 20

    public static func read(path: String, maximumSize: Int = defaultMaximumSize) throws(ZoneError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ZoneError(file: path, message: "cannot open: \(errnoText())") }
        defer { close(fd) }
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var next = try readChunk(fd, into: &chunk, path: path)
        if next.count >= 2 && next[0] == 0x1f && next[1] == 0x8b {
            let inflater = try Inflater(path: path, maximumSize: maximumSize, sizeHint: gzipSizeHint(fd))
            while !next.isEmpty {
                try inflater.feed(next)
                next = try readChunk(fd, into: &chunk, path: path)
            }
            return try inflater.finish()
        }
        var out: [UInt8] = []
        while !next.isEmpty {
            guard out.count + next.count <= maximumSize else {
                throw ZoneError(file: path, message: "larger than the \(maximumSize >> 20) MiB limit")
            }
            out.append(contentsOf: next)
            next = try readChunk(fd, into: &chunk, path: path)
        }
        return out
    }

    private static func readChunk(_ fd: Int32, into chunk: inout [UInt8], path: String) throws(ZoneError) -> ArraySlice<UInt8> {
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n >= 0 { return chunk[0..<n] }
            if errno == EINTR { continue }
            throw ZoneError(file: path, message: "read failed: \(errnoText())")
        }
    }

    /// The gzip trailer's ISIZE (uncompressed length mod 2^32), to size the
    /// output once instead of growing it; only a hint, the cap still rules.
    private static func gzipSizeHint(_ fd: Int32) -> Int {
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_size >= 18 else { return 0 }
        var trailer = [UInt8](repeating: 0, count: 4)
        guard pread(fd, &trailer, 4, st.st_size - 4) == 4 else { return 0 }
        let isize = Int(trailer[0]) | Int(trailer[1]) << 8 | Int(trailer[2]) << 16 | Int(trailer[3]) << 24
        return min(isize, Int(st.st_size) * 16)
    }

    /// zlib inflate in gzip mode, compressed chunks in, straight into one
    /// output buffer; multi-member files are accepted (as `gzip -d` does).
    final class Inflater {
        private var stream = z_stream()
        private var output: [UInt8]
        private var produced = 0
        private var memberEnded = false
        private let path: String
        private let maximumSize: Int

        init(path: String, maximumSize: Int, sizeHint: Int) throws(ZoneError) {
            self.path = path
            self.maximumSize = maximumSize
            // One byte over the cap, so that exceeding it is detectable.
            output = [UInt8](repeating: 0, count: min(max(sizeHint + 1, 1 << 16), maximumSize + 1))
            // 16 + MAX_WBITS: expect a gzip header and trailer (CRC, length).
            guard inflateInit2_(&stream, 16 + MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
                throw ZoneError(file: path, message: "cannot initialise zlib")
            }
        }

        deinit { inflateEnd(&stream) }

        func feed(_ input: ArraySlice<UInt8>) throws(ZoneError) {
            var input = input
            while !input.isEmpty {
                if memberEnded {
                    // Another gzip member follows; anything else is garbage.
                    guard input.first == 0x1f else { throw ZoneError(file: path, message: "corrupt gzip data: trailing garbage") }
                    inflateReset(&stream)
                    memberEnded = false
                }
                let consumed = try inflateSome(input)
                input = input.dropFirst(consumed)
            }
        }

        /// One inflate call; returns how much input it consumed.
        private func inflateSome(_ input: ArraySlice<UInt8>) throws(ZoneError) -> Int {
            if produced == output.count {
                guard output.count <= maximumSize else { throw bomb() }
                output.append(contentsOf: repeatElement(0, count: min(output.count, maximumSize + 1 - output.count)))
            }
            let (status, consumed, made) = input.withUnsafeBytes { inBytes in
                output.withUnsafeMutableBytes { outBytes in
                    stream.next_in = UnsafeMutablePointer(mutating: inBytes.bindMemory(to: Bytef.self).baseAddress)
                    stream.avail_in = uInt(inBytes.count)
                    stream.next_out = outBytes.bindMemory(to: Bytef.self).baseAddress! + produced
                    stream.avail_out = uInt(outBytes.count - produced)
                    let rc = inflate(&stream, Z_NO_FLUSH)
                    return (rc, inBytes.count - Int(stream.avail_in), outBytes.count - produced - Int(stream.avail_out))
                }
            }
            produced += made
            guard produced <= maximumSize else { throw bomb() }
            switch status {
            case Z_OK, Z_BUF_ERROR:
                break
            case Z_STREAM_END:
                memberEnded = true
            default:
                let why = stream.msg.map { String(cString: $0) } ?? "error \(status)"
                throw ZoneError(file: path, message: "corrupt gzip data: \(why)")
            }
            return consumed
        }

        private func bomb() -> ZoneError {
            ZoneError(file: path, message: "decompressed size exceeds the \(maximumSize >> 20) MiB limit (gzip bomb?)")
        }

        func finish() throws(ZoneError) -> [UInt8] {
            // Input exhausted: drain what zlib still holds, then insist
            // that the last member ended with its trailer.
            while !memberEnded {
                let before = produced
                _ = try inflateSome([])
                if produced == before && !memberEnded {
                    throw ZoneError(file: path, message: "truncated gzip data: unexpected end of file")
                }
            }
            output.removeLast(output.count - produced)
            return output
        }
    }
}

func errnoText() -> String {
    String(cString: strerror(errno))
}
