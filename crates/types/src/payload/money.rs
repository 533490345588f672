//! Payloads of the money domain: accounts, transfers (single-phase and two-phase),
//! and deposits by payment providers. Amounts are whole minor units
//! ([`crate::money::Amount`]); see `docs/MONEY.md`.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use super::{check_word, PayloadError};
use crate::keys::PublicKey;
use crate::limits;
use crate::money::{AccountId, AccountOwner, Amount, Currency, Rate};
use crate::org::OrgId;

/// An account's balance rules, checked on every transfer (a pending transfer's
/// amount counts against them when it is created).
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct AccountFlags {
    /// Debits (posted and pending) may never exceed posted credits: no overdraft.
    /// Every customer, consumer and escrow account has it.
    #[serde(default)]
    pub debits_must_not_exceed_credits: bool,
    /// Credits (posted and pending) may never exceed posted debits (e.g. a credit
    /// line that may only be drawn on).
    #[serde(default)]
    pub credits_must_not_exceed_debits: bool,
    /// No new transfer may touch the account; pending ones may still be posted or
    /// voided.
    #[serde(default)]
    pub closed: bool,
}

/// An organization opens an account of its own (signed by its admin or a member with
/// a role that writes financial data: financier, payment provider).
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct OpenAccount {
    /// The account: `org:<the signer's organization>:<currency>:<name>`.
    pub account: AccountId,
    /// Its balance rules (`closed` must be false).
    #[serde(default)]
    pub flags: AccountFlags,
}

impl OpenAccount {
    /// Checks that need no state.
    pub fn check(&self) -> Result<(), PayloadError> {
        if !matches!(self.account.owner, AccountOwner::Org(_)) {
            return Err(field(
                "account",
                "an organization opens only its own accounts (org:<org>:…); a key's account opens with a payment provider's first deposit",
            ));
        }
        if self.flags.closed {
            return Err(field("flags.closed", "an account is opened open"));
        }
        if self.flags.debits_must_not_exceed_credits && self.flags.credits_must_not_exceed_debits {
            return Err(field(
                "flags",
                "debits_must_not_exceed_credits and credits_must_not_exceed_debits together would refuse every transfer",
            ));
        }
        Ok(())
    }
}

/// The owner closes an account: no new transfer touches it (pending ones may still be
/// posted or voided).
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct CloseAccount {
    /// The account.
    pub account: AccountId,
}

impl CloseAccount {
    /// Checks that need no state (none).
    pub fn check(&self) -> Result<(), PayloadError> {
        Ok(())
    }
}

/// A transfer as named by whoever made it: the signer's key and its client id.
/// Client ids are scoped per signer.
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct TransferRef {
    /// The key that signed the transfer.
    pub signer: PublicKey,
    /// Its client id.
    pub id: String,
}

/// One transfer in a [`Transfers`] batch. JSON: `{"kind": "single", "id": …}`.
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
#[borsh(use_discriminant = true)]
#[repr(u8)]
pub enum TransferSpec {
    /// Move `amount` from `debit` to `credit` now.
    Single {
        /// Client id, unique per signer (1-64 of a-z, 0-9, `_`, `-`).
        id: String,
        /// The account debited (the payer's).
        debit: AccountId,
        /// The account credited (the payee's).
        credit: AccountId,
        /// Minor units, more than zero.
        amount: Amount,
        /// The payment provider's reference (for reconciliation), if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
    } = 0,
    /// Reserve `amount` (debits and credits pending) until it is posted, voided, or
    /// expires `timeout_ms` after the block that creates it.
    Pending {
        /// Client id, unique per signer.
        id: String,
        /// The account debited.
        debit: AccountId,
        /// The account credited.
        credit: AccountId,
        /// Minor units, more than zero.
        amount: Amount,
        /// Ms after the creating block's time at which it is voided automatically (at
        /// the start of the first block at or after that time).
        timeout_ms: u64,
        /// The payment provider's reference, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
    } = 1,
    /// Post a pending transfer: in full (`amount` omitted) or in part, the remainder
    /// released to the payer. Signed by the payer's organization, or, for a
    /// withdrawal (credited to a payment provider's settlement account), by the
    /// provider when the payout is made.
    Post {
        /// Client id, unique per signer.
        id: String,
        /// The pending transfer.
        pending: TransferRef,
        /// How much to post, at most the pending amount; omitted: all of it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        amount: Option<Amount>,
        /// The payment provider's reference, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
    } = 2,
    /// Void a pending transfer: the whole amount goes back to the payer. Signed by the
    /// payee's organization (it declines the money), or the provider of a withdrawal
    /// whose payout failed.
    Void {
        /// Client id, unique per signer.
        id: String,
        /// The pending transfer.
        pending: TransferRef,
    } = 3,
}

