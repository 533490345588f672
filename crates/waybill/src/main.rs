//! `waybill`: one binary for every role — init, node, demo, keys, submit, status,
//! block, tx, verify, bench. Thin: the work is in the library crates.

mod commands;
mod consortium;
mod demo;
mod demo_files;
mod manifest;
mod money_cmds;
mod order_cmds;
mod seal_cmds;
mod testnet;
mod trace_cmds;
mod who;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use waybill_server::home;
use waybill_server::DEFAULT_DIR;

/// `waybill bench --nodes N` (N > 1) offers this many transactions per second unless
/// `--rate` says otherwise: the highest rate four validators on the project's 2-core
/// machine sustained with p99 finality under 1 s in every run (docs/BENCHMARKS.md).
const DEFAULT_MULTI_NODE_RATE: u64 = 2_500;

/// TLS for the API (both or neither).
#[derive(clap::Args, Clone, Debug)]
struct TlsArgs {
    /// Serve the API over HTTPS with this PEM certificate chain (leaf first); needs
    /// --tls-key. Plain HTTP without.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

impl TlsArgs {
    fn files(self) -> Option<waybill_server::serve::TlsFiles> {
        match (self.tls_cert, self.tls_key) {
            (Some(cert), Some(key)) => Some(waybill_server::serve::TlsFiles { cert, key }),
            _ => None,
        }
    }
}

/// Which node a command talks to.
#[derive(clap::Args, Clone, Debug)]
struct Target {
    /// The node's API URL, e.g. http://127.0.0.1:8080 (default: the `api_listen` in
    /// --dir's node.json).
    #[arg(long)]
    node: Option<String>,
    /// Node directory: its node.json gives the node's address, its keys/ the members'
    /// keys (default ./waybill-data).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// For an https:// node: trust only the certificates in this PEM file (the private
    /// CA that issued the node's certificate, or the certificate itself) instead of
    /// the system's roots.
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,
}

impl From<Paging> for trace_cmds::Paging {
    fn from(p: Paging) -> Self {
        trace_cmds::Paging {
            page_size: p.page_size.clamp(1, waybill_types::limits::PAGE_ITEMS_MAX),
            max: p.max,
        }
    }
}

impl Target {
    /// The node's URL (see [`home::node_url`]).
    fn url(&self) -> anyhow::Result<String> {
        home::node_url(self.node.as_deref(), self.dir.as_deref())
    }
    /// A client for the node: trusting `--ca` if given, else the system's roots.
    fn client(&self) -> anyhow::Result<waybill_client::Client> {
        let url = self.url()?;
        Ok(match &self.ca {
            Some(ca) => waybill_client::Client::with_trusted_certificates(&url, ca)?,
            None => waybill_client::Client::new(&url),
        })
    }
    /// The directory holding the keys.
    fn keys_dir(&self) -> PathBuf {
        self.dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DIR))
    }
}

/// How a list command pages.
#[derive(clap::Args, Clone, Copy, Debug)]
struct Paging {
    /// Items asked for per request (1 to 1000).
    #[arg(long, default_value_t = 1_000)]
    page_size: usize,
    /// Most items to print; if more remain, says so and how to go on.
    #[arg(long, default_value_t = 10_000)]
    max: usize,
}

