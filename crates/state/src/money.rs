//! Money: double-entry accounts and transfers, as TigerBeetle keeps them.
//!
//! An account holds four running sums — `debits_pending`, `debits_posted`,
//! `credits_pending`, `credits_posted` — in whole minor units of one currency. A
//! transfer adds its amount to the debit side of one account and the credit side of
//! another: posted at once (single-phase), or pending until it is posted (in full or
//! in part, the remainder released), voided, or expires at its timeout in block time.
//! Balance flags are checked when a transfer is created, counting pending amounts.
//!
//! Invariant, asserted in release builds on every write of an account row: per
//! currency, Σ debits_posted = Σ credits_posted and Σ debits_pending = Σ credits_pending
//! over all account rows. The sums are kept in one totals row per currency, updated
//! from the rows' old and new values (not from the transfers' amounts), so a bug that
//! moved one side only halts the node instead of committing money out of nothing.

use std::collections::BTreeMap;

use borsh::{BorshDeserialize, BorshSerialize};
use serde::Serialize;
use waybill_types::hash::{sha256, Hash};
use waybill_types::money::{AccountId, AccountOwner, Amount, Currency, SETTLEMENT_ACCOUNT};
use waybill_types::payload::money::{
    AccountFlags, CloseAccount, Deposit, OpenAccount, TransferRef, TransferSpec, Transfers,
};
use waybill_types::reject::RejectCode;
use waybill_types::{Height, OrgId, PublicKey, Role, TxId};

use crate::access::{may_write, DataCategory};
use crate::exec::{
    decode_record, encode_record, Call, Contract, Execution, HandlerError, Rejection, StateRead,
    StateReadError, StateScan, Writes,
};
use crate::identity::{active_signer, Member};
use crate::keys;

/// An account row.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct Account {
    /// Its id (owner, currency, name).
    pub id: AccountId,
    /// Its balance rules.
    pub flags: AccountFlags,
    /// Σ amounts of pending transfers debiting it.
    pub debits_pending: Amount,
    /// Σ amounts of posted transfers debiting it.
    pub debits_posted: Amount,
    /// Σ amounts of pending transfers crediting it.
    pub credits_pending: Amount,
    /// Σ amounts of posted transfers crediting it.
    pub credits_posted: Amount,
    /// The height of the block that opened it.
    pub opened_at: Height,
}

impl Account {
    fn new(id: AccountId, flags: AccountFlags, at: Height) -> Account {
        Account {
            id,
            flags,
            debits_pending: Amount::ZERO,
            debits_posted: Amount::ZERO,
            credits_pending: Amount::ZERO,
            credits_posted: Amount::ZERO,
            opened_at: at,
        }
    }

    /// Posted balance seen from the owner (credits − debits): what the ledger owes it.
    /// Negative for an account that has paid out more than it received (a provider's
    /// settlement account).
    pub fn posted_balance(&self) -> i128 {
        signed(self.credits_posted) - signed(self.debits_posted)
    }

    /// Posted balance with pending transfers counted as if posted.
    pub fn pending_balance(&self) -> i128 {
        self.posted_balance() + signed(self.credits_pending) - signed(self.debits_pending)
    }

    /// What the owner may still spend: posted credits less posted and pending debits.
    pub fn available_balance(&self) -> i128 {
        self.posted_balance() - signed(self.debits_pending)
    }
}

/// i128 view of an amount for balances (amounts past 2^127 saturate; the ledger's
/// sums are checked in u128 — balances are a reading, not a rule).
fn signed(a: Amount) -> i128 {
    i128::try_from(a.0).unwrap_or(i128::MAX)
}

/// What became of a pending transfer.
#[derive(
    Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum PendingState {
    /// Waiting; voided automatically at `expires_at_ms` (block time).
    Pending {
        /// When it expires, ms since the Unix epoch.
        expires_at_ms: u64,
    },
    /// Posted (by the transfer named), `amount` of it; the rest went back.
    Posted {
        /// The posting transfer.
        by: TransferRef,
        /// How much was posted.
        amount: Amount,
    },
    /// Voided by the transfer named.
    Voided {
        /// The voiding transfer.
        by: TransferRef,
    },
    /// Voided at its timeout, by the block at `height`.
    Expired {
        /// The block that expired it.
        height: Height,
    },
}

/// A transfer row: what a client id of a signer did.
#[derive(
    Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, schemars::JsonSchema,
)]
pub struct TransferRecord {
    /// Who made it and its client id.
    pub id: TransferRef,
    /// `single`, `pending`, `post` or `void`.
    pub kind: String,
    /// The account debited.
    pub debit: AccountId,
    /// The account credited.
    pub credit: AccountId,
    /// The amount it moved (posted, reserved, posted from a pending one, or released
    /// by a void).
    pub amount: Amount,
    /// The pending transfer a post or void settled.
    pub pending: Option<TransferRef>,
    /// A pending transfer's fate.
    pub pending_state: Option<PendingState>,
    /// The payment provider's reference.
    pub reference: Option<String>,
    /// The block that made it.
    pub height: Height,
    /// That block's time.
    pub time_ms: u64,
    /// The transaction that made it.
    pub tx_id: TxId,
    /// SHA-256 of the borsh encoding of the request, for idempotent retries.
    #[serde(skip)]
    pub body: Hash,
}

