/// What this binary is: the package version, and the git commit it was
/// built from when it was built in a checkout (`buildCommit`, written by
/// the BuildCommit plugin before each build).
public enum BuildInfo {
    /// The package version; `make deb` names the package after it.
    public static let version = "0.1.0"

    public static let commit: String? = buildCommit

    /// `0.1.0 (git 1a2b3c4d5e6f)`: what `--version`, `/health` and the
    /// start-up log line say.
    public static var description: String {
        commit.map { "\(version) (git \($0))" } ?? version
    }

    /// refresh's HTTP requests carry it, so a mirror's logs show who asks.
    public static var userAgent: String { "rootmirror/\(version)" }
}
