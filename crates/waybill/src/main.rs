//! `waybill`: one binary for every role — init, node, demo, keys, submit, status,
//! block, tx, verify, bench. Thin: the work is in the library crates.

mod bench;
mod commands;
mod consortium;
mod demo;
mod home;
mod serve;
mod testnet;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

const DEFAULT_DIR: &str = "waybill-data";
const DEFAULT_NODE: &str = "http://127.0.0.1:8080";

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
    },
    /// Start a node with a realistic demo supply chain (initializing the directory the first time).
    #[command(after_help = "Example:\n  waybill demo --dir waybill-data --listen 127.0.0.1:8080")]
    Demo {
        /// Node directory.
        #[arg(long, default_value = DEFAULT_DIR)]
        dir: PathBuf,
        /// HTTP API listen address.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
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
        /// The node's API.
        #[arg(long, default_value = DEFAULT_NODE)]
        node: String,
        /// Sequence number (default: the next one, asked from the node).
        #[arg(long)]
        seq: Option<u64>,
        /// Return once accepted, without waiting for the commit.
        #[arg(long)]
        no_wait: bool,
    },
    /// Show a node's status.
    #[command(after_help = "Example:\n  waybill status --node http://127.0.0.1:8080")]
    Status {
        #[arg(long, default_value = DEFAULT_NODE)]
        node: String,
    },
    /// Show a block.
    #[command(after_help = "Example:\n  waybill block 3 --node http://127.0.0.1:8080")]
    Block {
        height: u64,
        #[arg(long, default_value = DEFAULT_NODE)]
        node: String,
    },
    /// Show a transaction.
    #[command(
        after_help = "Example:\n  waybill tx 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    )]
    Tx {
        id: String,
        #[arg(long, default_value = DEFAULT_NODE)]
        node: String,
    },
    /// Re-verify a stopped node's whole store: hash links, transaction roots,
    /// signatures, commit certificates, re-execution and the state.
    #[command(
        after_help = "Example:\n  waybill verify --dir waybill-data\n\nExits 0 with a summary, or 1 naming the first bad height and record."
    )]
    Verify {
        #[arg(long, default_value = DEFAULT_DIR)]
        dir: PathBuf,
        /// Only check links, roots, signatures, certificates and write sets (no re-execution).
        #[arg(long)]
        quick: bool,
    },
    /// Measure committed transactions per second and commit latency on a fresh one-node chain.
    #[command(after_help = "Example:\n  waybill bench --txs 100000 --members 1000 --json")]
    Bench {
        /// Transactions to commit.
        #[arg(long, default_value_t = 60_000)]
        txs: usize,
        /// Distinct signing members.
        #[arg(long, default_value_t = 500)]
        members: usize,
        /// Transactions per HTTP request (default 1000 on one node, 200 on several).
        #[arg(long)]
        batch: Option<usize>,
        /// Requests in flight at once.
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        /// Measured runs (medians are reported).
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Offered load in transactions per second, paced; 0: as fast as the nodes take
        /// them. Default: 0 on one node; 10,000 on several (a closed loop saturates four
        /// validators sharing two cores and measures queueing rather than finality).
        #[arg(long)]
        rate: Option<u64>,
        /// Validators, each a full node with its own store, ports and API, in this process.
        #[arg(long, default_value_t = 1)]
        nodes: usize,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
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
            } => commands::node(&dir, listen, p2p_listen, peers, byzantine).await,
            Cmd::Demo { dir, listen } => demo::run(&dir, &listen).await,
            Cmd::Keys(KeysCmd::New { out, label }) => commands::keys_new(&out, &label),
            Cmd::Keys(KeysCmd::Show { file }) => commands::keys_show(&file),
            Cmd::Submit {
                key,
                payload,
                node,
                seq,
                no_wait,
            } => commands::submit(&key, &payload, &node, seq, !no_wait).await,
            Cmd::Status { node } => commands::print_get(&node, "/v1/status").await,
            Cmd::Block { height, node } => {
                commands::print_get(&node, &format!("/v1/blocks/{height}")).await
            }
            Cmd::Tx { id, node } => commands::print_get(&node, &format!("/v1/txs/{id}")).await,
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
            Cmd::Bench {
                txs,
                members,
                batch,
                concurrency,
                runs,
                nodes,
                rate,
                json,
            } => {
                bench::run(bench::BenchOptions {
                    n_txs: txs,
                    n_members: members,
                    batch: batch.unwrap_or(if nodes > 1 { 200 } else { 1_000 }),
                    concurrency,
                    runs,
                    n_nodes: nodes,
                    rate_tx_per_s: rate.unwrap_or(if nodes > 1 { 10_000 } else { 0 }),
                    json,
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