/// Sums of a few account rows, each field as (carries, low bits): wide enough that
/// adding rows never overflows.
#[derive(Clone, Copy, Debug, Default)]
struct Wide {
    debits_pending: (u128, u128),
    debits_posted: (u128, u128),
    credits_pending: (u128, u128),
    credits_posted: (u128, u128),
}

impl Wide {
    fn add_row(&mut self, a: &Account) {
        fn add(sum: &mut (u128, u128), x: Amount) {
            let (lo, carry) = sum.1.overflowing_add(x.0);
            *sum = (sum.0 + u128::from(carry), lo);
        }
        add(&mut self.debits_pending, a.debits_pending);
        add(&mut self.debits_posted, a.debits_posted);
        add(&mut self.credits_pending, a.credits_pending);
        add(&mut self.credits_posted, a.credits_posted);
    }
}

/// `old + add − sub` if it lies in 0..=u128::MAX.
fn apply(old: u128, add: (u128, u128), sub: (u128, u128)) -> Option<u128> {
    // 256-bit arithmetic on (hi, lo) pairs.
    let (lo, c) = old.overflowing_add(add.1);
    let hi = add.0.checked_add(u128::from(c))?;
    let (lo, b) = lo.overflowing_sub(sub.1);
    let hi = hi.checked_sub(sub.0)?.checked_sub(u128::from(b))?;
    (hi == 0).then_some(lo)
}

/// Per-currency sums over every account row.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
struct Totals {
    debits_pending: u128,
    debits_posted: u128,
    credits_pending: u128,
    credits_posted: u128,
}

/// Load an account row.
pub fn load_account<S: StateRead + ?Sized>(
    state: &S,
    id: &AccountId,
) -> Result<Option<Account>, StateReadError> {
    let k = keys::account(id);
    state.get(&k)?.map(|b| decode_record(&k, &b)).transpose()
}

/// Load a transfer row.
pub fn load_transfer<S: StateRead + ?Sized>(
    state: &S,
    r: &TransferRef,
) -> Result<Option<TransferRecord>, StateReadError> {
    let k = keys::transfer(&r.signer, &r.id);
    state.get(&k)?.map(|b| decode_record(&k, &b)).transpose()
}

/// A payment provider's booked references, in reference order, after `after`
/// (exclusive), at most `max`: each with its transfer.
pub fn provider_transfers<S: StateScan + ?Sized>(
    state: &S,
    provider: &OrgId,
    after: Option<&str>,
    max: usize,
) -> Result<Vec<(String, TransferRecord)>, StateReadError> {
    let prefix = keys::provider_references(provider);
    let start = match after {
        Some(a) => [keys::provider_reference(provider, a).as_slice(), &[0]].concat(),
        None => prefix.clone(),
    };
    let mut out = Vec::new();
    for (k, v) in state.scan_from(&prefix, &start, max)? {
        let r: TransferRef = decode_record(&k, &v)?;
        let reference =
            String::from_utf8(k[prefix.len()..].to_vec()).map_err(|_| StateReadError::Corrupt {
                key: k.clone(),
                reason: "a provider reference is not UTF-8".into(),
            })?;
        let t = load_transfer(state, &r)?.ok_or_else(|| StateReadError::Corrupt {
            key: k.clone(),
            reason: format!("reference names transfer `{}`, which is missing", r.id),
        })?;
        out.push((reference, t));
    }
    Ok(out)
}

/// Every account row whose key starts with `prefix` (all accounts, or one owner's:
/// [`keys::accounts_of_org`]), in key order, after `after` (exclusive), at most `max`.
pub fn list_accounts<S: StateScan + ?Sized>(
    state: &S,
    prefix: &[u8],
    after: Option<&AccountId>,
    max: usize,
) -> Result<Vec<Account>, StateReadError> {
    let start = match after {
        Some(a) => [keys::account(a).as_slice(), &[0]].concat(),
        None => prefix.to_vec(),
    };
    state
        .scan_from(prefix, &start, max)?
        .into_iter()
        .map(|(k, v)| decode_record(&k, &v))
        .collect()
}

/// Σ over every account row of one currency equals the totals row, and debits equal
/// credits (posted and pending). For tests and `verify`: it reads every row.
pub fn check_totals<S: StateScan + ?Sized>(
    state: &S,
    currency: Currency,
) -> Result<Result<(), String>, StateReadError> {
    let mut sum = Wide::default();
    let mut after = None;
    loop {
        let rows = list_accounts(state, &[keys::ACCOUNT], after.as_ref(), 1024)?;
        let n = rows.len();
        for a in rows.iter().filter(|a| a.id.currency == currency) {
            sum.add_row(a);
        }
        after = rows.last().map(|a| a.id.clone());
        if n < 1024 {
            break;
        }
    }
    let k = keys::money_totals(&currency);
    let kept: Totals = state
        .get(&k)?
        .map(|b| decode_record(&k, &b))
        .transpose()?
        .unwrap_or_default();
    let none = (0, 0);
    let rows = (
        apply(0, sum.debits_pending, none),
        apply(0, sum.debits_posted, none),
        apply(0, sum.credits_pending, none),
        apply(0, sum.credits_posted, none),
    );
    let kept4 = (
        Some(kept.debits_pending),
        Some(kept.debits_posted),
        Some(kept.credits_pending),
        Some(kept.credits_posted),
    );
    Ok(if rows != kept4 {
        Err(format!(
            "{currency}: rows sum to {sum:?}, totals row says {kept:?}"
        ))
    } else if kept.debits_posted != kept.credits_posted
        || kept.debits_pending != kept.credits_pending
    {
        Err(format!("{currency}: debits and credits differ: {kept:?}"))
    } else {
        Ok(())
    })
}

