// swift-tools-version:6.0
import PackageDescription

/// libFuzzer targets, one per parser that takes outside input, built and run
/// by `make fuzz` (see README.md, "Fuzzing"). A package of its own because a
/// fuzz target has no `main` (libFuzzer's is linked in by
/// `-sanitize=fuzzer`), so it cannot be a product of the main package's
/// ordinary build. Sources/ links to the main package's modules.
/// No top-level code (a one-file executable's would be its `main`): each
/// target defines `<Module>_main`, which SwiftPM links as `main`, and which
/// runs libFuzzer's driver (FuzzSupport's `runLibFuzzer`).
let libFuzzerMain: [SwiftSetting] = [.unsafeFlags(["-parse-as-library"])]

let package = Package(
    name: "rootmirror-fuzz",
    targets: [
        .systemLibrary(name: "CCDB", pkgConfig: "libcdb", providers: [.apt(["libcdb-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .target(name: "DNSWire"),
        .target(name: "ZoneFile", dependencies: ["DNSWire", "CZlib"]),
        .target(name: "CDBStore", dependencies: ["DNSWire", "ZoneFile", "CCDB"]),
        .target(name: "Answering", dependencies: ["DNSWire", "CDBStore"]),
        .target(name: "CLibFuzzer"),
        .target(name: "FuzzSupport", dependencies: ["CLibFuzzer"]),
        // A query in, a reply out, both transports.
        .executableTarget(name: "FuzzResponder", dependencies: ["Answering", "DNSWire", "ZoneFile", "FuzzSupport"], swiftSettings: libFuzzerMain),
        // Master-file text (or gzip) through the parser, the checker and the index builder.
        .executableTarget(name: "FuzzZoneFile", dependencies: ["Answering", "ZoneFile", "DNSWire", "FuzzSupport"],
                          swiftSettings: libFuzzerMain),
        // An AXFR reply, as framed on TCP, through the transfer reader, the parser and the checker.
        .executableTarget(name: "FuzzTransfer", dependencies: ["ZoneFile", "DNSWire", "FuzzSupport"], swiftSettings: libFuzzerMain),
        // The state and trust-anchor files beside data.cdb through their readers.
        .executableTarget(name: "FuzzStateFiles", dependencies: ["CDBStore", "DNSWire", "FuzzSupport"], swiftSettings: libFuzzerMain),
        // A signed message's TSIG record, and a --tsig-key file, through their readers.
        .executableTarget(name: "FuzzTSIG", dependencies: ["DNSWire", "FuzzSupport"], swiftSettings: libFuzzerMain),
        // A data.cdb through the loader, the index builder and the journal's entry-by-entry reading.
        .executableTarget(name: "FuzzDataStore", dependencies: ["Answering", "CDBStore", "FuzzSupport"], swiftSettings: libFuzzerMain),
    ]
)