#[derive(Parser)]
#[command(
    name = "waybill",
    version,
    about = "Waybill: the permissioned ledger an e-commerce supply chain runs together."
)]
struct Cli {
    /// Log as JSON lines instead of text.
    #[arg(long, global = true)]
    log_json: bool,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Create a development consortium: genesis, organization admin keys, one validator key.
    #[command(
        after_help = "Examples:\n  waybill init --dir waybill-data\n  waybill init --consortium examples/consortium.json --dir consortium   (see docs/DEPLOY.md)"
    )]
    Init {
        /// Directory to create.
        #[arg(long, default_value = DEFAULT_DIR)]
        dir: PathBuf,
        /// Chain id.
        #[arg(long, default_value = "waybill-dev")]
        chain_id: String,
        /// A consortium file (organizations, hosts, public keys): write a genesis and
        /// one bundle per organization into --dir instead of a development consortium.
        #[arg(long)]
        consortium: Option<PathBuf>,
    },
    /// Run a node from an initialized directory.
    #[command(after_help = "Example:\n  waybill node --dir waybill-data --listen 127.0.0.1:8080")]
    Node {
        /// Node directory (made by `waybill init`).
        #[arg(long, default_value = DEFAULT_DIR)]
        dir: PathBuf,
        /// HTTP API listen address (overrides node.json).
        #[arg(long)]
        listen: Option<String>,
        /// p2p listen multiaddr (overrides node.json), e.g. /ip4/0.0.0.0/tcp/27000.
        #[arg(long)]
        p2p_listen: Option<String>,
        /// A peer's p2p multiaddr; repeat for several (overrides node.json).
        #[arg(long = "peer")]
        peers: Vec<String>,
        /// Fault injection for tests only: `equivocate` (conflicting votes and
        /// proposals), `silent` (drops its votes and proposals), `precommit-nil`.
        #[arg(long, hide = true)]
        byzantine: Option<String>,
        #[command(flatten)]
        tls: TlsArgs,
    },
    /// Start a node with a realistic demo supply chain (initializing the directory the first time).
    #[command(
        after_help = "Examples:\n  waybill demo --dir waybill-data\n  waybill demo --dir demo2 --listen 127.0.0.1:9090   (a second demo: its p2p port moves too)"
    )]
    Demo {
        /// Node directory.
        #[arg(long, default_value = DEFAULT_DIR)]
        dir: PathBuf,
        /// HTTP API listen address (default: node.json's, 127.0.0.1:8080 at first). Given,
        /// the p2p port moves too (a free one on the same host), so demos run side by
        /// side; both are written to node.json.
        #[arg(long)]
        listen: Option<String>,
        /// p2p listen multiaddr, e.g. /ip4/127.0.0.1/tcp/27100 (default: node.json's, or
        /// a free port when --listen is given). A port in use is refused.
        #[arg(long)]
        p2p_listen: Option<String>,
        #[command(flatten)]
        tls: TlsArgs,
    },
    /// Run a consortium of several organizations on this machine, one node process each.
    #[command(after_help = "Example:\n  waybill testnet --nodes 4 --dir waybill-testnet")]
    Testnet {
        /// Number of organizations (each with a validator and a node).
        #[arg(long, default_value_t = 4)]
        nodes: usize,
        /// Directory (one sub-directory per node).
        #[arg(long, default_value = "waybill-testnet")]
        dir: PathBuf,
        /// API port of node 0; node i listens on this + i.
        #[arg(long, default_value_t = 8080)]
        api_port: u16,
        /// p2p port of node 0; node i listens on this + i.
        #[arg(long, default_value_t = 27000)]
        p2p_port: u16,
        /// Only create the directories and keys (run each node yourself with `waybill node --dir DIR/nodeI`).
        #[arg(long)]
        init_only: bool,
    },
    /// Key management.
    #[command(subcommand)]
    Keys(KeysCmd),
    /// Organizations' encryption keys for sealed fields (docs/PRIVACY.md).
    #[command(subcommand)]
    SealKey(SealKeyCmd),
    /// Sealed fields after capture: add a recipient (re-wrap), complain of a wrap
    /// that does not open.
    #[command(subcommand)]
    Seal(SealCmd),
    /// Open every sealed field of a JSON document (standard input, e.g. `waybill
    /// events` output) that the key file's encryption secrets can open, and print it.
    #[command(
        after_help = "Example:\n  waybill events eventType=ObjectEvent --as li-wei | waybill open --key waybill-data/keys/members/li-wei.json"
    )]
    Open {
        /// A member's key file holding its organization's encryption secrets.
        #[arg(long)]
        key: PathBuf,
        /// The chain id sealed fields are bound to (default: asked of the node).
        #[arg(long)]
        chain_id: Option<String>,
        #[command(flatten)]
        target: Target,
    },
    /// Sign a transaction described in JSON as a member and send it to a node.
    #[command(
        after_help = "Example (payload file):\n  waybill submit --key waybill-data/keys/members/li-wei.json lot.json\n\n\
lot.json:\n  {\"type\":\"register_lot\",\"gtin\":\"06901234000016\",\"lot\":\"PJ-2611-C\",\"origin_gln\":null,\n   \"produced_on\":\"2026-11-20\",\"quantity\":800,\"unit\":\"kg\"}"
    )]
    Submit {
        /// The member's key file.
        #[arg(long)]
        key: PathBuf,
        /// The payload: a JSON file, or `-` for standard input.
        payload: PathBuf,
        #[command(flatten)]
        target: Target,
        /// The transaction's nonce (default: 64 random bits). Signing the same payload
        /// with the same nonce and expiry again gives the same transaction, which the
        /// ledger takes once.
        #[arg(long)]
        nonce: Option<u64>,
        /// Seconds from now until the transaction expires if not yet in a block
        /// (default 600; at most 86400).
        #[arg(long)]
        expires_in: Option<u64>,
        /// Return once accepted, without waiting for the commit.
        #[arg(long)]
        no_wait: bool,
        /// Seal the field at this JSON pointer in every event of a `capture_epcis`
        /// payload's document (as `waybill capture --seal`); repeatable.
        #[arg(long, value_name = "POINTER[=CATEGORY]")]
        seal: Vec<trace_cmds::SealSpec>,
        /// Another organization to seal the --seal fields for; repeatable.
        #[arg(long, value_name = "ORG")]
        seal_for: Vec<String>,
        /// Preview only: what the transaction would do as the next block's only one
        /// (receipt, open-tier records, sealed commitments); nothing is stored.
        #[arg(long)]
        dry_run: bool,
    },
    /// Show a node's status.
    #[command(
        after_help = "Examples:\n  waybill status --dir waybill-data\n  waybill status --node http://127.0.0.1:8080"
    )]
    Status {
        #[command(flatten)]
        target: Target,
    },
    /// Show a block.
    #[command(after_help = "Example:\n  waybill block 3 --dir waybill-data")]
    Block {
        height: u64,
        #[command(flatten)]
        target: Target,
    },
    /// Show a transaction.
    #[command(
        after_help = "Example:\n  waybill tx 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    )]
    Tx {
        id: String,
        #[command(flatten)]
        target: Target,
    },
    /// Re-verify a stopped node's whole store: hash links, transaction roots,
    /// signatures, commit certificates, re-execution and the state.
    #[command(
        after_help = "Example:\n  waybill verify --dir waybill-data\n\nExits 0 with a summary, or 1 naming the first bad height and record. Never writes to the store."
    )]
    Verify {
        #[arg(long, default_value = DEFAULT_DIR)]
        dir: PathBuf,
        /// Check every record of every table, without re-executing the blocks.
        #[arg(long)]
        quick: bool,
    },
    /// Copy a node's store into a backup file: one consistent snapshot of every table,
    /// fsynced, then checked. A running node takes it itself, asked through its
    /// operator channel (DIR/operator.sock, its OS user only); a stopped node's store is
    /// read directly. The backup holds no private keys.
    #[command(after_help = "Example:
  waybill backup --dir waybill-data --out waybill-2026-11-20.redb

Restore it with `waybill restore FILE --dir DIR`.")]
    Backup {
        #[arg(long, default_value = DEFAULT_DIR)]
        dir: PathBuf,
        /// The backup file to write (must not exist).
        #[arg(long)]
        out: PathBuf,
    },
    /// Install a backup as a stopped node's store, after checking it fully (page
    /// checksums, the genesis, every block, certificate and the replayed state); into a
    /// directory that holds no node yet, prepare one around it.
    #[command(after_help = "Examples:
  waybill restore waybill-2026-11-20.redb --dir waybill-data
  waybill restore waybill-2026-11-20.redb --dir new-node --key old/keys/validator.json \\
      --signing-mark old/signing-mark.json --peer /ip4/10.0.0.2/tcp/27000