/// The accounts and transfers one transaction (or the start-of-block expiry) reads
/// and changes, kept until its end so a later transfer of a batch sees an earlier
/// one's effect; then written, with the totals, in one go.
pub(crate) struct Ledger<'e, S: StateRead + ?Sized> {
    state: &'e S,
    height: Height,
    time_ms: u64,
    /// Account rows touched: (as read, as now).
    accounts: BTreeMap<AccountId, (Option<Account>, Account)>,
    /// Transfer rows written.
    pub(crate) transfers: BTreeMap<TransferRef, TransferRecord>,
    /// Pending-expiry index keys to write.
    expiries: Vec<Vec<u8>>,
    /// Payment-provider references claimed: key → the transfer.
    references: BTreeMap<Vec<u8>, TransferRef>,
}

pub(crate) type Rejected = Result<(), Rejection>;

impl<'e, S: StateRead + ?Sized> Ledger<'e, S> {
    pub(crate) fn new(state: &'e S, height: Height, time_ms: u64) -> Self {
        Ledger {
            state,
            height,
            time_ms,
            accounts: BTreeMap::new(),
            transfers: BTreeMap::new(),
            expiries: Vec::new(),
            references: BTreeMap::new(),
        }
    }

    /// The block height and time it books at.
    pub(crate) fn at(&self) -> (Height, u64) {
        (self.height, self.time_ms)
    }

    pub(crate) fn account(
        &mut self,
        id: &AccountId,
    ) -> Result<Option<&mut Account>, StateReadError> {
        if !self.accounts.contains_key(id) {
            match load_account(self.state, id)? {
                Some(a) => {
                    self.accounts.insert(id.clone(), (Some(a.clone()), a));
                }
                None => return Ok(None),
            }
        }
        Ok(self.accounts.get_mut(id).map(|(_, now)| now))
    }

    pub(crate) fn open(&mut self, id: &AccountId, flags: AccountFlags) {
        let a = Account::new(id.clone(), flags, self.height);
        self.accounts.insert(id.clone(), (None, a));
    }

    pub(crate) fn transfer(
        &self,
        r: &TransferRef,
    ) -> Result<Option<TransferRecord>, StateReadError> {
        match self.transfers.get(r) {
            Some(t) => Ok(Some(t.clone())),
            None => load_transfer(self.state, r),
        }
    }

    /// Claim a payment provider's `reference` for transfer `r`: a provider's
    /// reference names one payment of its own, so it is taken once (the same bank
    /// payment cannot be credited twice under two client ids).
    pub(crate) fn claim_reference(
        &mut self,
        provider: &OrgId,
        reference: &str,
        r: &TransferRef,
    ) -> Result<Rejected, StateReadError> {
        let k = keys::provider_reference(provider, reference);
        let taken = match self.references.get(&k) {
            Some(t) => Some(t.clone()),
            None => self
                .state
                .get(&k)?
                .map(|b| decode_record::<TransferRef>(&k, &b))
                .transpose()?,
        };
        if let Some(t) = taken {
            return Ok(Err(Rejection::new(
                RejectCode::Duplicate,
                format!(
                    "`{provider}` already booked reference `{reference}` (transfer `{}`); a provider's reference names one payment",
                    t.id
                ),
            )));
        }
        self.references.insert(k, r.clone());
        Ok(Ok(()))
    }

    /// Both accounts, open; `Err` names the first that is unknown or closed.
    pub(crate) fn open_pair(
        &mut self,
        debit: &AccountId,
        credit: &AccountId,
    ) -> Result<Result<(), Rejection>, StateReadError> {
        for id in [debit, credit] {
            match self.account(id)? {
                None => {
                    return Ok(Err(Rejection::new(
                        RejectCode::UnknownAccount,
                        format!("account `{id}` is not open; its owner opens it first (a key's account opens with a payment provider's deposit)"),
                    )))
                }
                Some(a) if a.flags.closed => {
                    return Ok(Err(Rejection::new(
                        RejectCode::AccountClosed,
                        format!("account `{id}` is closed; no new transfer may touch it"),
                    )))
                }
                Some(_) => {}
            }
        }
        Ok(Ok(()))
    }

