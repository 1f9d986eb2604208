import Answering
import Synchronization

/// The zone being served, swappable while queries are answered.
///
/// The UDP threads must not take a lock per packet, and a reload must not
/// make them wait: each thread keeps its own strong reference to the index
/// and compares a generation number (one relaxed-cost atomic load) once per
/// batch; only when it changed does the thread take the lock to pick up the
/// new index. A reload builds the new index completely before `replace`, so
/// the swap is one pointer under a lock, and the old index is freed by ARC
/// when the last thread lets go of it, after finishing the batch it was
/// answering: no query ever sees a half-built zone or fails during a swap.
public final class ZoneHolder: Sendable {
    private let current: Mutex<ZoneIndex>
    private let generationCounter = Atomic<UInt64>(0)

    public init(_ zone: ZoneIndex) {
        current = Mutex(zone)
    }

    /// Changes every time `replace` installs a new index.
    @inline(__always)
    public var generation: UInt64 { generationCounter.load(ordering: .acquiring) }

    /// The index now being served, with the generation it belongs to.
    public func snapshot() -> (zone: ZoneIndex, generation: UInt64) {
        current.withLock { zone in (zone, generationCounter.load(ordering: .relaxed)) }
    }

    public var zone: ZoneIndex { current.withLock { $0 } }

    public func replace(with zone: ZoneIndex) {
        current.withLock { held in
            held = zone
            generationCounter.add(1, ordering: .releasing)
        }
    }
}

/// A thread's cached view of a `ZoneHolder`: the index it answers from and
/// the generation that index belongs to.
struct ZoneView {
    let holder: ZoneHolder
    private(set) var zone: ZoneIndex
    private var generation: UInt64

    init(_ holder: ZoneHolder) {
        self.holder = holder
        (zone, generation) = holder.snapshot()
    }

    /// Picks up a newly installed index, if any; call once per batch.
    @inline(__always)
    mutating func pickUpNewGeneration() {
        if holder.generation != generation { (zone, generation) = holder.snapshot() }
    }
}
