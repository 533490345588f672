//! The demo's EPCIS documents, embedded in the binary (generated from the list of
//! files in `crates/waybill/demo/`; a test checks the list is complete).

/// (path under `demo/`, document text).
pub const DOCUMENTS: &[(&str, &str)] = &[
    ("apparel/01-fabric-production.jsonld", include_str!("../demo/apparel/01-fabric-production.jsonld")),
    ("apparel/02-fabric-to-jiangnan.jsonld", include_str!("../demo/apparel/02-fabric-to-jiangnan.jsonld")),
    ("apparel/03-shirt-making.jsonld", include_str!("../demo/apparel/03-shirt-making.jsonld")),
    ("apparel/04-case-packing.jsonld", include_str!("../demo/apparel/04-case-packing.jsonld")),
    ("apparel/05-case-to-shopmart.jsonld", include_str!("../demo/apparel/05-case-to-shopmart.jsonld")),
    ("orange/01-harvest-PJ2611A.jsonld", include_str!("../demo/orange/01-harvest-PJ2611A.jsonld")),
    ("orange/02-receiving-PJ2611A-at-plant.jsonld", include_str!("../demo/orange/02-receiving-PJ2611A-at-plant.jsonld")),
    ("orange/03-packing-cartons.jsonld", include_str!("../demo/orange/03-packing-cartons.jsonld")),
    ("orange/04-palletising.jsonld", include_str!("../demo/orange/04-palletising.jsonld")),
    ("orange/05-export-inspection.jsonld", include_str!("../demo/orange/05-export-inspection.jsonld")),
    ("orange/06-shipping.jsonld", include_str!("../demo/orange/06-shipping.jsonld")),
    ("orange/07-reefer-mainland-leg.jsonld", include_str!("../demo/orange/07-reefer-mainland-leg.jsonld")),
    ("orange/08-hk-import-clearance.jsonld", include_str!("../demo/orange/08-hk-import-clearance.jsonld")),
    ("orange/09-reefer-hk-leg-arrival.jsonld", include_str!("../demo/orange/09-reefer-hk-leg-arrival.jsonld")),
    ("orange/10-hk-cold-store-in.jsonld", include_str!("../demo/orange/10-hk-cold-store-in.jsonld")),
    ("orange/11-depalletising.jsonld", include_str!("../demo/orange/11-depalletising.jsonld")),
    ("orange/12-customer-order.jsonld", include_str!("../demo/orange/12-customer-order.jsonld")),
    ("orange/13-delivery.jsonld", include_str!("../demo/orange/13-delivery.jsonld")),
    ("orange/14-harvest-PJ2611B.jsonld", include_str!("../demo/orange/14-harvest-PJ2611B.jsonld")),
    ("orange/15-receiving-PJ2611B-at-plant.jsonld", include_str!("../demo/orange/15-receiving-PJ2611B-at-plant.jsonld")),
    ("orange/16-juice-pressing.jsonld", include_str!("../demo/orange/16-juice-pressing.jsonld")),
];