A validator restored behind what it already signed syncs from its peers without signing until it is past that height. A new directory gets the backup's genesis, a node.json from --listen/--p2p-listen/--peer/--peer-api, and the validator key given with its signing mark (or a new key: the node follows the chain without voting).")]
    Restore {
        /// The backup file (made by `waybill backup`).
        #[arg(required_unless_present = "from", conflicts_with = "from")]
        file: Option<PathBuf>,
        /// The backup file (the older spelling of FILE).
        #[arg(long)]
        from: Option<PathBuf>,
        #[arg(long, default_value = DEFAULT_DIR)]
        dir: PathBuf,
        /// Replace a store that verifies (it is kept beside as `.before-restore`).
        #[arg(long)]
        force: bool,
        /// New directory only: the validator key file to run with.
        #[arg(long)]
        key: Option<PathBuf>,
        /// New directory only, with --key: that validator's signing-mark.json.
        #[arg(long)]
        signing_mark: Option<PathBuf>,
        /// New directory only: HTTP API listen address for node.json.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// New directory only: p2p listen multiaddr for node.json.
        #[arg(long, default_value = "/ip4/127.0.0.1/tcp/27000")]
        p2p_listen: String,
        /// New directory only: a peer's p2p multiaddr; repeat for several.
        #[arg(long = "peer")]
        peers: Vec<String>,
        /// New directory only: a peer's API base URL (transaction gossip); repeat.
        #[arg(long = "peer-api")]
        peer_apis: Vec<String>,
    },
    /// Capture a GS1 EPCIS 2.0 document (JSON/JSON-LD) as a member: all its events or none.
    #[command(
        after_help = "Examples:\n  waybill capture harvest.jsonld --as li-wei\n  waybill capture purchase.jsonld --as li-wei --seal /wb:purchasePrice=financial --seal-for chengdu-processing\n  waybill capture inspection.jsonld --as sun-li --dry-run\n\n--as takes a key file, a member name (DIR/keys/members/NAME.json) or admin:ORG."
    )]
    Capture {
        /// The document, or `-` for standard input.
        file: PathBuf,
        /// The capturing member.
        #[arg(long = "as")]
        who: String,
        #[command(flatten)]
        target: Target,
        /// Seconds from now until the capture expires if not yet in a block
        /// (default 600; at most 86400). An expired capture's job fails, naming it.
        #[arg(long)]
        expires_in: Option<u64>,
        /// Return once accepted, without waiting for the commit.
        #[arg(long)]
        no_wait: bool,
        /// Seal the field at this JSON pointer in every event that has it
        /// (`POINTER=CATEGORY`, or a field name the docs' table knows, e.g.
        /// /wb:purchasePrice); repeatable. Sealed for your organization, every
        /// regulator and each --seal-for organization (docs/PRIVACY.md).
        #[arg(long, value_name = "POINTER[=CATEGORY]")]
        seal: Vec<trace_cmds::SealSpec>,
        /// Another organization to seal the --seal fields for (a trading partner);
        /// repeatable.
        #[arg(long, value_name = "ORG")]
        seal_for: Vec<String>,
        /// Seal this field as erasable personal data (a name, phone, address): sealed
        /// for the same organizations as --seal, kept off the chain — after the commit
        /// its private part goes to the node and each --deliver-to node that keeps
        /// data for a recipient (docs/PRIVACY.md "Erasure"); repeatable.
        #[arg(long, value_name = "POINTER[=CATEGORY]")]
        erasable: Vec<trace_cmds::SealSpec>,
        /// A recipient's node (API base URL) to deliver erasable fields to; repeatable.
        #[arg(long, value_name = "URL")]
        deliver_to: Vec<String>,
        /// Preview only: print what the capture would publish on the open tier and
        /// which fields it would seal (the ledger's own checks run on a copy of its
        /// state); nothing is stored. Exits 1 if the ledger would refuse it.
        #[arg(long)]
        dry_run: bool,
    },
    /// A capture job: running, or finished with success or per-event errors. Read by a
    /// member of the organization that submitted the capture (a signed request).
    #[command(
        after_help = "Example:\n  waybill capture-job 59a0da029691f2ac1c51230bb896930e10671189465a73ea94f4517ecca28ff5 --as li-wei\n\nExits 1 if the job failed."
    )]
    CaptureJob {
        /// The capture id (`captureID`, as `waybill capture` printed it).
        id: String,
        /// A member of the submitting organization.
        #[arg(long = "as")]
        who: String,
        #[command(flatten)]
        target: Target,
    },
    /// Query EPCIS events with the EPCIS 2.0 query parameters.
    #[command(
        after_help = "Example:\n  waybill events MATCH_epc=urn:epc:id:sscc:6905678.0000000011 eventType=ObjectEvent --as guo-hua"
    )]
    Events {
        /// Query parameters NAME=VALUE (eventType, GE_eventTime, EQ_bizStep, MATCH_anyEPC, …).
        params: Vec<String>,
        #[arg(long = "as")]
        who: String,
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        paging: Paging,
    },
    /// Print the lineage of a product, lot, serial item or container as a tree: back
    /// to its origins, or forward to everything it reached (a recall list).
    #[command(
        after_help = "Examples:\n  waybill trace https://id.gs1.org/01/06901234000016/21/0001 --as guo-hua\n  waybill trace 06901234000016/PJ2611A --forward --as guo-hua"
    )]
    Trace {
        /// An EPC URI, a GS1 Digital Link, or GTIN/LOT.
        id: String,
        /// Walk forward (where it went) instead of back (where it came from).
        #[arg(long)]
        forward: bool,
        #[arg(long = "as")]
        who: String,
        #[command(flatten)]
        target: Target,
        /// Print the JSON answer instead of a tree.
        #[arg(long)]
        json: bool,
    },
    /// Who did what, when, in which transaction and block.
    #[command(after_help = "Example:\n  waybill audit --product 06901234000016 --as guo-hua")]
    Audit {
        #[arg(long)]
        product: Option<String>,
        #[arg(long)]
        member: Option<String>,
        #[arg(long)]
        org: Option<String>,
        #[arg(long = "as")]
        who: String,
        /// Start after this cursor (the `next_after` of an earlier answer).
        #[arg(long)]
        after: Option<String>,
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        paging: Paging,
    },
    /// Download the proof bundle of a product, lot or item (see docs/PROOFS.md).
    #[command(
        after_help = "Example:\n  waybill proof https://id.gs1.org/01/06901234000016/21/261103015 --out bundle.json"
    )]
    Proof {
        /// The GS1 Digital Link.
        link: String,
        /// Write to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        target: Target,
    },
    /// Verify a proof bundle offline against a trust root you give — the consortium's
    /// genesis, its fingerprint, or a saved trust file (never one the bundle carries);
    /// exits 1 naming the first check that fails.
    #[command(
        after_help = "Examples:\n  waybill verify-proof bundle.json --genesis waybill-data/genesis.json\n  waybill verify-proof bundle.json --fingerprint 9ccd7bc328b684c05e1f7a2d03b6c9e4\n  waybill verify-proof bundle.json --trust consortium.trust.json"
    )]
    #[command(group(clap::ArgGroup::new("trust_root").required(true).args(["genesis", "fingerprint", "trust"])))]
    VerifyProof {
        /// The bundle file.
        file: PathBuf,
        /// The consortium's genesis.json.
        #[arg(long)]
        genesis: Option<PathBuf>,
        /// The consortium fingerprint (the `wb` attribute of the QR code's link): at
        /// least 32 hex digits of the genesis hash.
        #[arg(long)]
        fingerprint: Option<String>,
        /// A trust file saved by `waybill trust`.
        #[arg(long)]
        trust: Option<PathBuf>,
    },
    /// Disclose one sealed field: open it with the key file's encryption secrets and
    /// write its value, salt and the node's proof of its commitment (a certified
    /// header's commitment root), which anyone checks with `waybill verify-disclosure`
    /// without seeing the rest of the record (docs/PRIVACY.md).
    #[command(
        after_help = "Example:\n  waybill disclose --key waybill-data/keys/orgs/chengdu-packing-admin.json --record urn:uuid:… --field /wb:purchasePrice --out price.disclosure.json"
    )]
    Disclose {
        /// A member's key file holding its organization's encryption secrets.
        #[arg(long)]
        key: PathBuf,
        /// The record id (the event's eventID).
        #[arg(long)]
        record: String,
        /// The field's JSON pointer inside the record.
        #[arg(long)]
        field: String,
        /// Write to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        target: Target,
    },
    /// Verify a disclosure offline against a trust root you give (the consortium's
    /// genesis, its fingerprint, or a saved trust file); exits 1 naming the first check
    /// that fails, including any changed byte of the file.
    #[command(
        after_help = "Example:\n  waybill verify-disclosure price.disclosure.json --genesis waybill-data/genesis.json"
    )]
    #[command(group(clap::ArgGroup::new("trust_root").required(true).args(["genesis", "fingerprint", "trust"])))]
    VerifyDisclosure {
        /// The disclosure file.
        file: PathBuf,
        /// The consortium's genesis.json.
        #[arg(long)]
        genesis: Option<PathBuf>,
        /// The consortium fingerprint: at least 32 hex digits of the genesis hash.
        #[arg(long)]
        fingerprint: Option<String>,
        /// A trust file saved by `waybill trust`.
        #[arg(long)]
        trust: Option<PathBuf>,
    },
    /// Accounts and balances (financial data: signed as a member).
    #[command(subcommand)]
    Accounts(AccountsCmd),
    /// Orders: list, show, place from a buyer's intent, cancel, confirm delivery
    /// (docs/ORDERS.md).
    #[command(subcommand)]
    Orders(OrdersCmd),
    /// Stock per product and location: on hand, reserved by orders, available.
    #[command(after_help = "Example:\n  waybill inventory --as admin:ganzhou-orchard")]
    Inventory {
        #[arg(long = "as")]
        who: String,
        /// Only this location (GLN).
        #[arg(long)]
        location: Option<String>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        target: Target,
    },
    /// The member's organization's alerts: reorder points crossed, orders expired or
    /// refunded at their deadlines.
    #[command(after_help = "Example:\n  waybill alerts --as admin:shopmart")]
    Alerts {
        #[arg(long = "as")]
        who: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        target: Target,
    },
    /// Match a payment provider's statement (CSV, or ISO 20022 camt.053 XML) to the
    /// payments the ledger booked for it, by the provider's reference (not by date),
    /// and list every difference; exits 1 if there is one (docs/MONEY.md).
    #[command(
        after_help = "Example:\n  waybill reconcile --statement icbc-2026-12-06.xml --as admin:icbc\n\n\
CSV: a header with reference,amount,currency,direction (amount in major units, e.g. 123.45;\n\
direction CRDT for money the provider received, DBIT for money it paid out)."
    )]
    Reconcile {
        /// The statement file.
        #[arg(long)]
        statement: PathBuf,
        #[arg(long = "as")]
        who: String,
        /// The provider's organization (default: the member's).
        #[arg(long)]
        provider: Option<String>,
        /// First day (YYYY-MM-DD, UTC) of the ledger's payments to compare (default: the
        /// statement's period if it states one, else every booked payment).
        #[arg(long)]
        from: Option<String>,
        /// Last day (YYYY-MM-DD, UTC, inclusive).
        #[arg(long)]
        to: Option<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        target: Target,
    },
    /// Save a consortium's trust root (chain id and full genesis hash) to a file, for
    /// `verify-proof --trust`.
    #[command(
        after_help = "Example:\n  waybill trust --genesis waybill-data/genesis.json --out consortium.trust.json"
    )]
    Trust {
        /// The consortium's genesis.json, obtained from a source you trust.
        #[arg(long)]
        genesis: PathBuf,
        /// Where to write the trust file.
        #[arg(long)]
        out: PathBuf,
    },
    /// EPCIS tools for partners' integrations.
    #[command(subcommand)]
    Epcis(EpcisCmd),
    /// GS1 Digital Link tools.
    #[command(subcommand)]
    Dl(DlCmd),
    /// Write a QR code (PNG, or SVG if the file ends in .svg) of a link.
    #[command(
        after_help = "Example:\n  waybill qr https://id.gs1.org/01/06901234000016/10/PJ2611A --out label.png"
    )]
    Qr {
        /// The text, usually a GS1 Digital Link.
        link: String,
        /// Output file (.png or .svg).
        #[arg(long)]
        out: PathBuf,
        /// Pixels per module.
        #[arg(long, default_value_t = 8)]
        scale: u32,
    },
    /// Measure committed transactions per second and commit latency on a fresh one-node
    /// chain (`--workload tx`), EPCIS capture throughput and lineage trace latency
    /// (`--workload epcis`), or the consumer page and proof bundle of a 200-event product,
    /// served and verified in headless Chromium (`--workload consumer`), or sealing and
    /// opening a field per core (`--workload seal`).
    #[command(
        after_help = "Examples:\n  waybill bench --txs 100000 --members 1000 --json\n  waybill bench --workload epcis --runs 3\n  waybill bench --workload epcis --sealed-fields 2 --runs 3\n  waybill bench --workload epcis --plaintext-fields 2 --runs 3\n  waybill bench --workload consumer --runs 3\n  waybill bench --workload seal --runs 5"
    )]
    Bench {
        /// What to measure: `tx` (signed lot registrations through POST /v1/txs),
        /// `transfers` (signed transfers through POST /v1/txs),
        /// `epcis` (EPCIS documents through POST /epcis/capture, then GET /v1/trace) or
        /// `consumer` (GET /01/… and GET /v1/proofs/…, then the page in Chromium).
        #[arg(long, value_enum, default_value_t = Workload::Tx)]
        workload: Workload,
        /// Transactions to commit (tx).
        #[arg(long, default_value_t = 60_000)]
        txs: usize,
        /// Distinct signing members (default 500 for tx; capturing members, 8, for epcis).
        #[arg(long)]
        members: Option<usize>,
        /// Transactions per HTTP request (tx; default 1000 on one node, 200 on several).
        #[arg(long)]
        batch: Option<usize>,
        /// Requests in flight at once (tx, default 4); documents each member has sent
        /// and not yet seen committed (epcis, default 2).
        #[arg(long)]
        concurrency: Option<usize>,
        /// Documents each member captures (epcis).
        #[arg(long, default_value_t = 25)]
        docs: usize,
        /// Events per captured document (epcis, default 100; at most 1000); reefer journey
        /// events per captured document (consumer, default 1: a capture, and a block, an
        /// hour).
        #[arg(long)]
        doc_events: Option<usize>,
        /// Timed trace requests per direction per run (epcis).
        #[arg(long, default_value_t = 200)]
        trace_reps: usize,
        /// Fields sealed in every captured event, for its capturer's organization
        /// (epcis; default 0).
        #[arg(long, default_value_t = 0)]
        sealed_fields: usize,
        /// The same fields (and eventIDs) in plaintext, the baseline of
        /// `--sealed-fields` (epcis; default 0).
        #[arg(long, default_value_t = 0)]
        plaintext_fields: usize,
        /// The distribution centre keeps stock of the carton, so its receiving and
        /// shipping events move it (epcis).
        #[arg(long)]
        keep_stock: bool,
        /// Timed requests of the page and of the bundle per run (consumer); for seal,
        /// 40 × this many seals, opens and signatures per run.
        #[arg(long, default_value_t = 50)]
        reps: usize,
        /// Organizations each field is sealed for (seal).
        #[arg(long, default_value_t = 3)]
        recipients: usize,
        /// Loads of the page in headless Chromium per run (consumer).
        #[arg(long, default_value_t = 5)]
        browser_loads: usize,
        /// Measured runs (medians are reported).
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Offered load in transactions per second, paced; 0: as fast as the nodes take
        /// them. Default: 0 on one node; 2,500 on several — the highest offered rate at
        /// which four validators sharing two cores kept p99 finality under 1 s in every run
        /// (docs/BENCHMARKS.md); a closed loop would measure queueing, not finality.
        #[arg(long)]
        rate: Option<u64>,
        /// Validators, each a full node with its own store, ports and API, in this process.
        #[arg(long, default_value_t = 1)]
        nodes: usize,
        /// Transfers per transaction (transfers; a multiple of 5: a single-phase
        /// transfer, a pending one posted in part, a pending one voided).
        #[arg(long, default_value_t = 10)]
        transfers_per_tx: usize,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// What `waybill bench` measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Workload {
    /// Committed signed transactions (lot registrations).
    Tx,
    /// Committed signed transfers (single, pending, post, void), several per
    /// transaction.
    Transfers,
    /// Complete orders: placed (escrow), shipped by an EPCIS event, confirmed
    /// delivered, settled; `--txs` counts orders, `--members` buyers.
    Orders,
    /// EPCIS capture throughput and lineage trace latency.
    Epcis,
    /// The consumer page and proof bundle, at the node and in a browser.
    Consumer,
    /// Sealing and opening a field, per core (no node).
    Seal,
}

