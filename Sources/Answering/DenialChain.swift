import DNSWire

/// The zone's NSEC records in canonical order (RFC 4034 §6.1) with, for
/// each gap between one NSEC owner and the next, the NXDOMAIN replies a
/// DO query for a name in that gap gets: built at load, so that answering
/// one is a binary search and a copy, with no signing and no allocation.
///
/// A name's NXDOMAIN proof is the NSEC covering it and the NSEC covering
/// the wildcard at its closest encloser (RFC 4035 §3.1.3.2). The covering
/// NSEC depends only on the gap; the closest encloser is an ancestor of the
/// gap's owner or next name (RFC 5155 §7.2.1 reasons the same way), so a
/// gap has a few candidate replies, one per such ancestor: for the root
/// zone one, the apex, since a name below a TLD gets a referral.
/// Empty for a zone without NSEC records (DNSSEC stripped).
struct DenialChain: Sendable {
    /// The NSEC owners' canonical keys (`key(of:)`), back to back, in
    /// canonical order. Keys, not the owners' `DNSName`s: those would keep
    /// small allocations alive all over the heap the load used, and with
    /// them whole pages resident (measured: several MB for the root).
    private let keys: [UInt8]
    /// Owner `i`'s key is `keys[keyStarts[i]..<keyStarts[i + 1]]`.
    private let keyStarts: [Int32]
    /// Gap `i`'s replies are `replies[replyRanges[i]]`.
    private var replyRanges: [Range<Int>] = []
    private var replies: [Reply] = []

    struct Reply: Sendable {
        /// The node of the closest encloser this reply proves the wildcard absent at.
        var closestEncloser: Int
        /// The NSEC covering the name, and the one covering the wildcard
        /// when that is another: templates, offsets in the index's `templates`.
        var cover: Int
        var wildcard: Int?
    }

    /// `owners` must be in canonical order (`canonicallySorted`).
    init(sortedOwners owners: [DNSName]) {
        var keys: [UInt8] = []
        var starts: [Int32] = [0]
        for owner in owners {
            keys += Self.key(of: owner)
            starts.append(Int32(keys.count))
        }
        self.keys = keys
        keyStarts = starts
    }

    static func canonicallySorted(_ names: [DNSName]) -> [DNSName] {
        names.map { (name: $0, key: key(of: $0)) }.sorted { less($0.key, $1.key) }.map(\.name)
    }

    /// Sets each gap's replies, `perGap[i]` for the gap after the `i`th owner,
    /// the apex's reply first (see `nxdomain`).
    mutating func setReplies(_ perGap: [[Reply]]) {
        for gapReplies in perGap {
            replyRanges.append(replies.count..<(replies.count + gapReplies.count))
            replies += gapReplies
        }
    }

    var isEmpty: Bool { keyStarts.count == 1 }

    /// The gap of a name known as a `DNSName` (at load).
    func gap(of name: DNSName) -> Int {
        Self.key(of: name).withUnsafeBytes { gap(of: $0) }
    }

    /// A name's labels from the last to the first, each as its length and
    /// lower-case bytes: comparing two keys label by label is comparing the
    /// names in canonical order.
    static func key(of name: DNSName) -> [UInt8] {
        var starts: [Int] = []
        var i = 0
        while name.wire[i] != 0 {
            starts.append(i)
            i += Int(name.wire[i]) + 1
        }
        var key: [UInt8] = []
        for start in starts.reversed() {
            key += name.wire[start...(start + Int(name.wire[start]))].map(asciiLower)
        }
        return key
    }

    /// Canonical order of two keys: label by label, each compared as bytes
    /// with a label that is a prefix of the other first; fewer labels first.
    static func less(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        a.withUnsafeBytes { a in b.withUnsafeBytes { b in compare(a, b) < 0 } }
    }

    @inline(__always)
    static func compare(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
        var i = 0
        var j = 0
        while i < a.count && j < b.count {
            let la = Int(a[i]), lb = Int(b[j])
            var k = 0
            while k < la && k < lb {
                let x = a[i &+ 1 &+ k], y = b[j &+ 1 &+ k]
                if x != y { return x < y ? -1 : 1 }
                k &+= 1
            }
            if la != lb { return la < lb ? -1 : 1 }
            i &+= la &+ 1
            j &+= lb &+ 1
        }
        return (i < a.count ? 1 : 0) - (j < b.count ? 1 : 0)
    }

    /// The index of the last owner not after `key` in canonical order: the
    /// NSEC whose gap holds the name (the last NSEC's gap wraps to the apex).
    func gap(of key: UnsafeRawBufferPointer) -> Int {
        keys.withUnsafeBytes { keys in
            keyStarts.withUnsafeBufferPointer { starts in
                var low = 0
                var high = starts.count &- 1
                // Invariant: owner `low` ≤ key (the apex, first, is ≤ every name) < owner `high`.
                while high &- low > 1 {
                    let middle = (low &+ high) >> 1
                    let owner = UnsafeRawBufferPointer(rebasing: keys[Int(starts[middle])..<Int(starts[middle &+ 1])])
                    if Self.compare(owner, key) <= 0 { low = middle } else { high = middle }
                }
                return low
            }
        }
    }

    /// The NXDOMAIN proofs for a name with canonical key `key` whose
    /// closest encloser is node `closestEncloser`.
    func nxdomain(key: UnsafeRawBufferPointer, closestEncloser: Int) -> Reply {
        let range = replyRanges[gap(of: key)]
        for i in range where replies[i].closestEncloser == closestEncloser {
            return replies[i]
        }
        // The apex encloses every name and is every gap's first candidate.
        return replies[range.lowerBound]
    }
}
