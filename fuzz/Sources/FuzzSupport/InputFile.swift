#if canImport(Glibc)
import Glibc
#endif

/// Runs `body` with the input written to a file named `name` in a
/// directory of this process's own, for the readers that take a path
/// (data.cdb, a zone file that may be gzip, the files kept beside
/// data.cdb); the file is removed afterwards.
public func withInputFile(_ data: UnsafePointer<UInt8>?, _ size: Int, named name: String, _ body: (String) -> Void) {
    let directory = "/tmp/rootmirror-fuzz.\(getpid())"
    mkdir(directory, 0o700)
    let path = "\(directory)/\(name)"
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    precondition(fd >= 0, "cannot write \(path)")
    let bytes = input(data, size)
    precondition(size == 0 || write(fd, bytes.baseAddress, size) == size, "cannot write \(path)")
    close(fd)
    defer { unlink(path) }
    body(path)
}
