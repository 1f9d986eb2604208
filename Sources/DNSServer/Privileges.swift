#if canImport(Glibc)
import Glibc
#endif

/// Least privilege, as tinydns does it: bind while root, then confine the
/// process to a directory and become an unprivileged user, so that a flaw
/// in the answering code gives an attacker neither root nor the file system.
enum Privileges {
    struct Account {
        let name: String
        let uid: uid_t
        let gid: gid_t
    }

    /// Looked up before `chroot`, since /etc/passwd is outside the jail.
    static func account(named name: String) throws(ServeError) -> Account {
        guard let entry = getpwnam(name) else { throw ServeError("--user \(name): no such user") }
        return Account(name: name, uid: entry.pointee.pw_uid, gid: entry.pointee.pw_gid)
    }

    static func confine(to directory: String) throws(ServeError) {
        guard chdir(directory) == 0 else { throw ServeError("--chroot \(directory): \(errnoDescription())") }
        guard chroot(".") == 0 else { throw ServeError("--chroot \(directory): \(errnoDescription())") }
        guard chdir("/") == 0 else { throw ServeError("--chroot \(directory): \(errnoDescription())") }
    }

    /// Groups first (only root may change them), then the user; then a
    /// check that root cannot be regained. glibc applies these to every
    /// thread of the process, including those already running.
    static func become(_ account: Account) throws(ServeError) {
        var gid = account.gid
        guard setgroups(1, &gid) == 0 else { throw ServeError("--user \(account.name): setgroups: \(errnoDescription())") }
        guard setgid(account.gid) == 0 else { throw ServeError("--user \(account.name): setgid: \(errnoDescription())") }
        guard setuid(account.uid) == 0 else { throw ServeError("--user \(account.name): setuid: \(errnoDescription())") }
        if account.uid != 0 && setuid(0) == 0 { throw ServeError("--user \(account.name): could regain root") }
    }
}