impl TransferSpec {
    /// Its client id.
    pub fn id(&self) -> &str {
        match self {
            TransferSpec::Single { id, .. }
            | TransferSpec::Pending { id, .. }
            | TransferSpec::Post { id, .. }
            | TransferSpec::Void { id, .. } => id,
        }
    }

    /// The snake_case name of its kind.
    pub fn kind(&self) -> &'static str {
        match self {
            TransferSpec::Single { .. } => "single",
            TransferSpec::Pending { .. } => "pending",
            TransferSpec::Post { .. } => "post",
            TransferSpec::Void { .. } => "void",
        }
    }

    fn check(&self) -> Result<(), PayloadError> {
        check_word("transfers[].id", self.id())?;
        let reference = match self {
            TransferSpec::Single {
                debit,
                credit,
                amount,
                reference,
                ..
            }
            | TransferSpec::Pending {
                debit,
                credit,
                amount,
                reference,
                ..
            } => {
                check_accounts(debit, credit)?;
                if amount.0 == 0 {
                    return Err(field(
                        "transfers[].amount",
                        "a transfer moves more than zero",
                    ));
                }
                reference
            }
            TransferSpec::Post {
                pending,
                amount,
                reference,
                ..
            } => {
                check_word("transfers[].pending.id", &pending.id)?;
                if *amount == Some(Amount::ZERO) {
                    return Err(field(
                        "transfers[].amount",
                        "post more than zero, or void the pending transfer",
                    ));
                }
                reference
            }
            TransferSpec::Void { pending, .. } => {
                check_word("transfers[].pending.id", &pending.id)?;
                &None
            }
        };
        if let TransferSpec::Pending { timeout_ms, .. } = self {
            if *timeout_ms == 0 || *timeout_ms > limits::PENDING_TRANSFER_TIMEOUT_MS_MAX {
                return Err(field(
                    "transfers[].timeout_ms",
                    &format!(
                        "{timeout_ms} is outside 1..={} ms",
                        limits::PENDING_TRANSFER_TIMEOUT_MS_MAX
                    ),
                ));
            }
        }
        check_reference(reference.as_deref())
    }
}

/// One or more transfers that succeed or fail together (linked): all are applied, or
/// the transaction is rejected and none is.
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct Transfers {
    /// The transfers, applied in order (a later one sees an earlier one's effect).
    pub transfers: Vec<TransferSpec>,
}

impl Transfers {
    /// Checks that need no state: ids, amounts, accounts, counts.
    pub fn check(&self) -> Result<(), PayloadError> {
        let n = self.transfers.len();
        if n == 0 || n > limits::TRANSFERS_PER_TX_MAX {
            return Err(field(
                "transfers",
                &format!(
                    "{n} transfers; a transaction carries 1 to {}",
                    limits::TRANSFERS_PER_TX_MAX
                ),
            ));
        }
        let mut ids = std::collections::BTreeSet::new();
        for t in &self.transfers {
            t.check()?;
            if !ids.insert(t.id()) {
                return Err(field(
                    "transfers[].id",
                    &format!("`{}` appears twice in one transaction", t.id()),
                ));
            }
        }
        Ok(())
    }
}

/// A payment provider records money it received for an account: its settlement
/// account in that currency is debited (opened by its first deposit) and the account
/// credited. A key's account opens with its first deposit (no overdraft).
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct Deposit {
    /// Client id, unique per signer (the transfer's).
    pub id: String,
    /// The account credited.
    pub account: AccountId,
    /// Minor units, more than zero.
    pub amount: Amount,
    /// The provider's reference for the payment (its statement carries it).
    pub reference: String,
}

impl Deposit {
    /// Checks that need no state.
    pub fn check(&self) -> Result<(), PayloadError> {
        check_word("id", &self.id)?;
        if self.amount.0 == 0 {
            return Err(field("amount", "a deposit is more than zero"));
        }
        check_reference(Some(&self.reference))
    }
}

