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
        var first = try readChunk(fd, into: &chunk, path: path)
        if first.count >= 2 && first[0] == 0x1f && first[1] == 0x8b {
            let inflater = try Inflater(path: path, maximumSize: maximumSize)
            while !first.isEmpty {
                try inflater.feed(first)
                first = try readChunk(fd, into: &chunk, path: path)
            }
            return try inflater.finish()
        }
        var out: [UInt8] = []
        while !first.isEmpty {
            guard out.count + first.count <= maximumSize else {
                throw ZoneError(file: path, message: "larger than the \(maximumSize >> 20) MiB limit")
            }
            out.append(contentsOf: first)
            first = try readChunk(fd, into: &chunk, path: path)
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

    /// zlib inflate in gzip mode, streaming chunks in and output out, with
    /// multi-member files accepted (as `gzip -d` does).
    final class Inflater {
        private var stream = z_stream()
        private var output: [UInt8] = []
        private var scratch = [UInt8](repeating: 0, count: 1 << 18)
        private var memberEnded = false
        private let path: String
        private let maximumSize: Int

        init(path: String, maximumSize: Int) throws(ZoneError) {
            self.path = path
            self.maximumSize = maximumSize
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

        private func inflateSome(_ input: ArraySlice<UInt8>) throws(ZoneError) -> Int {
            let status: Int32
            let (rc, consumed, produced) = input.withUnsafeBytes { inBytes in
                scratch.withUnsafeMutableBytes { outBytes in
                    stream.next_in = UnsafeMutablePointer(mutating: inBytes.bindMemory(to: Bytef.self).baseAddress)
                    stream.avail_in = uInt(inBytes.count)
                    stream.next_out = outBytes.bindMemory(to: Bytef.self).baseAddress
                    stream.avail_out = uInt(outBytes.count)
                    let rc = inflate(&stream, Z_NO_FLUSH)
                    return (rc, inBytes.count - Int(stream.avail_in), outBytes.count - Int(stream.avail_out))
                }
            }
            status = rc
            guard output.count + produced <= maximumSize else {
                throw ZoneError(file: path, message: "decompressed size exceeds the \(maximumSize >> 20) MiB limit (gzip bomb?)")
            }
            output.append(contentsOf: scratch[0..<produced])
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

        func finish() throws(ZoneError) -> [UInt8] {
            // Input exhausted: drain what zlib still buffers, then insist
            // that the last member ended with its trailer.
            while !memberEnded {
                let before = output.count
                _ = try inflateSome([])
                if output.count == before && !memberEnded {
                    throw ZoneError(file: path, message: "truncated gzip data: unexpected end of file")
                }
            }
            return output
        }
    }
}

func errnoText() -> String {
    String(cString: strerror(errno))
}
