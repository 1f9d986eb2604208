import CDBStore
import DNSWire

/// The zone turned into answer-ready structures at load: every reply the
/// zone can give is a `ResponseTemplate` encoded here, once, so answering is
/// a name lookup and a copy. NSD and Knot instead build each reply from
/// their zone tree at query time; the root is small and fixed between
/// reloads, so spending memory at load (a few MB of templates) to copy
/// rather than assemble is the better trade here.
///
/// Immutable after construction: the server shares one instance across
/// threads and replaces it whole on reload.
public final class ZoneIndex: Sendable {
    /// The apex, its SOA, the apex servers' addresses, the first signature
    /// expiry: what the monitor, NOTIFY and the logs read.
    public let summary: ZoneSummary
    public var soa: SOAFields { summary.soa }
    /// Delegations directly below the apex (TLDs, for the root zone).
    public let delegationCount: Int
    public let recordCount: Int
    /// The zone as AXFR messages and its journal for IXFR, when transfers out are allowed.
    public let transfer: ZoneTransfer?

    let table: NameTable
    let nodes: [Node]
    let apexNode: Int
    let apexLabels: Int
    /// Every reply template of the zone, packed back to back in one block
    /// (`ResponseTemplate.packed`); a template is known by its offset here.
    /// Answering reads it through a pointer: no reference counting, no
    /// copies, and one allocation instead of three per template.
    let templates: [UInt8]
    /// Positive answers: node `n`'s are `answers[n.answers]`.
    let answers: [Answer]
    /// The SOA for NXDOMAIN and NODATA, with TTL min(SOA TTL, MINIMUM)
    /// (RFC 2308 §5), anchored at the apex.
    let negative: Int
    /// For DO: the same SOA with its RRSIGs, which the NSEC proofs follow.
    /// A negative reply is written in parts, this and one template per NSEC
    /// (`Found.noData`, `Found.nxDomain`), so that the SOA's signature and each NSEC's are held
    /// once, not once per name and gap: 2.8 of the signed root's 5.9 MB of
    /// templates were copies of them.
    let signedNegative: Int
    /// NXDOMAIN's NSEC proofs by gap, for DO queries; empty without DNSSEC data.
    let denial: DenialChain

    /// Plain values only, so that reading a node costs no reference counting.
    struct Node: Sendable {
        /// Set for a delegation: the template of its NS RRset in authority,
        /// which `referralGlue` follows (and, with DO, `referralProof` precedes).
        var referral: Int?
        /// The glue in additional, its names pointing into `referral`'s.
        var referralGlue: Int
        /// Positive answers by type, anchored at this node's own name.
        var answers: Range<Int>
        /// The RRset that stands for all of them in a minimal ANY reply.
        var anyType: RRType?
        /// For DO: the DS RRset, or the NSEC proving there is none, and their
        /// RRSIGs (RFC 4035 §3.1.4), in authority after the NS RRset.
        var referralProof: Int?
        /// For DO: the NSEC proving a type absent here and its RRSIGs, which
        /// follow `signedNegative` in NODATA (RFC 4035 §3.1.3.1); nil without one.
        var noDataProof: Int?
    }

    struct Answer: Sendable {
        var type: RRType
        var template: Int
        /// For DO: the RRset with its RRSIGs (RFC 4035 §3.1.1).
        var signedTemplate: Int
        /// `signedTemplate` is a referral's DS proof, built for authority:
        /// the DS answer at a cut shares it, its records counted as answers.
        var signedIsReferralProof = false
    }

    /// Builds the index from stored records. The apex is the owner of the
    /// one SOA; every record outside it is ignored, as is anything below a
    /// delegation except glue used by a referral. With `transferable`, the
    /// zone's AXFR messages too, and IXFR from `journal` (`serve --allow-transfer`).
    public init(records: [ResourceRecord], transferable: Bool = false, journal: ZoneJournal = ZoneJournal()) throws(ZoneSummary.LoadError) {
        let summary = try ZoneSummary(records: records)
        self.summary = summary
        recordCount = records.count
        transfer = transferable ? ZoneTransfer(apex: summary.apex, soa: summary.soaRecord, records: records, journal: journal) : nil
        var build = IndexBuild(records: records, summary: summary)
        (negative, signedNegative) = build.negativeTemplates()
        denial = build.denialChain()
        (nodes, answers) = build.nodes(denial: denial)
        apexNode = 0
        apexLabels = summary.apex.labelCount
        table = NameTable(names: build.names)
        delegationCount = build.delegations.filter { $0.parent == summary.apex }.count
        templates = build.packed
    }
}
