//! Every size, count and queue that outside data can grow has a limit here.
//! Configuration may lower a limit, never raise it past these constants.

/// Largest encoded signed transaction, in bytes (room for one EPCIS document).
pub const TX_BYTES_MAX: usize = 1024 * 1024 + 4 * 1024;
/// Largest EPCIS document captured in one transaction, in bytes of JSON.
pub const EPCIS_DOCUMENT_BYTES_MAX: usize = 1024 * 1024;
/// Most events in one captured EPCIS document.
pub const EPCIS_EVENTS_MAX: usize = 1_000;
/// Most inputs, raw-material lots or claims listed on a lot.
pub const LOT_LIST_MAX: usize = 64;
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