#[derive(Subcommand)]
enum AccountsCmd {
    /// Every account the member may list (a regulator: all; others: their
    /// organization's), with posted, pending and available balances in minor units.
    #[command(after_help = "Example:\n  waybill accounts list --as guo-hua --json")]
    List {
        #[arg(long = "as")]
        who: String,
        /// Print JSON (`items`: `id`, `currency`, `debits_posted`, `credits_posted`,
        /// `debits_pending`, `credits_pending`, `balance`…) instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        paging: Paging,
    },
    /// One account, as JSON.
    #[command(after_help = "Example:\n  waybill accounts show org:shopmart:CNY:main --as guo-hua")]
    Show {
        /// The account id: org:<org>:<currency>:<name> or key:<hex>:<currency>:<name>.
        id: String,
        #[arg(long = "as")]
        who: String,
        #[command(flatten)]
        target: Target,
    },
}

#[derive(Subcommand)]
enum OrdersCmd {
    /// The orders the member's organization is a party to (a regulator: every order).
    #[command(after_help = "Example:\n  waybill orders list --as admin:shopmart --json")]
    List {
        #[arg(long = "as")]
        who: String,
        /// Only orders in this state: placed, shipped, delivered, settled, cancelled,
        /// expired, refunded.
        #[arg(long)]
        state: Option<String>,
        /// Print JSON (`items`: orders with `id`, `state`, `buyer`, `lines`, `total`…).
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        target: Target,
    },
    /// One order, as JSON.
    Show {
        /// The buyer's public key (hex).
        buyer: String,
        /// The buyer's id for the order.
        id: String,
        #[arg(long = "as")]
        who: String,
        #[command(flatten)]
        target: Target,
    },
    /// Place an order: the intent file (JSON: `id`, `seller`, `platform`, `lines`,
    /// `currency`, `max_total`, `pay_from`; `chain_id`, `buyer` and `expires_at_ms`
    /// filled in if left out) is signed with the buyer's key and submitted by --as.
    #[command(
        after_help = "Example:\n  waybill orders place --intent order.json --buyer consumer-li-na --as shopmart-clerk"
    )]
    Place {
        #[arg(long)]
        intent: PathBuf,
        /// The buyer's key: a key file or a name in the keys directory.
        #[arg(long)]
        buyer: String,
        /// A JSON file with the buyer's name, phone and address: sealed for the
        /// seller, the platform, the listing's carrier and every regulator, as
        /// erasable personal data (the chain keeps no ciphertext; the recipients'
        /// nodes keep the private part until `waybill seal erase` purges it).
        #[arg(long)]
        ship_to: Option<PathBuf>,
        /// Seal the address inline instead: its ciphertext is in the block, and it
        /// cannot be erased.
        #[arg(long, requires = "ship_to")]
        inline: bool,
        /// Another node (API base URL) to deliver the address's private part to,
        /// beside this one; repeatable.
        #[arg(long, requires = "ship_to")]
        deliver_to: Vec<String>,
        #[arg(long = "as")]
        who: String,
        #[command(flatten)]
        target: Target,
    },
    /// Cancel a placed order (the buyer — signed with --buyer-key —, the seller or the
    /// platform): the escrow goes back, the stock is released.
    Cancel {
        buyer: String,
        id: String,
        #[arg(long)]
        reason: String,
        /// The buyer's key, when --as submits the buyer's cancellation.
        #[arg(long)]
        buyer_key: Option<String>,
        #[arg(long = "as")]
        who: String,
        #[command(flatten)]
        target: Target,
    },
    /// Review a delivered order's line as its buyer: signed with the order's review key
    /// (derived from the buyer's key and the order id), submitted by --as.
    #[command(
        after_help = "Example:\n  waybill orders review sm-li-na-0001 --buyer li-na --gtin 06901234000016 --rating 5 --title Sweet --text 'Juicy.' --as zhao-lei"
    )]
    Review {
        /// The buyer's id for the order.
        id: String,
        /// The buyer's key: a key file or a name in the keys directory.
        #[arg(long)]
        buyer: String,
        #[arg(long)]
        gtin: String,
        /// 1 to 5 stars.
        #[arg(long)]
        rating: u8,
        #[arg(long)]
        title: String,
        #[arg(long)]
        text: String,
        #[arg(long = "as")]
        who: String,
        #[command(flatten)]
        target: Target,
    },
    /// Confirm a shipped order's delivery (the buyer — signed with --buyer-key — or
    /// the assigned carrier): the return window starts.
    ConfirmDelivery {
        buyer: String,
        id: String,
        #[arg(long)]
        buyer_key: Option<String>,
        #[arg(long = "as")]
        who: String,
        #[command(flatten)]
        target: Target,
    },
}

