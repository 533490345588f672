//! Supplier qualifications (certificates and licences) recorded by inspectors and
//! regulators, and the product categories that require one.
//!
//! A qualification counts only on the days it is valid (by block time, UTC) and while
//! it is not revoked. Whatever needs one — an "organic" claim on a lot, commissioning
//! products of a licensed category — checks [`require_valid`] and is rejected with an
//! error naming the missing qualification.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::Serialize;
use waybill_types::payload::{RecordQualification, RequireQualification, RevokeQualification};
use waybill_types::reject::RejectCode;
use waybill_types::{Height, OrgId, PublicKey, Role, TxId};

use crate::exec::{decode_record, encode_record, Execution, StateRead, StateReadError};
use crate::exec::{Call, Contract, HandlerError, Rejection, Writes};
use crate::identity::{active_signer, load_org};
use crate::keys;
use crate::open::{OpenRecord, Publisher};

/// A qualification held by an organization.
#[derive(
    Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, schemars::JsonSchema,
)]
pub struct Qualification {
    /// The organization qualified.
    pub org: OrgId,
    /// Kind, e.g. "organic".
    pub kind: String,
    /// Issuing body.
    pub issuer: String,
    /// Certificate or licence number.
    pub number: String,
    /// What it covers.
    pub scope: String,
    /// First valid day.
    pub valid_from: String,
    /// Last valid day.
    pub valid_to: String,
    /// The inspector or regulator who verified and recorded it.
    pub verified_by: PublicKey,
    /// The verifier's organization.
    pub verified_by_org: OrgId,
    /// When recorded (height).
    pub recorded_at: Height,
    /// When recorded (block time, ms).
    pub recorded_time_ms: u64,
    /// The recording transaction.
    pub tx_id: TxId,
    /// Revocation, if revoked.
    pub revoked: Option<Revocation>,
}

/// Why and when a qualification was revoked.
#[derive(
    Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, schemars::JsonSchema,
)]
pub struct Revocation {
    /// Who revoked it.
    pub by: PublicKey,
    /// When (height).
    pub at: Height,
    /// Why.
    pub reason: String,
}

impl Qualification {
    /// Its status on `date` (`YYYY-MM-DD`): "valid", "not_yet_valid", "expired" or
    /// "revoked".
    pub fn status_on(&self, date: &str) -> &'static str {
        if self.revoked.is_some() {
            "revoked"
        } else if date < self.valid_from.as_str() {
            "not_yet_valid"
        } else if date > self.valid_to.as_str() {
            "expired"
        } else {
            "valid"
        }
    }
}

pub use waybill_epcis::time::date_of_ms;

/// Load one qualification.
pub fn load_qualification<S: StateRead + ?Sized>(
    state: &S,
    org: &OrgId,
    number: &str,
) -> Result<Option<Qualification>, StateReadError> {
    let k = keys::qualification(org, number);
    state.get(&k)?.map(|b| decode_record(&k, &b)).transpose()
}

/// The qualification kind required to produce products of `category`, if any.
pub fn requirement<S: StateRead + ?Sized>(
    state: &S,
    category: &str,
) -> Result<Option<String>, StateReadError> {
    let k = keys::requirement(category);
    match state.get(&k)? {
        None => Ok(None),
        Some(b) => decode_requirement(&k, &b),
    }
}

/// The organization's qualifications of `kind`, listed in an index record so that a
/// check needs no scan.
fn kind_index_key(org: &OrgId, kind: &str) -> Vec<u8> {
    keys::qualification_kind(org, kind)
}

fn numbers_of_kind<S: StateRead + ?Sized>(
    state: &S,
    org: &OrgId,
    kind: &str,
) -> Result<Vec<String>, StateReadError> {
    let k = kind_index_key(org, kind);
    Ok(state
        .get(&k)?
        .map(|b| decode_record(&k, &b))
        .transpose()?
        .unwrap_or_default())
}

/// Is there a valid qualification of `kind` for `org` on `date`? `Ok(())` if so, else
/// a rejection that names what is missing and why each candidate does not count.
pub(crate) fn require_valid<S: StateRead>(
    ex: &Execution<S>,
    org: &OrgId,
    kind: &str,
    needed_for: &str,
) -> Result<(), HandlerError> {
    let date = date_of_ms(ex.context().time_ms);
    let mut seen = Vec::new();
    for n in numbers_of_kind(ex, org, kind)? {
        if let Some(q) = load_qualification(ex, org, &n)? {
            let st = q.status_on(&date);
            if st == "valid" {
                return Ok(());
            }
            seen.push(format!(
                "{} is {st} (valid {} to {})",
                &q.number, q.valid_from, q.valid_to
            ));
        }
    }
    let detail = if seen.is_empty() {
        "none is recorded".to_string()
    } else {
        seen.join("; ")
    };
    Err(Rejection::new(
        RejectCode::MissingQualification,
        format!(
            "{needed_for} needs a valid `{kind}` qualification of `{org}` on {date}: {detail}; an inspector or regulator records it with record_qualification"
        ),
    )
    .into())
}

fn verifier<S: StateRead>(
    ex: &Execution<S>,
    signer: PublicKey,
) -> Result<crate::identity::Member, HandlerError> {
    let m = active_signer(ex, signer)?;
    if !m
        .roles
        .iter()
        .any(|r| matches!(r, Role::Inspector | Role::Regulator))
    {
        return Err(Rejection::new(
            RejectCode::NotAuthorized,
            format!("{signer} is not an inspector or regulator; only they record and revoke qualifications"),
        )
        .into());
    }
    Ok(m)
}

