import CDBStore
import FoundationEssentials
import ZoneFile
#if canImport(Glibc)
import Glibc
#endif

/// The temporary files of one refresh, all in one directory beside data.cdb
/// (`data.cdb.refresh.PID`): the downloaded zone and signature, the private
/// GnuPG home and the new data.cdb until it is renamed into place. Beside data.cdb, not in /tmp, so that a large download
/// is on the file system the operator sized for it and one recursive remove
/// clears everything; `remove()` runs on every path out of a refresh.
///
/// A run killed with -9 cannot clean up, so each run first removes what
/// dead runs left: their workspaces, and the temporaries of dead processes
/// that `DataStore.removeStaleTemporaries` removes.
public final class Workspace {
    public let path: String
    public var gnupgHome: String { "\(path)/gnupg" }

    /// Creates the workspace for this process. Call with the run lock held.
    public init(data: String) throws(RefreshError) {
        path = "\(data).refresh.\(getpid())"
        Self.removeTree(path)
        guard mkdir(path, 0o700) == 0 else { throw RefreshError(.local, "\(path): cannot create: \(errnoText())") }
        guard mkdir(gnupgHome, 0o700) == 0 else {
            let why = errnoText()
            Self.removeTree(path)
            throw RefreshError(.local, "\(gnupgHome): cannot create: \(why)")
        }
    }

    public func file(_ name: String) -> String { "\(path)/\(name)" }

    public func remove() { Self.removeTree(path) }

    /// Removes leftovers of runs that died beside `data`. Workspaces are
    /// only made under the run lock, which the caller holds, so any other
    /// one is stale; temporary files may belong to a live `compile`, so
    /// those are removed only when their process is gone.
    public static func removeStale(beside data: String) {
        DataStore.removeStaleTemporaries(beside: data)
        for (path, kind, pid) in DataStore.siblings(of: data) where kind == "refresh" && pid != getpid() {
            removeTree(path)
        }
    }

    static func removeTree(_ path: String) {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        if st.st_mode & S_IFMT == S_IFDIR {
            try? FileManager.default.removeItem(atPath: path)
        } else {
            unlink(path)
        }
    }
}