#[derive(Subcommand)]
enum EpcisCmd {
    /// Print the EPCIS Event Hash ID (CBV 2.0 §8.9) of each event in a document.
    #[command(after_help = "Example:\n  waybill epcis hash-id shipment.jsonld")]
    HashId {
        /// The EPCIS document (JSON/JSON-LD), or `-` for standard input.
        file: PathBuf,
    },
    /// Validate a document (EPCIS 2.0.1 schema rules, formats, CBV, check digits)
    /// without capturing it; exits 1 listing each problem by JSON pointer.
    #[command(after_help = "Example:\n  waybill epcis validate shipment.jsonld")]
    Validate {
        /// The EPCIS document, or `-` for standard input.
        file: PathBuf,
    },
}

#[derive(Subcommand)]
enum DlCmd {
    /// Print a GS1 Digital Link's elements as JSON (AI → value); exits 1 with the
    /// reason if the URI is not a valid Digital Link.
    #[command(
        after_help = "Example:\n  waybill dl parse https://id.gs1.org/01/06901234000016/10/PJ2611A"
    )]
    Parse {
        /// The URI.
        uri: String,
    },
    /// Print the canonical Digital Link URI for a GTIN, lot and serial.
    #[command(
        after_help = "Example:\n  waybill dl make --gtin 06901234000016 --lot PJ2611A --serial 0001"
    )]
    Make {
        /// GTIN (14 digits, or 8/12/13 padded to 14).
        #[arg(long)]
        gtin: String,
        /// Lot (AI 10).
        #[arg(long)]
        lot: Option<String>,
        /// Serial (AI 21).
        #[arg(long)]
        serial: Option<String>,
        /// Domain and path before the AIs (default https://id.gs1.org).
        #[arg(long)]
        stem: Option<String>,
    },
}