    /// Add `amount` to the debit side of `debit` and the credit side of `credit`,
    /// posted or pending, checking both accounts' flags.
    pub(crate) fn book(
        &mut self,
        debit: &AccountId,
        credit: &AccountId,
        amount: Amount,
        pending: bool,
    ) -> Result<Rejected, StateReadError> {
        let overflow = |id: &AccountId| {
            Rejection::new(
                RejectCode::Overflow,
                format!("{amount} more on account `{id}` would pass 2^128-1 minor units"),
            )
        };
        let d = self.account(debit)?.expect("checked open").clone();
        let debits = d
            .debits_posted
            .checked_add(d.debits_pending)
            .and_then(|x| x.checked_add(amount));
        let Some(debits) = debits else {
            return Ok(Err(overflow(debit)));
        };
        if d.flags.debits_must_not_exceed_credits && debits > d.credits_posted {
            return Ok(Err(Rejection::new(
                RejectCode::ExceedsCredits,
                format!(
                    "account `{debit}` has {} available; {amount} more would exceed its credits (it may not be overdrawn)",
                    d.available_balance()
                ),
            )));
        }
        let c = self.account(credit)?.expect("checked open").clone();
        let credits = c
            .credits_posted
            .checked_add(c.credits_pending)
            .and_then(|x| x.checked_add(amount));
        let Some(credits) = credits else {
            return Ok(Err(overflow(credit)));
        };
        if c.flags.credits_must_not_exceed_debits && credits > c.debits_posted {
            return Ok(Err(Rejection::new(
                RejectCode::ExceedsDebits,
                format!(
                    "account `{credit}` may not be credited past its debits ({}); {amount} more would",
                    c.debits_posted
                ),
            )));
        }
        let d = self.account(debit)?.expect("checked open");
        if pending {
            d.debits_pending = d.debits_pending.checked_add(amount).expect("checked above");
        } else {
            d.debits_posted = d.debits_posted.checked_add(amount).expect("checked above");
        }
        let c = self.account(credit)?.expect("checked open");
        if pending {
            c.credits_pending = c
                .credits_pending
                .checked_add(amount)
                .expect("checked above");
        } else {
            c.credits_posted = c.credits_posted.checked_add(amount).expect("checked above");
        }
        Ok(Ok(()))
    }

    /// Release a pending `amount` from both sides and post `post` of it.
    pub(crate) fn settle(
        &mut self,
        debit: &AccountId,
        credit: &AccountId,
        amount: Amount,
        post: Amount,
    ) -> Result<Rejected, StateReadError> {
        assert!(post <= amount, "post at most the pending amount");
        for (id, is_debit) in [(debit, true), (credit, false)] {
            let a = self.account(id)?.ok_or_else(|| StateReadError::Corrupt {
                key: keys::account(id),
                reason: "a pending transfer names an account that is missing".into(),
            })?;
            let (pend, posted) = if is_debit {
                (&mut a.debits_pending, &mut a.debits_posted)
            } else {
                (&mut a.credits_pending, &mut a.credits_posted)
            };
            *pend = pend
                .checked_sub(amount)
                .ok_or_else(|| StateReadError::Corrupt {
                    key: keys::account(id),
                    reason: format!("pending sum below a pending transfer's {amount}"),
                })?;
            let Some(p) = posted.checked_add(post) else {
                return Ok(Err(Rejection::new(
                    RejectCode::Overflow,
                    format!("posting {post} on account `{id}` would pass 2^128-1 minor units"),
                )));
            };
            *posted = p;
        }
        Ok(Ok(()))
    }

    /// The writes: transfer rows, expiry keys, account rows, and each touched
    /// currency's totals row, updated from the account rows' old and new values and
    /// asserted balanced (the money invariant; a breach halts the node).
    ///
    /// A currency's ledger-wide sums are bounded by 2^128 − 1 too: a transaction that
    /// would pass that is rejected (`overflow`) — far beyond any real money, but a
    /// bound the invariant needs.
    pub(crate) fn into_writes(self) -> Result<Writes, HandlerError> {
        let mut w: Writes = Vec::new();
        // Per currency: Σ of the touched rows as they are now, and as they were. Kept
        // in i128-free form: two u128 sums per field, wide enough for the few rows
        // one transaction touches (each at most 2^128 − 1, at most 2^120 rows).
        let mut per_currency: BTreeMap<Currency, (Wide, Wide)> = BTreeMap::new();
        for (id, (before, now)) in &self.accounts {
            let (add, sub) = per_currency.entry(id.currency).or_default();
            if let Some(b) = before {
                sub.add_row(b);
            }
            add.add_row(now);
            if before.as_ref() != Some(now) {
                w.push((keys::account(id), encode_record(now)));
            }
        }
        for (currency, (add, sub)) in per_currency {
            let k = keys::money_totals(&currency);
            let old: Totals = self
                .state
                .get(&k)?
                .map(|b| decode_record(&k, &b))
                .transpose()?
                .unwrap_or_default();
            let new = match (
                apply(old.debits_pending, add.debits_pending, sub.debits_pending),
                apply(old.debits_posted, add.debits_posted, sub.debits_posted),
                apply(old.credits_pending, add.credits_pending, sub.credits_pending),
                apply(old.credits_posted, add.credits_posted, sub.credits_posted),
            ) {
                (Some(debits_pending), Some(debits_posted), Some(credits_pending), Some(credits_posted)) => Totals {
                    debits_pending,
                    debits_posted,
                    credits_pending,
                    credits_posted,
                },
                _ => {
                    return Err(Rejection::new(
                        RejectCode::Overflow,
                        format!("the ledger's sum of {currency} debits or credits would pass 2^128-1 minor units"),
                    )
                    .into())
                }
            };
            assert_eq!(
                (new.debits_posted, new.debits_pending),
                (new.credits_posted, new.credits_pending),
                "money invariant broken in {currency}: Σ debits ≠ Σ credits (posted, pending)"
            );
            if new != old {
                w.push((k, encode_record(&new)));
            }
        }
        for (r, t) in &self.transfers {
            w.push((keys::transfer(&r.signer, &r.id), encode_record(t)));
        }
        for k in self.expiries {
            w.push((k, Vec::new()));
        }
        for (k, r) in &self.references {
            w.push((k.clone(), encode_record(r)));
        }
        Ok(w)
    }
}

