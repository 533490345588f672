//! Payloads of the catalog domain: products, lots and locations.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use super::{
    check_country, check_date, check_degrees, check_lot, check_text, check_word, PayloadError,
};
use crate::limits;
use crate::org::OrgId;
use waybill_gs1::{Gln, Gtin};

/// Register a product (trade item) under a company prefix the organization owns.
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
pub struct RegisterProduct {
    /// The GTIN.
    pub gtin: Gtin,
    /// Name, e.g. "Navel oranges, 5 kg carton".
    pub name: String,
    /// Brand.
    pub brand: String,
    /// Category, e.g. "fresh fruit".
    pub category: String,
    /// Country of origin, ISO 3166-1 alpha-2 (e.g. "CN").
    pub origin_country: String,
}

impl RegisterProduct {
    /// Checks that need no state.
    pub fn check(&self) -> Result<(), PayloadError> {
        check_text("name", &self.name, limits::NAME_BYTES_MAX, true)?;
        check_text("brand", &self.brand, limits::NAME_BYTES_MAX, true)?;
        check_text("category", &self.category, limits::NAME_BYTES_MAX, true)?;
        check_country("origin_country", &self.origin_country)
    }
}

/// Register a lot (batch) of a product the organization owns.
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
pub struct RegisterLot {
    /// The product's GTIN.
    pub gtin: Gtin,
    /// The lot number (GS1 AI 10): 1-20 characters.
    pub lot: String,
    /// Where it was harvested or produced.
    pub origin_gln: Option<Gln>,
    /// Harvest or production date, `YYYY-MM-DD`.
    pub produced_on: String,
    /// Quantity in `unit`.
    pub quantity: u64,
    /// Unit of `quantity`, e.g. "kg" or "carton".
    pub unit: String,
    /// Inputs used: fertilizers, pesticides, materials.
    #[serde(default)]
    pub inputs: Vec<LotInput>,
    /// Lots of raw material it was made from.
    #[serde(default)]
    pub raw_materials: Vec<LotRef>,
    /// Claims such as "organic"; each needs the matching valid qualification.
    #[serde(default)]
    pub claims: Vec<String>,
}

impl RegisterLot {
    /// Checks that need no state.
    pub fn check(&self) -> Result<(), PayloadError> {
        check_lot(&self.lot)?;
        check_date("produced_on", &self.produced_on)?;
        check_text("unit", &self.unit, limits::NAME_BYTES_MAX, true)?;
        for (field, n) in [
            ("inputs", self.inputs.len()),
            ("raw_materials", self.raw_materials.len()),
            ("claims", self.claims.len()),
        ] {
            if n > limits::LOT_LIST_MAX {
                return Err(PayloadError::Field {
                    field,
                    reason: format!(
                        "lists {n} items, over the limit of {}",
                        limits::LOT_LIST_MAX
                    ),
                });
            }
        }
        for i in &self.inputs {
            check_text("inputs.kind", &i.kind, limits::NAME_BYTES_MAX, true)?;
            check_text("inputs.name", &i.name, limits::NAME_BYTES_MAX, true)?;
            check_text("inputs.amount", &i.amount, limits::NAME_BYTES_MAX, false)?;
            if let Some(d) = &i.applied_on {
                check_date("inputs.applied_on", d)?;
            }
        }
        for r in &self.raw_materials {
            check_lot(&r.lot)?;
        }
        for c in &self.claims {
            check_word("claims", c)?;
        }
        if self.quantity == 0 {
            return Err(PayloadError::Field {
                field: "quantity",
                reason: "must be at least 1".into(),
            });
        }
        Ok(())
    }
}

/// An input applied to or used in a lot: a fertilizer, a pesticide, a feed, a material.
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
pub struct LotInput {
    /// What kind of input, e.g. "fertilizer", "pesticide", "material".
    pub kind: String,
    /// Its name, e.g. "Organic compost (cow manure)".
    pub name: String,
    /// How much, as written on the record, e.g. "2 t/ha".
    #[serde(default)]
    pub amount: String,
    /// When it was applied, `YYYY-MM-DD`.
    #[serde(default)]
    pub applied_on: Option<String>,
}

/// A reference to a lot of a product.
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
pub struct LotRef {
    /// The product.
    pub gtin: Gtin,
    /// The lot number.
    pub lot: String,
}

/// Register a location (GLN) under a company prefix the organization owns.
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
pub struct RegisterLocation {
    /// The GLN.
    pub gln: Gln,
    /// Name, e.g. "Pujiang orchard, block 3".
    pub name: String,
    /// What it is: "farm", "plant", "warehouse", "customs office", "store", ...
    pub kind: String,
    /// Postal address.
    pub address: String,
    /// Country, ISO 3166-1 alpha-2.
    pub country: String,
    /// Latitude in decimal degrees, e.g. "30.4521" (text, to stay exact).
    #[serde(default)]
    pub latitude: Option<String>,
    /// Longitude in decimal degrees, e.g. "103.5043".
    #[serde(default)]
    pub longitude: Option<String>,
}

impl RegisterLocation {
    /// Checks that need no state.
    pub fn check(&self) -> Result<(), PayloadError> {
        check_text("name", &self.name, limits::NAME_BYTES_MAX, true)?;
        check_text("kind", &self.kind, limits::NAME_BYTES_MAX, true)?;
        check_text("address", &self.address, limits::TEXT_BYTES_MAX, true)?;
        check_country("country", &self.country)?;
        if let Some(l) = &self.latitude {
            check_degrees("latitude", l, 90)?;
        }
        if let Some(l) = &self.longitude {
            check_degrees("longitude", l, 180)?;
        }
        Ok(())
    }
}

/// The owner of a location lets another organization capture events there (or
/// withdraws that).
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
pub struct SetLocationDelegate {
    /// The location.
    pub gln: Gln,
    /// The organization.
    pub org: OrgId,
    /// Allowed or not.
    pub allowed: bool,
}

impl SetLocationDelegate {
    /// Checks that need no state (none).
    pub fn check(&self) -> Result<(), PayloadError> {
        Ok(())
    }
}

/// Whether a lot may be sold: released (the default), quarantined (held while it is
/// examined) or recalled (final).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
#[borsh(use_discriminant = true)]
#[repr(u8)]
pub enum LotStatus {
    /// May be sold.
    Released = 0,
    /// Held while it is examined; may be released again.
    Quarantined = 1,
    /// Withdrawn from sale for good.
    Recalled = 2,
}

impl LotStatus {
    /// The snake_case name.
    pub fn name(self) -> &'static str {
        match self {
            LotStatus::Released => "released",
            LotStatus::Quarantined => "quarantined",
            LotStatus::Recalled => "recalled",
        }
    }
}

/// An inspector or a regulator quarantines, releases or recalls a lot.
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
pub struct SetLotStatus {
    /// The product.
    pub gtin: Gtin,
    /// The lot number.
    pub lot: String,
    /// Its new status.
    pub status: LotStatus,
    /// Why (an inspection report's number, a recall notice).
    pub reason: String,
}

impl SetLotStatus {
    /// Checks that need no state.
    pub fn check(&self) -> Result<(), PayloadError> {
        check_lot(&self.lot)?;
        check_text("reason", &self.reason, limits::TEXT_BYTES_MAX, true)
    }
}