#[derive(Subcommand)]
enum SealCmd {
    /// As a member of a recipient organization, wrap a sealed field's data key for
    /// another organization (a party whose roles read the field's category, e.g. the
    /// carrier assigned after an order), or again for a recipient that complained.
    #[command(
        after_help = "Example:\n  waybill seal add-recipient --record urn:uuid:4e8d2c6f-1a7b-4c3e-9f5d-8b2a6e0c4d13 --field /wb:purchasePrice --for shopmart --as liu-yang --dir waybill-data"
    )]
    AddRecipient {
        /// The record: the event's eventID.
        #[arg(long)]
        record: String,
        /// The field's JSON pointer inside the event.
        #[arg(long)]
        field: String,
        /// The organization to add.
        #[arg(long = "for")]
        to: String,
        /// The member (its key file holds the organization's encryption secrets).
        #[arg(long = "as")]
        who: String,
        /// For an erasable field: also deliver its private part to this node (API base
        /// URL of a node of the added organization; repeatable).
        #[arg(long = "deliver-to", value_name = "URL")]
        deliver_to: Vec<String>,
        #[command(flatten)]
        target: Target,
    },
    /// As a member of a recipient organization, say its wrap of a sealed field does
    /// not open: the field is flagged until a recipient wraps it again.
    #[command(
        after_help = "Example:\n  waybill seal complain --record urn:uuid:… --field /wb:purchasePrice --as zhao-lei --reason \"HPKE open failed\""
    )]
    Complain {
        /// The record: the event's eventID.
        #[arg(long)]
        record: String,
        /// The field's JSON pointer inside the event.
        #[arg(long)]
        field: String,
        /// The member.
        #[arg(long = "as")]
        who: String,
        /// What went wrong.
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        target: Target,
    },
    /// Erase an erasable sealed field (personal data) on its subject's request, as a
    /// member of the organization that captured it or a regulator: every node that
    /// keeps its private part purges it and records so; the chain still verifies.
    #[command(after_help = "Example:
  waybill seal erase --record urn:uuid:… --field /wb:consignee --as li-wei --reason \"erasure request 2026-118\"")]
    Erase {
        /// The record: the event's eventID.
        #[arg(long)]
        record: String,
        /// The field's JSON pointer inside the event.
        #[arg(long)]
        field: String,
        /// The member.
        #[arg(long = "as")]
        who: String,
        /// Why (kept on the chain: cite the request, not the person).
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        target: Target,
    },
}

#[derive(Subcommand)]
enum SealKeyCmd {
    /// As an organization's admin, make the organization's next encryption key: the
    /// secret goes into the admin's key file first, then the public key on chain.
    #[command(
        after_help = "Example:\n  waybill seal-key rotate --as admin:sichuan-orchard --dir waybill-data"
    )]
    Rotate {
        /// The admin: a key file, a member name, or admin:ORG.
        #[arg(long = "as")]
        who: String,
        #[command(flatten)]
        target: Target,
    },
    /// Hand an organization's encryption secrets from one key file (the admin's) to
    /// another (a member who may read sealed fields).
    #[command(
        after_help = "Example:\n  waybill seal-key share --from waybill-data/keys/orgs/sichuan-orchard-admin.json --to waybill-data/keys/members/li-wei.json"
    )]
    Share {
        /// The key file holding the secrets.
        #[arg(long)]
        from: PathBuf,
        /// The key file to add them to.
        #[arg(long)]
        to: PathBuf,
    },
}

#[derive(Subcommand)]
enum KeysCmd {
    /// Generate a new Ed25519 key into a file readable only by you.
    #[command(
        after_help = "Example:\n  waybill keys new --out alice.json --label \"Alice, packing line\""
    )]
    New {
        /// File to write (never overwritten).
        #[arg(long)]
        out: PathBuf,
        /// What the key is for.
        #[arg(long, default_value = "member key")]
        label: String,
    },
    /// Print the public key in a key file.
    #[command(after_help = "Example:\n  waybill keys show alice.json")]
    Show { file: PathBuf },
}

fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("warn,waybill=info,waybill_node=info,waybill_api=info")
    });
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        b.json().init();
    } else {
        b.init();
    }
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_json);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the tokio runtime starts");
    let result = rt.block_on(async move {
        match cli.cmd {
            Cmd::Init {
                dir,
                chain_id,
                consortium,
            } => match consortium {
                Some(spec) => consortium::init(&spec, &dir),
                None => commands::init(&dir, &chain_id).map(|_| ()),
            },
            Cmd::Node {
                dir,
                listen,
                p2p_listen,
                peers,
                byzantine,
                tls,
            } => commands::node(&dir, listen, p2p_listen, peers, byzantine, tls.files()).await,
            Cmd::Demo {
                dir,
                listen,
                p2p_listen,
                tls,
            } => demo::run(&dir, listen.as_deref(), p2p_listen.as_deref(), tls.files()).await,
            Cmd::Keys(KeysCmd::New { out, label }) => commands::keys_new(&out, &label),
            Cmd::Keys(KeysCmd::Show { file }) => commands::keys_show(&file),
            Cmd::SealKey(SealKeyCmd::Rotate { who, target }) => {
                seal_cmds::rotate(&target.client()?, &target.keys_dir(), &who).await
            }
            Cmd::SealKey(SealKeyCmd::Share { from, to }) => seal_cmds::share(&from, &to),
            Cmd::Open {
                key,
                chain_id,
                target,
            } => match chain_id {
                // Offline: what the input holds only.
                Some(c) => seal_cmds::open(&key, &c, None).await,
                None => {
                    let client = target.client()?;
                    let chain_id = client.chain_id().await?;
                    seal_cmds::open(&key, &chain_id, Some(&client)).await
                }
            },
            Cmd::Seal(SealCmd::AddRecipient {
                record,
                field,
                to,
                who,
                deliver_to,
                target,
            }) => {
                seal_cmds::add_recipient(
                    &target.client()?,
                    &target.keys_dir(),
                    &who,
                    (&record, &field),
                    &to,
                    &deliver_to,
                )
                .await
            }
            Cmd::Seal(SealCmd::Complain {
                record,
                field,
                who,
                reason,
                target,
            }) => {
                seal_cmds::complain(
                    &target.client()?,
                    &target.keys_dir(),
                    &who,
                    &record,
                    &field,
                    &reason,
                )
                .await
            }
            Cmd::Seal(SealCmd::Erase {
                record,
                field,
                who,
                reason,
                target,
            }) => {
                seal_cmds::erase(
                    &target.client()?,
                    &target.keys_dir(),
                    &who,
                    &record,
                    &field,
                    &reason,
                )
                .await
            }
            Cmd::Submit {
                key,
                payload,
                target,
                nonce,
                expires_in,
                no_wait,
                seal,
                seal_for,
                dry_run,
            } => {
                let opts = commands::SubmitOptions {
                    nonce,
                    expires_in_s: expires_in,
                    wait: !no_wait,
                    dry_run,
                    seal,
                    seal_for,
                };
                commands::submit(&key, &payload, &target.client()?, &opts).await
            }
            Cmd::Status { target } => commands::print_get(&target.client()?, "/v1/status").await,
            Cmd::Block { height, target } => {
                commands::print_get(&target.client()?, &format!("/v1/blocks/{height}")).await
            }
            Cmd::Tx { id, target } => {
                commands::print_get(&target.client()?, &format!("/v1/txs/{id}")).await
            }
            Cmd::Testnet {
                nodes,
                dir,
                api_port,
                p2p_port,
                init_only,
            } => {
                if init_only {
                    testnet::init_only(&dir, nodes, api_port, p2p_port)
                } else {
                    testnet::run(&dir, nodes, api_port, p2p_port).await
                }
            }
            Cmd::Verify { dir, quick } => commands::verify(&dir, quick),
            Cmd::Backup { dir, out } => commands::backup(&dir, &out),
            Cmd::Restore {
                file,
                from,
                dir,
                force,
                key,
                signing_mark,
                listen,
                p2p_listen,
                peers,
                peer_apis,
            } => commands::restore(&commands::RestoreArgs {
                from: file.or(from).expect("clap requires FILE or --from"),
                dir,
                force,
                key,
                signing_mark,
                node_file: waybill_server::NodeFile {
                    api_listen: listen,
                    p2p_listen,
                    peers,
                    peer_apis,
                    hosts_private_data_for: Vec::new(),
                },
            }),
            Cmd::Capture {
                file,
                who,
                target,
                expires_in,
                no_wait,
                mut seal,
                seal_for,
                erasable,
                deliver_to,
                dry_run,
            } => {
                seal.extend(erasable.into_iter().map(|mut s| {
                    s.erasable = true;
                    s
                }));
                let opts = trace_cmds::CaptureOptions {
                    expires_in_s: expires_in,
                    wait: !no_wait,
                    dry_run,
                    seal,
                    seal_for,
                    deliver_to,
                };
                trace_cmds::capture(&target.client()?, &target.keys_dir(), &who, &file, &opts).await
            }
            Cmd::CaptureJob { id, who, target } => {
                trace_cmds::capture_job(&target.client()?, &target.keys_dir(), &who, &id).await
            }
            Cmd::Events {
                params,
                who,
                target,
                paging,
            } => {
                trace_cmds::events(
                    &target.client()?,
                    &target.keys_dir(),
                    &who,
                    &params,
                    paging.into(),
                )
                .await
            }
            Cmd::Trace {
                id,
                forward,
                who,
                target,
                json,
            } => {
                trace_cmds::trace(
                    &target.client()?,
                    &target.keys_dir(),
                    &who,
                    &id,
                    forward,
                    json,
                )
                .await
            }
            Cmd::Audit {
                product,
                member,
                org,
                who,
                after,
                target,
                paging,
            } => {
                let q = match (product, member, org) {
                    (Some(p), None, None) => Some(format!("product={p}")),
                    (None, Some(m), None) => Some(format!("member={m}")),
                    (None, None, Some(o)) => Some(format!("org={o}")),
                    _ => None,
                };
                match q {
                    Some(q) => {
                        trace_cmds::audit(
                            &target.client()?,
                            &target.keys_dir(),
                            &who,
                            &q,
                            after.as_deref(),
                            paging.into(),
                        )
                        .await
                    }
                    None => Err(anyhow::anyhow!(
                        "give exactly one of --product, --member, --org"
                    )),
                }
            }
            Cmd::Epcis(EpcisCmd::HashId { file }) => trace_cmds::hash_ids(&file),
            Cmd::Epcis(EpcisCmd::Validate { file }) => trace_cmds::validate(&file),
            Cmd::Dl(DlCmd::Parse { uri }) => trace_cmds::dl_parse(&uri),
            Cmd::Dl(DlCmd::Make {
                gtin,
                lot,
                serial,
                stem,
            }) => trace_cmds::dl_make(&gtin, lot.as_deref(), serial.as_deref(), stem.as_deref()),
            Cmd::Qr { link, out, scale } => trace_cmds::qr(&link, &out, scale),
            Cmd::Proof { link, out, target } => {
                trace_cmds::proof(&target.client()?, &link, out.as_deref()).await
            }
            Cmd::Disclose {
                key,
                record,
                field,
                out,
                target,
            } => {
                seal_cmds::disclose(&target.client()?, &key, &record, &field, out.as_deref()).await
            }
            Cmd::VerifyDisclosure {
                file,
                genesis,
                fingerprint,
                trust,
            } => trace_cmds::verify_disclosure(
                &file,
                genesis.as_deref(),
                fingerprint.as_deref(),
                trust.as_deref(),
            ),
            Cmd::VerifyProof {
                file,
                genesis,
                fingerprint,
                trust,
            } => trace_cmds::verify_proof(
                &file,
                genesis.as_deref(),
                fingerprint.as_deref(),
                trust.as_deref(),
            ),
            Cmd::Trust { genesis, out } => trace_cmds::save_trust(&genesis, &out),
            Cmd::Accounts(AccountsCmd::List {
                who,
                json,
                target,
                paging,
            }) => {
                money_cmds::list(
                    &target.client()?,
                    &target.keys_dir(),
                    &who,
                    paging.into(),
                    json,
                )
                .await
            }
            Cmd::Reconcile {
                statement,
                who,
                provider,
                from,
                to,
                json,
                target,
            } => {
                money_cmds::reconcile(
                    &target.client()?,
                    &target.keys_dir(),
                    &who,
                    &statement,
                    provider.as_deref(),
                    (from.as_deref(), to.as_deref()),
                    json,
                )
                .await
            }
            Cmd::Orders(cmd) => orders_cmd(cmd).await,
            Cmd::Inventory {
                who,
                location,
                json,
                target,
            } => {
                order_cmds::inventory(
                    &target.client()?,
                    &target.keys_dir(),
                    &who,
                    location.as_deref(),
                    json,
                )
                .await
            }
            Cmd::Alerts { who, json, target } => {
                order_cmds::alerts(&target.client()?, &target.keys_dir(), &who, json).await
            }
            Cmd::Accounts(AccountsCmd::Show { id, who, target }) => {
                money_cmds::show(&target.client()?, &target.keys_dir(), &who, &id).await
            }
            Cmd::Bench {
                workload, nodes, ..
            } if !matches!(
                workload,
                Workload::Tx | Workload::Transfers | Workload::Orders
            ) && nodes != 1 =>
            {
                Err(anyhow::anyhow!(
                    "--workload {} runs on one validator; drop --nodes",
                    format!("{workload:?}").to_lowercase()
                ))
            }
            Cmd::Bench {
                workload: Workload::Epcis,
                members,
                concurrency,
                docs,
                doc_events,
                trace_reps,
                sealed_fields,
                plaintext_fields,
                keep_stock,
                runs,
                json,
                ..
            } => {
                waybill_bench::epcis::run(waybill_bench::epcis::EpcisBenchOptions {
                    sealed_fields,
                    plain_fields: plaintext_fields,
                    keep_stock,
                    n_members: members.unwrap_or(8),
                    docs_per_member: docs,
                    doc_events: doc_events.unwrap_or(100),
                    in_flight: concurrency.unwrap_or(2),
                    trace_reps,
                    runs,
                    json,
                })
                .await
            }
            Cmd::Bench {
                workload: Workload::Seal,
                reps,
                recipients,
                runs,
                json,
                ..
            } => waybill_bench::seal::run(waybill_bench::seal::SealBenchOptions {
                reps: reps.max(1) * 40,
                recipients,
                runs,
                json,
            }),
            Cmd::Bench {
                workload: Workload::Consumer,
                doc_events,
                reps,
                browser_loads,
                runs,
                json,
                ..
            } => {
                waybill_bench::consumer::run(waybill_bench::consumer::ConsumerBenchOptions {
                    reps,
                    browser_loads,
                    journey_doc_events: doc_events.unwrap_or(1),
                    runs,
                    json,
                })
                .await
            }
            Cmd::Bench {
                workload: workload @ (Workload::Tx | Workload::Transfers | Workload::Orders),
                txs,
                members,
                batch,
                concurrency,
                runs,
                nodes,
                rate,
                json,
                transfers_per_tx,
                ..
            } => {
                waybill_bench::tx::run(waybill_bench::tx::TxBenchOptions {
                    n_txs: txs,
                    n_members: members.unwrap_or(500),
                    batch: batch.unwrap_or(if nodes > 1 { 200 } else { 1_000 }),
                    concurrency: concurrency.unwrap_or(4),
                    runs,
                    n_nodes: nodes,
                    rate_tx_per_s: rate.unwrap_or(if nodes > 1 {
                        DEFAULT_MULTI_NODE_RATE
                    } else {
                        0
                    }),
                    json,
                    transfers_per_tx: if workload == Workload::Transfers {
                        transfers_per_tx
                    } else {
                        0
                    },
                    orders: workload == Workload::Orders,
                })
                .await
            }
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// `waybill orders …`.
async fn orders_cmd(cmd: OrdersCmd) -> anyhow::Result<()> {
    match cmd {
        OrdersCmd::List {
            who,
            state,
            json,
            target,
        } => {
            order_cmds::list(
                &target.client()?,
                &target.keys_dir(),
                &who,
                state.as_deref(),
                json,
            )
            .await
        }
        OrdersCmd::Show {
            buyer,
            id,
            who,
            target,
        } => order_cmds::show(&target.client()?, &target.keys_dir(), &who, &buyer, &id).await,
        OrdersCmd::Place {
            intent,
            buyer,
            ship_to,
            inline,
            deliver_to,
            who,
            target,
        } => {
            order_cmds::place(
                &target.client()?,
                &target.keys_dir(),
                &who,
                &intent,
                &buyer,
                ship_to.as_deref().map(|file| order_cmds::ShipTo {
                    file,
                    inline,
                    deliver_to: &deliver_to,
                }),
            )
            .await
        }
        OrdersCmd::Cancel {
            buyer,
            id,
            reason,
            buyer_key,
            who,
            target,
        } => {
            let step = waybill_types::payload::commerce::OrderStep::Cancel { reason };
            order_step(target, &who, &buyer, &id, step, buyer_key.as_deref()).await
        }
        OrdersCmd::Review {
            id,
            buyer,
            gtin,
            rating,
            title,
            text,
            who,
            target,
        } => {
            let client = target.client()?;
            let dir = target.keys_dir();
            let buyer_key = who::member_key(&dir, &buyer)?;
            let gtin: waybill_gs1::Gtin = gtin.parse()?;
            let chain_id = client.chain_id().await?;
            let p =
                order_cmds::review_payload(&chain_id, &buyer_key, &id, gtin, rating, &title, &text);
            order_cmds::submit_as(&client, &dir, &who, p).await
        }
        OrdersCmd::ConfirmDelivery {
            buyer,
            id,
            buyer_key,
            who,
            target,
        } => {
            let step = waybill_types::payload::commerce::OrderStep::ConfirmDelivery;
            order_step(target, &who, &buyer, &id, step, buyer_key.as_deref()).await
        }
    }
}

/// Submit `step` on order `buyer`/`id` as `who`, signed by the buyer if its key is
/// given.
async fn order_step(
    target: Target,
    who: &str,
    buyer: &str,
    id: &str,
    step: waybill_types::payload::commerce::OrderStep,
    buyer_key: Option<&str>,
) -> anyhow::Result<()> {
    let client = target.client()?;
    let dir = target.keys_dir();
    let buyer = waybill_types::PublicKey::from_hex(buyer)?;
    let key = buyer_key.map(|k| who::member_key(&dir, k)).transpose()?;
    if let Some(k) = &key {
        anyhow::ensure!(
            k.public() == buyer,
            "--buyer-key is {}, not the order's buyer {buyer}",
            k.public()
        );
    }
    let chain_id = client.chain_id().await?;
    let payload = order_cmds::order_action(&chain_id, buyer, id, step, key.as_ref());
    order_cmds::submit_as(&client, &dir, who, payload).await
}
