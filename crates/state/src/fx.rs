//! Foreign exchange: payment providers quote rates (an exact decimal, valid for a window
//! of block time); a conversion is a linked pair of transfers through the quoting
//! provider's FX accounts (`org:<provider>:<currency>:fx`, opened by the first
//! conversion, without balance flags: the provider takes the position), the second leg
//! converted at the rate and rounded half to even to the target's minor unit. Each
//! currency's Σ debits = Σ credits holds on its own, as for any transfer.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::Serialize;
use waybill_types::hash::sha256;
use waybill_types::money::{AccountId, Amount, Currency, Rate};
use waybill_types::payload::money::{AccountFlags, Convert, PublishRate, RateRef, TransferRef};
use waybill_types::reject::RejectCode;
use waybill_types::{Height, OrgId, PublicKey, Role};

use crate::exec::{
    decode_record, encode_record, Call, Contract, Execution, HandlerError, Rejection, StateRead,
    StateReadError, Writes,
};
use crate::identity::active_signer;
use crate::keys;
use crate::money::{check_debit_authority, check_fresh, Ledger, TransferRecord};

/// The name of a payment provider's FX account in each currency.
pub const FX_ACCOUNT: &str = "fx";

/// A quoted exchange rate.
#[derive(
    Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, schemars::JsonSchema,
)]
pub struct FxRate {
    /// The provider's organization.
    pub provider: OrgId,
    /// The rate's id.
    pub id: String,
    /// The currency sold.
    pub base: Currency,
    /// The currency bought.
    pub quote: Currency,
    /// Units of `quote` per unit of `base`.
    pub rate: Rate,
    /// Valid from this block time (ms), inclusive.
    pub valid_from_ms: u64,
    /// Valid until this block time (ms), exclusive.
    pub valid_until_ms: u64,
    /// The member that quoted it.
    pub by: PublicKey,
    /// The block that recorded it.
    pub height: Height,
}

/// Load a provider's rate.
pub fn load_rate<S: StateRead + ?Sized>(
    state: &S,
    provider: &OrgId,
    id: &str,
) -> Result<Option<FxRate>, StateReadError> {
    let k = keys::fx_rate(provider, id);
    state.get(&k)?.map(|b| decode_record(&k, &b)).transpose()
}

impl Contract for PublishRate {
    fn execute<S: StateRead>(&self, ex: &Execution<S>, call: Call) -> Result<Writes, HandlerError> {
        let m = active_signer(ex, call.signer)?;
        if !m.roles.contains(&Role::PaymentProvider) {
            return Err(Rejection::new(
                RejectCode::NotAuthorized,
                format!(
                    "{} is not a payment provider; exchange rates are quoted by members with the payment_provider role",
                    m.key
                ),
            )
            .into());
        }
        let now = ex.context().time_ms;
        if self.valid_until_ms <= now {
            return Err(Rejection::new(
                RejectCode::Invalid,
                format!(
                    "the rate's window ends at {} ms, not after the block time {now} ms; a rate is never backdated",
                    self.valid_until_ms
                ),
            )
            .into());
        }
        let k = keys::fx_rate(&m.org, &self.id);
        if ex.get(&k)?.is_some() {
            return Err(Rejection::new(
                RejectCode::Duplicate,
                format!(
                    "`{}` already quoted a rate `{}`; choose a new id",
                    m.org, self.id
                ),
            )
            .into());
        }
        let rate = FxRate {
            provider: m.org.clone(),
            id: self.id.clone(),
            base: self.base,
            quote: self.quote,
            rate: self.rate,
            valid_from_ms: self.valid_from_ms,
            valid_until_ms: self.valid_until_ms,
            by: m.key,
            height: ex.context().height,
        };
        Ok(vec![(k, encode_record(&rate))])
    }

    fn describe(&self) -> String {
        format!(
            "quoted {}/{} at {} (rate `{}`)",
            self.base, self.quote, self.rate, self.id
        )
    }
}