fn check_accounts(debit: &AccountId, credit: &AccountId) -> Result<(), PayloadError> {
    if debit == credit {
        return Err(field(
            "transfers[].credit",
            &format!(
                "`{credit}` is also the debit account; a transfer moves money between two accounts"
            ),
        ));
    }
    if debit.currency != credit.currency {
        return Err(field(
            "transfers[].credit",
            &format!(
                "`{credit}` is in {}, `{debit}` in {}; a transfer stays in one currency (convert through FX)",
                credit.currency, debit.currency
            ),
        ));
    }
    Ok(())
}

fn check_reference(reference: Option<&str>) -> Result<(), PayloadError> {
    match reference {
        Some(r)
            if r.is_empty()
                || r.len() > limits::PROVIDER_REFERENCE_BYTES_MAX
                || r.chars().any(char::is_control) =>
        {
            Err(field(
                "reference",
                &format!(
                    "a provider reference is 1-{} bytes without control characters",
                    limits::PROVIDER_REFERENCE_BYTES_MAX
                ),
            ))
        }
        _ => Ok(()),
    }
}

fn field(field: &'static str, reason: &str) -> PayloadError {
    PayloadError::Field {
        field,
        reason: reason.to_string(),
    }
}

/// A payment provider quotes an exchange rate: one unit of `base` buys `rate` units of
/// `quote`, for conversions whose block time lies in `[valid_from_ms, valid_until_ms)`.
/// A conversion at the rate goes through the provider's FX accounts: the provider is
/// the counterparty at the rate it quoted.
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct PublishRate {
    /// The rate's id, unique per provider organization (1-64 of a-z, 0-9, `_`, `-`).
    pub id: String,
    /// The currency sold.
    pub base: Currency,
    /// The currency bought.
    pub quote: Currency,
    /// Units of `quote` per unit of `base`, an exact decimal.
    pub rate: Rate,
    /// First block time (ms since the Unix epoch) at which it may be used.
    pub valid_from_ms: u64,
    /// Block time from which it may no longer be used (after `valid_from_ms`, and after
    /// the block that publishes it: a rate is never backdated into the past).
    pub valid_until_ms: u64,
}

impl PublishRate {
    /// Checks that need no state.
    pub fn check(&self) -> Result<(), PayloadError> {
        check_word("id", &self.id)?;
        if !self.rate.is_well_formed() {
            return Err(field(
                "rate",
                "an exact decimal more than zero, at most 18 decimals",
            ));
        }
        if self.base == self.quote {
            return Err(field("quote", "a rate converts between two currencies"));
        }
        if self.valid_until_ms <= self.valid_from_ms {
            return Err(field(
                "valid_until_ms",
                "the window [valid_from_ms, valid_until_ms) is empty",
            ));
        }
        Ok(())
    }
}

/// A provider's rate, named by the provider's organization and the rate's id.
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct RateRef {
    /// The payment provider that quoted it.
    pub provider: OrgId,
    /// The rate's id.
    pub id: String,
}

/// Convert money between two accounts in two currencies at a provider's rate: a linked
/// pair of transfers, `from` → the provider's FX account in `from`'s currency, and the
/// provider's FX account in `to`'s currency → `to`, for `amount` converted at the rate
/// and rounded half to even to `to`'s minor unit. Signed like a transfer from `from`.
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct Convert {
    /// Client id, unique per signer (the pair's first leg; the second is `<id>~fx`).
    pub id: String,
    /// The account debited, in the rate's base currency.
    pub from: AccountId,
    /// The account credited, in the rate's quote currency.
    pub to: AccountId,
    /// Minor units of `from`'s currency, more than zero.
    pub amount: Amount,
    /// The rate it cites.
    pub rate: RateRef,
}

impl Convert {
    /// Checks that need no state.
    pub fn check(&self) -> Result<(), PayloadError> {
        check_word("id", &self.id)?;
        check_word("rate.id", &self.rate.id)?;
        if self.amount.0 == 0 {
            return Err(field("amount", "a conversion is of more than zero"));
        }
        if self.from.currency == self.to.currency {
            return Err(field(
                "to",
                &format!(
                    "`{}` and `{}` are both in {}; a conversion is between two currencies (use a transfer)",
                    self.from, self.to, self.to.currency
                ),
            ));
        }
        Ok(())
    }
}