impl Contract for RecordQualification {
    fn execute<S: StateRead>(&self, ex: &Execution<S>, call: Call) -> Result<Writes, HandlerError> {
        let signer = call.signer;
        let tx_id = call.tx_id;
        let q = self;
        let m = verifier(ex, signer)?;
        if m.org == q.org {
            return Err(Rejection::new(
                RejectCode::SelfCertification,
                format!(
                    "`{}` cannot verify its own qualification; an inspector or regulator of another organization must record it",
                    &q.org
                ),
            )
            .into());
        }
        if load_org(ex, &q.org)?.is_none() {
            return Err(Rejection::new(
                RejectCode::UnknownOrg,
                format!(
                    "organization `{}` is not a member of the consortium",
                    &q.org
                ),
            )
            .into());
        }
        if let Some(existing) = load_qualification(ex, &q.org, &q.number)? {
            return Err(Rejection::new(
                RejectCode::Duplicate,
                format!(
                    "qualification {} of `{}` is already recorded (at height {})",
                    &q.number, &q.org, existing.recorded_at
                ),
            )
            .into());
        }
        let ctx = ex.context();
        let rec = Qualification {
            org: q.org.clone(),
            kind: q.kind.to_string(),
            issuer: q.issuer.to_string(),
            number: q.number.to_string(),
            scope: q.scope.to_string(),
            valid_from: q.valid_from.to_string(),
            valid_to: q.valid_to.to_string(),
            verified_by: signer,
            verified_by_org: m.org,
            recorded_at: ctx.height,
            recorded_time_ms: ctx.time_ms,
            tx_id,
            revoked: None,
        };
        let mut numbers = numbers_of_kind(ex, &q.org, &q.kind)?;
        numbers.push(q.number.to_string());
        let mut w: Writes = Vec::new();
        let mut publisher = Publisher::new(ex, ctx.height.0)?;
        publisher.publish(&mut w, &open_record(&rec, None), &[org_id(&q.org)])?;
        publisher.finish(&mut w);
        w.push((keys::qualification(&q.org, &q.number), encode_record(&rec)));
        w.push((kind_index_key(&q.org, &q.kind), encode_record(&numbers)));
        Ok(w)
    }

    fn describe(&self) -> String {
        format!(
            "recorded `{}` qualification {} of `{}`",
            self.kind, self.number, self.org
        )
    }
}

impl Contract for RevokeQualification {
    fn execute<S: StateRead>(&self, ex: &Execution<S>, call: Call) -> Result<Writes, HandlerError> {
        let signer = call.signer;
        let org = &self.org;
        let number = self.number.as_str();
        let reason = self.reason.as_str();
        verifier(ex, signer)?;
        let mut q = load_qualification(ex, org, number)?.ok_or_else(|| {
            Rejection::new(
                RejectCode::UnknownQualification,
                format!("`{org}` has no qualification numbered {number}"),
            )
        })?;
        if q.revoked.is_some() {
            return Err(Rejection::new(
                RejectCode::AlreadyRevoked,
                format!("qualification {number} of `{org}` is already revoked"),
            )
            .into());
        }
        q.revoked = Some(Revocation {
            by: signer,
            at: ex.context().height,
            reason: reason.to_string(),
        });
        let mut w: Writes = Vec::new();
        let mut publisher = Publisher::new(ex, ex.context().height.0)?;
        publisher.publish(&mut w, &open_record(&q, Some(reason)), &[org_id(org)])?;
        publisher.finish(&mut w);
        w.push((keys::qualification(org, number), encode_record(&q)));
        Ok(w)
    }

    fn describe(&self) -> String {
        format!(
            "revoked qualification {} of `{}`: {}",
            self.number, self.org, self.reason
        )
    }
}

impl Contract for RequireQualification {
    fn execute<S: StateRead>(&self, ex: &Execution<S>, call: Call) -> Result<Writes, HandlerError> {
        let signer = call.signer;
        let category = self.product_category.as_str();
        let kind = self.kind.as_deref();
        let m = active_signer(ex, signer)?;
        if !m.roles.contains(&Role::Regulator) {
            return Err(Rejection::new(
                RejectCode::NotAuthorized,
                format!(
                    "{signer} is not a regulator; only regulators set qualification requirements"
                ),
            )
            .into());
        }
        match kind {
            Some(k) => Ok(vec![(
                keys::requirement(category),
                encode_record(&k.to_string()),
            )]),
            // An empty record means "no requirement": handlers write, never delete.
            None => Ok(vec![(keys::requirement(category), Vec::new())]),
        }
    }

    fn describe(&self) -> String {
        match &self.kind {
            Some(k) => format!("required `{k}` for products of `{}`", self.product_category),
            None => format!(
                "dropped the requirement for products of `{}`",
                self.product_category
            ),
        }
    }
}

/// Product categories and the qualification each requires (empty value: none).
pub fn decode_requirement(key: &[u8], value: &[u8]) -> Result<Option<String>, StateReadError> {
    if value.is_empty() {
        return Ok(None);
    }
    decode_record(key, value).map(Some)
}

/// The open-tier identifier of an organization (its qualifications are indexed under it).
pub fn org_id(org: &OrgId) -> String {
    format!("org:{org}")
}

fn open_record<'a>(q: &'a Qualification, revoked: Option<&'a str>) -> OpenRecord<'a> {
    OpenRecord::Qualification {
        org: q.org.as_str(),
        qualification_kind: &q.kind,
        issuer: &q.issuer,
        number: &q.number,
        scope: &q.scope,
        valid_from: &q.valid_from,
        valid_to: &q.valid_to,
        verified_by: q.verified_by_org.as_str(),
        revoked,
        source: q.tx_id.to_string(),
    }
}