/// The kind of the pending transfers an order holds as escrow: only the order
/// (`crate::orders`) posts or voids them.
pub const ESCROW_KIND: &str = "escrow";

/// May `m` move its organization's money (debit its accounts, open and close them)?
/// Its admin, or a member with a role that writes financial data.
fn moves_money(m: &Member) -> bool {
    m.admin
        || m.roles
            .iter()
            .any(|r| may_write(*r, DataCategory::Financial))
}

fn not_authorized(msg: String) -> HandlerError {
    Rejection::new(RejectCode::NotAuthorized, msg).into()
}

/// The signer as a member that moves `account`'s owner's money (see
/// [`check_debit_authority`]).
fn money_signer<S: StateRead>(
    ex: &Execution<S>,
    signer: PublicKey,
    account: &AccountId,
) -> Result<Member, HandlerError> {
    let m = active_signer(ex, signer)?;
    check_debit_authority(&m, account)?;
    Ok(m)
}

impl Contract for OpenAccount {
    fn execute<S: StateRead>(&self, ex: &Execution<S>, call: Call) -> Result<Writes, HandlerError> {
        money_signer(ex, call.signer, &self.account)?;
        let ctx = ex.context();
        let mut l = Ledger::new(ex, ctx.height, ctx.time_ms);
        if l.account(&self.account)?.is_some() {
            return Err(Rejection::new(
                RejectCode::Duplicate,
                format!("account `{}` is already open", self.account),
            )
            .into());
        }
        l.open(&self.account, self.flags);
        l.into_writes()
    }

    fn describe(&self) -> String {
        format!("opened account `{}`", self.account)
    }
}

impl Contract for CloseAccount {
    fn execute<S: StateRead>(&self, ex: &Execution<S>, call: Call) -> Result<Writes, HandlerError> {
        money_signer(ex, call.signer, &self.account)?;
        let ctx = ex.context();
        let mut l = Ledger::new(ex, ctx.height, ctx.time_ms);
        match l.account(&self.account)? {
            None => Err(Rejection::new(
                RejectCode::UnknownAccount,
                format!("account `{}` is not open", self.account),
            )
            .into()),
            Some(a) if a.flags.closed => Err(Rejection::new(
                RejectCode::AccountClosed,
                format!("account `{}` is already closed", self.account),
            )
            .into()),
            Some(a) => {
                a.flags.closed = true;
                l.into_writes()
            }
        }
    }

    fn describe(&self) -> String {
        format!("closed account `{}`", self.account)
    }
}

/// Is the transfer client id `id` of `signer` free, or taken by a transfer with the
/// same request (`exists`) or another (`exists_with_different_fields`)?
pub(crate) fn check_fresh<S: StateRead + ?Sized>(
    l: &Ledger<'_, S>,
    r: &TransferRef,
    body: &Hash,
) -> Result<Rejected, StateReadError> {
    Ok(match l.transfer(r)? {
        None => Ok(()),
        Some(t) if t.body == *body => Err(Rejection::new(
            RejectCode::Exists,
            format!(
                "transfer `{}` was already made, by transaction {} at height {}; nothing changed (its result stands)",
                r.id, t.tx_id, t.height
            ),
        )),
        Some(t) => Err(Rejection::new(
            RejectCode::ExistsWithDifferentFields,
            format!(
                "client id `{}` was used by transaction {} at height {} for a different transfer; choose a new id",
                r.id, t.tx_id, t.height
            ),
        )),
    })
}

/// What a transfer did, for its row: (debit, credit, amount, the pending transfer it
/// settled, a new pending transfer's state, the provider's reference).
type Made = (
    AccountId,
    AccountId,
    Amount,
    Option<TransferRef>,
    Option<PendingState>,
    Option<String>,
);

