// swift-tools-version:6.0
import PackageDescription

/// rootmirror: a local DNS root-zone mirror (RFC 8806) in one binary.
///
/// One module per concern, the CLI (`RootMirrorCLI`, swift-argument-parser) only wires them:
/// - `DNSWire`: names, types, records, message parsing and building, reply templates (all wire format).
/// - `ZoneFile`: RFC 1035 master-file parser (gzip input, or an AXFR as it streams in), zone
///   checks and DNSSEC stripping.
/// - `CDBStore`: tinydns-data's data.cdb encoding, written atomically and read back, its structure
///   checked; the files kept beside it (refresh's state, the RFC 5011 trust-anchor state).
/// - `Answering`: the answer-ready index (DO templates for signed data, the AXFR messages and
///   IXFR from the journal), the zone summary it starts from (all `check` reads), and the
///   responder shared by `serve` and `query`, which classifies each packet once for both
///   transports (a reply, a transfer, a NOTIFY, a query to relay).
/// - `Addressing`: IP endpoints and prefixes as operators write them, a DNS exchange over TCP
///   (framed and read with DNSWire), and `OSThread`, the plain POSIX thread that serve's
///   workers and refresh's blocking work run on.
/// - `Freshness`: the SOA monitor, the verdict on how stale the served data is, and when
///   `serve --refresh` refreshes.
/// - `Telemetry`: query counters and the HTTP endpoint (`/health`, `/metrics`), with the
///   trust anchors refresh follows.
/// - `HealthCheck`: `rootmirror check`, the Nagios plugin, from `/health` or on its own.
/// - `DNSServer`: the `serve` transports (batched UDP, TCP on SwiftNIO, transfers out), hot
///   reload, NOTIFY, `--refresh`'s child process, privilege drop, what freshness asks of
///   them (counting, forwarding once the data has expired), and systemd's readiness and
///   watchdog, fed by the answering threads.
///   It, `Answering` and `DNSWire` never import Foundation: `serve`'s memory budget (12 MB
///   resident with the root zone) has no room for it. No module imports full Foundation:
///   where one needs Data, JSONDecoder or FileManager it imports FoundationEssentials, since
///   Foundation itself links ICU and its 34 MB of data (LinkedLibrariesTests holds to it).
/// - `DNSSEC`: trust in the zone from DNS's own proofs: the DNSSEC chain from the trust
///   anchors (swift-crypto) and the ZONEMD digest (RFC 8976), on the parsed zone; `verify`.
/// - `Pipeline`: the compile pipeline `compile` and `refresh` share (parse, verify, strip,
///   check, stage and install data.cdb), with one error that says which step failed. It
///   imports the modules of its steps, `ZoneFile`, `DNSSEC` and `CDBStore`; none of them
///   imports it or needs to see the others' steps.
/// - `TSIG`: transaction signatures (RFC 8945) for transfers and NOTIFY: keys, signing and
///   verifying requests, replies and every message of a transfer (HMAC from swift-crypto).
/// - `Refresh`: fetch (async-http-client, or AXFR), verify (gpgme, pinned key), compile and
///   install; the lock and the state file beside data.cdb; the trust anchors followed through
///   the root's key rollovers (RFC 5011).
/// - `BuildInfo`: the package version and the git commit (the `BuildCommit` plugin).
/// - `ServiceNotify`: systemd's readiness and watchdog protocol (`$NOTIFY_SOCKET`).
/// - `CCDB`, `CGPGME`, `CZlib`, `CNetShim`: Debian's tinycdb, gpgme and zlib; recvmmsg/sendmmsg.
let package = Package(
    name: "rootmirror",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "rootmirror", targets: ["RootMirrorCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.81.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.1.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
    ],
    targets: [
        .systemLibrary(name: "CCDB", pkgConfig: "libcdb", providers: [.apt(["libcdb-dev"])]),
        .systemLibrary(name: "CGPGME", pkgConfig: "gpgme", providers: [.apt(["libgpgme-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),

        /// Writes the git commit into BuildInfo before each build (nil outside a checkout).
        .plugin(name: "BuildCommit", capability: .buildTool()),
        .target(name: "BuildInfo", plugins: ["BuildCommit"]),
        .target(name: "ServiceNotify"),

        .target(name: "DNSWire"),
        .target(name: "ZoneFile", dependencies: ["DNSWire", "CZlib"]),
        .target(name: "CDBStore", dependencies: ["DNSWire", "ZoneFile", "CCDB"]),
        .target(
            name: "DNSSEC",
            dependencies: [
                "DNSWire", "ZoneFile",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ]
        ),
        .target(name: "Pipeline", dependencies: ["DNSWire", "ZoneFile", "DNSSEC", "CDBStore"]),
        .target(name: "TSIG", dependencies: ["DNSWire", "CDBStore", .product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "Answering", dependencies: ["DNSWire", "CDBStore"]),
        .target(name: "Addressing", dependencies: ["DNSWire", .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio")]),
        .target(name: "Freshness", dependencies: ["DNSWire", "Addressing"]),
        .target(
            name: "Telemetry",
            dependencies: [
                "Answering", "CDBStore", "Freshness", "Addressing", "BuildInfo",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        /// recvmmsg/sendmmsg need _GNU_SOURCE, which Swift's Glibc module is not built with.
        .target(name: "CNetShim"),
        .target(
            name: "HealthCheck",
            dependencies: [
                "DNSWire", "CDBStore", "Answering", "Addressing", "Freshness",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
        .target(
            name: "DNSServer",
            dependencies: [
                "DNSWire", "CDBStore", "Answering", "CNetShim", "Addressing", "Freshness", "Telemetry", "BuildInfo", "ServiceNotify", "TSIG",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "Refresh",
            dependencies: [
                "DNSWire", "ZoneFile", "CDBStore", "DNSSEC", "Pipeline", "CGPGME", "Addressing", "BuildInfo", "TSIG",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "RootMirrorCLI",
            dependencies: [
                "DNSWire", "ZoneFile", "CDBStore", "DNSSEC", "Pipeline", "Answering", "Addressing", "Freshness", "DNSServer", "Refresh", "HealthCheck", "BuildInfo", "TSIG",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            // Linked by lld with RELR relocations: Swift's metadata holds
            // tens of thousands of relative relocations, which RELA spells in
            // 24 bytes each and RELR packs into bitmaps (glibc reads them
            // since 2.36, which the package depends on). No dynamic symbol
            // table for the executable's own symbols: nothing loads against
            // them, and with them it was 3 MB bigger. Here rather than on the
            // command line, so that every build (the README's, make's, the
            // benchmarks') links the same way.
            linkerSettings: [.unsafeFlags(["-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs", "-Xlinker", "--no-export-dynamic"])]
        ),

        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "DNSWireTests", dependencies: ["DNSWire"]),
        .testTarget(name: "AddressingTests", dependencies: ["Addressing"]),
        // Checked against real peers too: dnspython, tsig-keygen's files, a transfer from Knot.
        .testTarget(
            name: "TSIGTests",
            dependencies: ["TSIG", "DNSWire", "Addressing", "TestSupport", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .testTarget(name: "ServiceNotifyTests", dependencies: ["ServiceNotify", "TestSupport"]),
        .testTarget(name: "ZoneFileTests", dependencies: ["ZoneFile", "DNSWire", "TestSupport"]),
        .testTarget(name: "DNSSECTests", dependencies: ["DNSSEC", "ZoneFile", "DNSWire", "TestSupport"]),
        // Data.cdb as the compile pipeline writes it (hence Pipeline).
        .testTarget(name: "CDBStoreTests", dependencies: ["CDBStore", "Pipeline", "ZoneFile", "DNSWire", "TestSupport"]),
        .testTarget(name: "AnsweringTests", dependencies: ["Answering", "CDBStore", "ZoneFile", "DNSWire", "TestSupport"]),
        .testTarget(name: "FreshnessTests", dependencies: ["Freshness", "HealthCheck", "Addressing", "DNSWire", "TestSupport"]),
        .testTarget(name: "HealthCheckTests", dependencies: ["HealthCheck", "Freshness", "Telemetry", "Addressing"]),
        .testTarget(name: "TelemetryTests", dependencies: ["Telemetry", "Answering", "Freshness", "Addressing", "BuildInfo", "TestSupport"]),
        // The end-to-end tests run the built `rootmirror` binary (hence RootMirrorCLI).
        .testTarget(name: "RefreshTests", dependencies: ["Refresh", "DNSSEC", "CDBStore", "DNSWire", "BuildInfo", "TestSupport", "RootMirrorCLI"]),
        .testTarget(name: "RootMirrorCLITests", dependencies: ["RootMirrorCLI", "BuildInfo", "TestSupport"]),
        // serve's integration tests drive the built binary with dig, kdig, Knot and NSD.
        .testTarget(name: "ServeTests", dependencies: ["DNSWire", "DNSServer", "RootMirrorCLI", "TestSupport"]),
        // Real parts end to end: dnscache through serve to tinydns, refresh from an HTTP mirror,
        // the daemontools service directory under svscan, `make install` into a scratch root.
        .testTarget(name: "EndToEndTests", dependencies: ["RootMirrorCLI", "TestSupport"]),
    ]
)
