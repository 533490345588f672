//! Authority levels: which roles may write and read each category of data.
//!
//! The matrix is data, not scattered `if`s, so that it can be printed in the docs
//! and tested cell by cell.

use serde::Serialize;
use waybill_types::Role;

/// A category of data, each with its own write and read authority.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DataCategory {
    /// Products, lots, harvests, production and processing.
    Production,
    /// Sales platform transactions: orders, returns, reviews.
    PlatformTransactions,
    /// Customs declarations and quality-control inspections.
    CustomsQuality,
    /// Transport and storage: shipments, legs, readings.
    Transport,
    /// Payments, accounts, financing.
    Financial,
}

impl DataCategory {
    /// Every category.
    pub const ALL: [DataCategory; 5] = [
        DataCategory::Production,
        DataCategory::PlatformTransactions,
        DataCategory::CustomsQuality,
        DataCategory::Transport,
        DataCategory::Financial,
    ];
}

/// May `role` write data of `category`?
pub fn may_write(role: Role, category: DataCategory) -> bool {
    use DataCategory::*;
    use Role::*;
    matches!(
        (role, category),
        (Producer | Processor, Production)
            | (Platform, PlatformTransactions)
            | (Customs | Inspector, CustomsQuality)
            | (Carrier | Warehouse, Transport)
            | (Financier, Financial)
    )
}

/// May `role` read consortium-tier data of `category`? Regulators read everything.
pub fn may_read(role: Role, category: DataCategory) -> bool {
    use DataCategory::*;
    use Role::*;
    if role == Regulator || may_write(role, category) {
        return true;
    }
    matches!(
        (role, category),
        (
            Processor | Warehouse | Carrier | Platform | Inspector | Customs,
            Production
        ) | (
            Producer | Processor | Warehouse | Carrier,
            PlatformTransactions
        ) | (Producer | Processor | Platform, CustomsQuality)
            | (Producer | Processor | Platform | Customs, Transport)
    )
}

/// Does any of `roles` grant writing `category`?
pub fn any_may_write(roles: &[Role], category: DataCategory) -> bool {
    roles.iter().any(|r| may_write(*r, category))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_that_matter() {
        assert!(
            !may_write(Role::Carrier, DataCategory::Production),
            "a carrier cannot record a harvest"
        );
        assert!(may_write(Role::Producer, DataCategory::Production));
        assert!(!may_read(Role::Platform, DataCategory::Financial));
        assert!(!may_read(Role::Consumer, DataCategory::CustomsQuality));
        for c in DataCategory::ALL {
            assert!(may_read(Role::Regulator, c), "regulators read {c:?}");
            assert!(
                !may_write(Role::Regulator, c),
                "regulators do not write {c:?}"
            );
        }
    }
}