/// One transfer of a batch, on the ledger `l`: its row, or why not.
fn apply_spec<S: StateRead + ?Sized>(
    l: &mut Ledger<'_, S>,
    signer: &Member,
    tx_id: TxId,
    spec: &TransferSpec,
) -> Result<Rejected, HandlerError> {
    let r = TransferRef {
        signer: signer.key,
        id: spec.id().to_string(),
    };
    let body = sha256(&borsh::to_vec(spec).expect("borsh encodes a transfer"));
    if let Err(e) = check_fresh(l, &r, &body)? {
        return Ok(Err(e));
    }
    let made = match spec {
        TransferSpec::Single {
            debit,
            credit,
            amount,
            reference,
            ..
        } => create(l, signer, &r, (debit, credit, *amount), None, reference)?,
        TransferSpec::Pending {
            debit,
            credit,
            amount,
            timeout_ms,
            reference,
            ..
        } => create(
            l,
            signer,
            &r,
            (debit, credit, *amount),
            Some(*timeout_ms),
            reference,
        )?,
        TransferSpec::Post {
            pending,
            amount,
            reference,
            ..
        } => settle_pending(l, signer, &r, pending, Some(*amount), reference)?,
        TransferSpec::Void { pending, .. } => settle_pending(l, signer, &r, pending, None, &None)?,
    };
    let (debit, credit, amount, settled, pending_state, reference) = match made {
        Ok(m) => m,
        Err(e) => return Ok(Err(e)),
    };
    let record = TransferRecord {
        id: r.clone(),
        kind: spec.kind().to_string(),
        debit,
        credit,
        amount,
        pending: settled,
        pending_state,
        reference,
        height: l.height,
        time_ms: l.time_ms,
        tx_id,
        body,
    };
    l.transfers.insert(r, record);
    Ok(Ok(()))
}

/// A single-phase transfer, or (with a timeout) a pending one.
fn create<S: StateRead + ?Sized>(
    l: &mut Ledger<'_, S>,
    signer: &Member,
    r: &TransferRef,
    (debit, credit, amount): (&AccountId, &AccountId, Amount),
    timeout_ms: Option<u64>,
    reference: &Option<String>,
) -> Result<Result<Made, Rejection>, HandlerError> {
    check_debit_authority(signer, debit)?;
    if let Err(e) = l.open_pair(debit, credit)? {
        return Ok(Err(e));
    }
    if let Err(e) = l.book(debit, credit, amount, timeout_ms.is_some())? {
        return Ok(Err(e));
    }
    let state = timeout_ms.map(|t| {
        let expires_at_ms = l.time_ms.saturating_add(t);
        l.expiries.push(keys::pending_expiry(expires_at_ms, r));
        PendingState::Pending { expires_at_ms }
    });
    Ok(Ok((
        debit.clone(),
        credit.clone(),
        amount,
        None,
        state,
        reference.clone(),
    )))
}

/// Post (`post` is `Some(amount or all)`) or void (`None`) the pending transfer
/// `pending`; `r` is the settling transfer.
fn settle_pending<S: StateRead + ?Sized>(
    l: &mut Ledger<'_, S>,
    signer: &Member,
    r: &TransferRef,
    pending: &TransferRef,
    post: Option<Option<Amount>>,
    reference: &Option<String>,
) -> Result<Result<Made, Rejection>, HandlerError> {
    let (mut p, held) = match pending_to_settle(l, signer, pending, post.is_some())? {
        Ok(x) => x,
        Err(e) => return Ok(Err(e)),
    };
    let posted = match post {
        Some(amount) => amount.unwrap_or(held),
        None => Amount::ZERO,
    };
    if posted > held {
        return Ok(Err(Rejection::new(
            RejectCode::ExceedsPendingAmount,
            format!(
                "pending transfer `{}` holds {held}; {posted} cannot be posted from it",
                pending.id
            ),
        )));
    }
    if let Err(e) = l.settle(&p.debit, &p.credit, held, posted)? {
        return Ok(Err(e));
    }
    // A provider's payout names its own payment: its reference is indexed (and taken).
    let payout = p.credit.name == SETTLEMENT_ACCOUNT
        && p.credit.org_owner() == Some(&signer.org)
        && signer.roles.contains(&Role::PaymentProvider);
    if let (true, Some(reference)) = (payout && post.is_some(), reference) {
        if let Err(e) = l.claim_reference(&signer.org, reference, r)? {
            return Ok(Err(e));
        }
    }
    p.pending_state = Some(match post {
        Some(_) => PendingState::Posted {
            by: r.clone(),
            amount: posted,
        },
        None => PendingState::Voided { by: r.clone() },
    });
    // A post's row shows what it posted; a void's, what it released.
    let amount = if post.is_some() { posted } else { held };
    let made = (
        p.debit.clone(),
        p.credit.clone(),
        amount,
        Some(pending.clone()),
        None,
        reference.clone(),
    );
    l.transfers.insert(pending.clone(), p);
    Ok(Ok(made))
}

/// May `signer` debit `debit`? Only an organization's own money mover.
pub(crate) fn check_debit_authority(
    signer: &Member,
    debit: &AccountId,
) -> Result<(), HandlerError> {
    match &debit.owner {
        AccountOwner::Org(o) if *o == signer.org && moves_money(signer) => Ok(()),
        AccountOwner::Org(o) if *o == signer.org => Err(not_authorized(format!(
            "{} may not move `{o}`'s money: that takes the organization's admin or a member with the financier or payment_provider role",
            signer.key
        ))),
        AccountOwner::Org(o) => Err(not_authorized(format!(
            "account `{debit}` belongs to `{o}`; only its owner debits it (the signer is of `{}`)",
            signer.org
        ))),
        AccountOwner::Key(_) => Err(not_authorized(format!(
            "account `{debit}` belongs to a key; it is debited only by a payment its holder signs (an order), never by another's transaction"
        ))),
    }
}