/// The rate a conversion cites, if it exists for the pair and the block time.
fn usable_rate<S: StateRead + ?Sized>(
    state: &S,
    c: &Convert,
    now: u64,
) -> Result<Result<FxRate, Rejection>, StateReadError> {
    let RateRef { provider, id } = &c.rate;
    let (from, to) = (c.from.currency, c.to.currency);
    let Some(r) = load_rate(state, provider, id)? else {
        return Ok(Err(Rejection::new(
            RejectCode::UnknownFxRate,
            format!("`{provider}` quoted no rate `{id}`"),
        )));
    };
    if (r.base, r.quote) != (from, to) {
        return Ok(Err(Rejection::new(
            RejectCode::UnknownFxRate,
            format!(
                "rate `{id}` of `{provider}` is for {}→{}, not {from}→{to}",
                r.base, r.quote
            ),
        )));
    }
    if now < r.valid_from_ms || now >= r.valid_until_ms {
        return Ok(Err(Rejection::new(
            RejectCode::FxRateExpired,
            format!(
                "rate `{id}` of `{provider}` is valid for block times [{}, {}) ms; this block's is {now} ms — ask for a fresh quote",
                r.valid_from_ms, r.valid_until_ms
            ),
        )));
    }
    Ok(Ok(r))
}

/// What `c.amount` buys at `rate`, rounded half to even to the target's minor unit:
/// refused if it passes 2^128 − 1 or rounds to nothing.
fn converted(c: &Convert, rate: &FxRate) -> Result<Amount, Rejection> {
    let amount = rate
        .rate
        .convert(
            c.amount,
            c.from.currency.exponent(),
            c.to.currency.exponent(),
        )
        .ok_or_else(|| {
            Rejection::new(
                RejectCode::Overflow,
                format!("{} at {} passes 2^128-1 minor units", c.amount, rate.rate),
            )
        })?;
    if amount == Amount::ZERO {
        return Err(Rejection::new(
            RejectCode::Invalid,
            format!(
                "{} {} at {} is less than half a minor unit of {}; convert more",
                c.amount, c.from.currency, rate.rate, c.to.currency
            ),
        ));
    }
    Ok(amount)
}

impl Contract for Convert {
    fn execute<S: StateRead>(&self, ex: &Execution<S>, call: Call) -> Result<Writes, HandlerError> {
        let m = active_signer(ex, call.signer)?;
        check_debit_authority(&m, &self.from)?;
        let ctx = ex.context();
        let rate = usable_rate(ex, self, ctx.time_ms)??;
        let converted = converted(self, &rate)?;
        let mut l = Ledger::new(ex, ctx.height, ctx.time_ms);
        let r_in = TransferRef {
            signer: m.key,
            id: self.id.clone(),
        };
        let r_out = TransferRef {
            signer: m.key,
            id: format!("{}~fx", self.id),
        };
        let body = sha256(&borsh::to_vec(self).expect("borsh encodes a conversion"));
        check_fresh(&l, &r_in, &body)??;
        let fx_in = AccountId::org(&rate.provider, self.from.currency, FX_ACCOUNT);
        let fx_out = AccountId::org(&rate.provider, self.to.currency, FX_ACCOUNT);
        for a in [&fx_in, &fx_out] {
            if l.account(a)?.is_none() {
                l.open(a, AccountFlags::default());
            }
        }
        l.open_pair(&self.from, &fx_in)??;
        l.open_pair(&fx_out, &self.to)??;
        l.book(&self.from, &fx_in, self.amount, false)??;
        l.book(&fx_out, &self.to, converted, false)??;
        let leg =
            |id: &TransferRef, debit: &AccountId, credit: &AccountId, amount| TransferRecord {
                id: id.clone(),
                kind: "conversion".into(),
                debit: debit.clone(),
                credit: credit.clone(),
                amount,
                pending: None,
                pending_state: None,
                reference: Some(format!("fx:{}:{}@{}", rate.provider, rate.id, rate.rate)),
                height: ctx.height,
                time_ms: ctx.time_ms,
                tx_id: call.tx_id,
                body,
            };
        let first = leg(&r_in, &self.from, &fx_in, self.amount);
        let second = leg(&r_out, &fx_out, &self.to, converted);
        l.transfers.insert(r_in, first);
        l.transfers.insert(r_out, second);
        l.into_writes()
    }

    fn describe(&self) -> String {
        format!(
            "converted {} {} from `{}` into `{}` at rate `{}` of `{}`",
            self.amount, self.from.currency, self.from, self.to, self.rate.id, self.rate.provider
        )
    }
}
