//! Every size, count and queue that outside data can grow has a limit here.
//! Configuration may lower a limit, never raise it past these constants.

/// Largest encoded signed transaction, in bytes (room for one EPCIS document).
pub const TX_BYTES_MAX: usize = 1024 * 1024 + 4 * 1024;
/// Largest EPCIS document captured in one transaction, in bytes of JSON.
pub const EPCIS_DOCUMENT_BYTES_MAX: usize = 1024 * 1024;
/// Most events in one captured EPCIS document.
pub const EPCIS_EVENTS_MAX: usize = 1_000;
/// Earliest time an EPCIS event may say something happened (`eventTime`,
/// `declarationTime`, sensor times), ms since the Unix epoch: 1970-01-01T00:00:00Z.
pub const EVENT_TIME_MS_MIN: i64 = 0;
/// How far past the current time (the block time) an EPCIS event time may lie, ms: one
/// day, for clocks and time zones that are slightly off, not for events yet to happen.
pub const EVENT_TIME_AHEAD_MS_MAX: i64 = 86_400_000;
/// Most inputs, raw-material lots or claims listed on a lot.
pub const LOT_LIST_MAX: usize = 64;
/// Furthest a transaction's expiry may lie after the block that includes it, in ms
/// (24 h). Replay protection keeps each transaction's id in consensus state until it
/// expires, so this bounds that state (rate × window); clients choose shorter
/// expiries (the SDK's default is 10 minutes).
pub const TX_EXPIRY_WINDOW_MS_MAX: u64 = 24 * 60 * 60 * 1000;
/// Most expired replay ids removed at the start of one block; the rest wait for the
/// next block (an expired id is refused by its expiry anyway, so keeping it longer
/// is harmless).
pub const REPLAY_IDS_EXPIRED_PER_BLOCK_MAX: usize = 2 * BLOCK_TXS_MAX;
/// Most transactions in one block.
pub const BLOCK_TXS_MAX: usize = 20_000;
/// Largest encoded block (header and transactions), in bytes.
pub const BLOCK_BYTES_MAX: usize = 16 * 1024 * 1024;
/// Most transactions waiting in the mempool.
pub const MEMPOOL_TXS_MAX: usize = 200_000;
/// Most bytes of transactions waiting in the mempool.
pub const MEMPOOL_BYTES_MAX: usize = 512 * 1024 * 1024;
/// Largest HTTP request body, in bytes (a batch of transactions fits).
pub const REQUEST_BODY_BYTES_MAX: usize = 8 * 1024 * 1024;
/// Longest HTTP request target (path and query), in bytes.
pub const REQUEST_TARGET_BYTES_MAX: usize = 8 * 1024;
/// Most bytes of HTTP request header fields (names, values and their separators).
pub const REQUEST_HEADER_BYTES_MAX: usize = 32 * 1024;
/// Most HTTP request header fields.
pub const REQUEST_HEADERS_MAX: usize = 100;
/// Most HTTP connections open at once; more wait to be accepted.
pub const CONNECTIONS_MAX: usize = 4_096;
/// Most transactions in one batch submission.
pub const SUBMIT_BATCH_TXS_MAX: usize = 5_000;
/// Most items in one page of a list answer.
pub const PAGE_ITEMS_MAX: usize = 1_000;
/// Longest chain id, in bytes.
pub const CHAIN_ID_BYTES_MAX: usize = 64;
/// Longest name-like field (organization, member, product names, brands,
/// categories, units), in bytes.
pub const NAME_BYTES_MAX: usize = 200;
/// Longest free-text field (reasons, notes), in bytes.
pub const TEXT_BYTES_MAX: usize = 1_000;
/// Most roles one member holds.
pub const ROLES_MAX: usize = 16;
/// Most company prefixes one organization owns.
pub const COMPANY_PREFIXES_MAX: usize = 64;
/// Most organizations in a genesis file.
pub const GENESIS_ORGS_MAX: usize = 1_000;
/// Most validators.
pub const VALIDATORS_MAX: usize = 200;
/// Largest voting power of one validator (genesis and governance). With at most
/// [`VALIDATORS_MAX`] validators the total stays at most 2·10^8, far inside the
/// consensus engine's arithmetic (`3 × total` must fit u64) and every sum of
/// powers is exact.
pub const VOTING_POWER_MAX: u64 = 1_000_000;
/// Largest encoded genesis, in bytes.
pub const GENESIS_BYTES_MAX: usize = 4 * 1024 * 1024;
/// Largest encoded commit certificate, in bytes.
pub const CERTIFICATE_BYTES_MAX: usize = VALIDATORS_MAX * 200 + 1024;
/// Most blocks returned by one sync request.
pub const SYNC_BLOCKS_MAX: usize = 64;
/// Most transfers in one transaction (they succeed or fail together).
pub const TRANSFERS_PER_TX_MAX: usize = 1_000;
/// Longest pending-transfer timeout, ms (366 days): escrow that outlives a return
/// window, bounded so that every pending transfer is settled some day.
pub const PENDING_TRANSFER_TIMEOUT_MS_MAX: u64 = 366 * 24 * 60 * 60 * 1000;
/// Most pending transfers expired at the start of one block; the rest wait for the
/// next block (until then they may still be posted or voided).
pub const PENDING_TRANSFERS_EXPIRED_PER_BLOCK_MAX: usize = 10_000;
/// Longest payment-provider reference, bytes (ISO 20022 references are at most 35
/// characters; room for a provider's own composite form).
pub const PROVIDER_REFERENCE_BYTES_MAX: usize = 140;

/// Lines of one order.
pub const ORDER_LINES_MAX: usize = 100;
/// Trade units on one order line.
pub const ORDER_QUANTITY_MAX: u32 = 1_000_000;
/// Discounts of one listing.
pub const DISCOUNTS_MAX: usize = 16;
/// The longest step of an order's terms (ship, deliver, return window): 366 days.
pub const ORDER_STEP_MS_MAX: u64 = 366 * 24 * 60 * 60 * 1000;
/// Order deadlines acted on at the start of one block (expiry, refund, settlement);
/// the rest roll over to the next block.
pub const ORDER_DEADLINES_PER_BLOCK_MAX: usize = 10_000;
/// A sealed delivery address of an order (its JSON text).
pub const SHIP_TO_BYTES_MAX: usize = 16 * 1024;