/// May `signer` post (`post`) or void a pending transfer `p`? Post: the payer's
/// organization releases the money. Void: the payee's organization declines it. Either,
/// for a withdrawal (credited to a payment provider's settlement account): the
/// provider, when it made the payout (post) or could not (void).
fn check_settle_authority(
    signer: &Member,
    p: &TransferRecord,
    post: bool,
) -> Result<(), HandlerError> {
    let side = if post { &p.debit } else { &p.credit };
    let own = |a: &AccountId| a.org_owner() == Some(&signer.org) && moves_money(signer);
    if own(side) || (p.credit.name == SETTLEMENT_ACCOUNT && own(&p.credit)) {
        return Ok(());
    }
    Err(not_authorized(format!(
        "pending transfer `{}` is {} by the organization of its {} account `{side}` (or, for a withdrawal, by the payment provider); the signer is of `{}`",
        p.id.id,
        if post { "posted" } else { "voided" },
        if post { "debit" } else { "credit" },
        signer.org
    )))
}

/// The pending transfer `r` if `signer` may post (`post`) or void it and it can
/// still be settled, with the amount it holds. Who may is checked before what became
/// of it, so a third party learns nothing of a transfer but that it exists.
fn pending_to_settle<S: StateRead + ?Sized>(
    l: &Ledger<'_, S>,
    signer: &Member,
    r: &TransferRef,
    post: bool,
) -> Result<Result<(TransferRecord, Amount), Rejection>, HandlerError> {
    let Some(p) = l.transfer(r)? else {
        return Ok(Err(Rejection::new(
            RejectCode::UnknownTransfer,
            format!("{} made no transfer `{}`", r.signer, r.id),
        )));
    };
    if p.kind == ESCROW_KIND {
        return Err(not_authorized(format!(
            "transfer `{}` is an order's escrow; the order settles it (cancel, delivery, its deadlines), no transfer does",
            r.id
        )));
    }
    check_settle_authority(signer, &p, post)?;
    let held = p.amount;
    Ok(match &p.pending_state {
        Some(PendingState::Pending { .. }) => Ok((p, held)),
        None => Err(Rejection::new(
            RejectCode::NotPending,
            format!("transfer `{}` is a {} transfer, not a pending one", r.id, p.kind),
        )),
        Some(PendingState::Posted { by, .. }) => Err(Rejection::new(
            RejectCode::PendingTransferPosted,
            format!("pending transfer `{}` was already posted (by `{}`)", r.id, by.id),
        )),
        Some(PendingState::Voided { by }) => Err(Rejection::new(
            RejectCode::PendingTransferVoided,
            format!("pending transfer `{}` was already voided (by `{}`)", r.id, by.id),
        )),
        Some(PendingState::Expired { height }) => Err(Rejection::new(
            RejectCode::PendingTransferExpired,
            format!("pending transfer `{}` expired at its timeout (block {height}); the money went back to the payer", r.id),
        )),
    })
}

impl Contract for Transfers {
    fn execute<S: StateRead>(&self, ex: &Execution<S>, call: Call) -> Result<Writes, HandlerError> {
        let m = active_signer(ex, call.signer)?;
        let ctx = ex.context();
        let mut l = Ledger::new(ex, ctx.height, ctx.time_ms);
        for (i, spec) in self.transfers.iter().enumerate() {
            if let Err(mut e) = apply_spec(&mut l, &m, call.tx_id, spec)? {
                if self.transfers.len() > 1 {
                    e.message = format!(
                        "transfers[{i}] (`{}`): {}; none of the {} linked transfers was made",
                        spec.id(),
                        e.message,
                        self.transfers.len()
                    );
                }
                return Err(e.into());
            }
        }
        l.into_writes()
    }

    fn describe(&self) -> String {
        match self.transfers.as_slice() {
            [t] => format!("{} transfer `{}`", t.kind(), t.id()),
            ts => format!("{} linked transfers", ts.len()),
        }
    }
}

impl Contract for Deposit {
    fn execute<S: StateRead>(&self, ex: &Execution<S>, call: Call) -> Result<Writes, HandlerError> {
        let m = active_signer(ex, call.signer)?;
        if !m.roles.contains(&Role::PaymentProvider) {
            return Err(not_authorized(format!(
                "{} is not a payment provider; money enters the ledger only through a member with the payment_provider role",
                m.key
            )));
        }
        let settlement = AccountId::org(&m.org, self.account.currency, SETTLEMENT_ACCOUNT);
        if self.account == settlement {
            return Err(Rejection::new(
                RejectCode::Invalid,
                format!("`{settlement}` is the provider's own settlement account; deposit into a customer's account"),
            )
            .into());
        }
        let ctx = ex.context();
        let mut l = Ledger::new(ex, ctx.height, ctx.time_ms);
        if l.account(&settlement)?.is_none() {
            l.open(&settlement, AccountFlags::default());
        }
        if l.account(&self.account)?.is_none() && matches!(self.account.owner, AccountOwner::Key(_))
        {
            let no_overdraft = AccountFlags {
                debits_must_not_exceed_credits: true,
                ..AccountFlags::default()
            };
            l.open(&self.account, no_overdraft);
        }
        let r = TransferRef {
            signer: m.key,
            id: self.id.clone(),
        };
        let body = sha256(&borsh::to_vec(self).expect("borsh encodes a deposit"));
        if let Err(e) = check_fresh(&l, &r, &body)? {
            return Err(e.into());
        }
        if let Err(e) = l.claim_reference(&m.org, &self.reference, &r)? {
            return Err(e.into());
        }
        if let Err(e) = l.open_pair(&settlement, &self.account)? {
            return Err(e.into());
        }
        if let Err(e) = l.book(&settlement, &self.account, self.amount, false)? {
            return Err(e.into());
        }
        l.transfers.insert(
            r.clone(),
            TransferRecord {
                id: r,
                kind: "deposit".into(),
                debit: settlement,
                credit: self.account.clone(),
                amount: self.amount,
                pending: None,
                pending_state: None,
                reference: Some(self.reference.clone()),
                height: ctx.height,
                time_ms: ctx.time_ms,
                tx_id: call.tx_id,
                body,
            },
        );
        l.into_writes()
    }

    fn describe(&self) -> String {
        format!(
            "deposited {} {} into `{}` (reference {})",
            self.amount, self.account.currency, self.account, self.reference
        )
    }
}

/// Void the pending transfers whose timeout is not after the block time, oldest
/// deadline first, at most
/// [`PENDING_TRANSFERS_EXPIRED_PER_BLOCK_MAX`](waybill_types::limits::PENDING_TRANSFERS_EXPIRED_PER_BLOCK_MAX)
/// (the rest roll over to the next block; until then they can still be posted or
/// voided). Runs at the start of a block, before its transactions.
pub(crate) fn expire_pending<S: StateScan>(
    ex: &mut Execution<'_, S>,
) -> Result<(), StateReadError> {
    let max = waybill_types::limits::PENDING_TRANSFERS_EXPIRED_PER_BLOCK_MAX;
    let prefix = [keys::PENDING_EXPIRY];
    // Read the deadlines in small chunks and stop at the first not yet due: a block
    // with nothing due reads one row, however many transfers are pending.
    const CHUNK: usize = 256;
    let mut due: Vec<(Vec<u8>, u64, TransferRef)> = Vec::new();
    let mut start = prefix.to_vec();
    'scan: loop {
        let rows = ex.base.scan_from(&prefix, &start, CHUNK)?;
        let n_rows = rows.len();
        for (k, _) in rows {
            let (at, r) = parse_pending_expiry(&k)?;
            if at > ex.ctx.time_ms || due.len() >= max {
                break 'scan;
            }
            start = [k.as_slice(), &[0]].concat();
            due.push((k, at, r));
        }
        if n_rows < CHUNK {
            break;
        }
    }
    if due.is_empty() {
        return Ok(());
    }
    let (height, time_ms) = (ex.ctx.height, ex.ctx.time_ms);
    let writes = {
        let mut l = Ledger::new(&*ex, height, time_ms);
        for (_, _, r) in &due {
            let Some(mut p) = l.transfer(r)? else {
                return Err(StateReadError::Corrupt {
                    key: keys::pending_expiry(0, r),
                    reason: format!("an expiry names transfer `{}`, which is missing", r.id),
                });
            };
            // Posted or voided before its timeout: only the expiry key goes.
            if let Some(PendingState::Pending { .. }) = p.pending_state {
                if let Err(e) = l.settle(&p.debit, &p.credit, p.amount, Amount::ZERO)? {
                    unreachable!("releasing a pending amount adds nothing: {}", e.message);
                }
                p.pending_state = Some(PendingState::Expired { height });
                l.transfers.insert(r.clone(), p);
            }
        }
        match l.into_writes() {
            Ok(w) => w,
            Err(HandlerError::State(e)) => return Err(e),
            Err(HandlerError::Reject(r)) => {
                unreachable!("releasing pending amounts lowers every sum: {}", r.message)
            }
        }
    };
    for (k, v) in writes {
        ex.put(k, v);
    }
    for (k, _, _) in due {
        ex.writes.insert(k, None);
    }
    Ok(())
}

/// The deadline and transfer of a [`keys::pending_expiry`] key.
fn parse_pending_expiry(key: &[u8]) -> Result<(u64, TransferRef), StateReadError> {
    let corrupt = |reason: &str| StateReadError::Corrupt {
        key: key.to_vec(),
        reason: reason.to_string(),
    };
    let at = key
        .get(1..9)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(u64::from_be_bytes)
        .ok_or_else(|| corrupt("pending expiry key shorter than its deadline"))?;
    let signer = key
        .get(9..41)
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .map(PublicKey)
        .ok_or_else(|| corrupt("pending expiry key shorter than its signer"))?;
    let id = std::str::from_utf8(&key[41..])
        .map_err(|_| corrupt("pending expiry key's client id is not UTF-8"))?
        .to_string();
    Ok((at, TransferRef { signer, id }))
}
