//! The GS1 Core Business Vocabulary (CBV 2.0) as Rust tables.
//!
//! A CBV term can be written three ways (CBV 2.0 §5.1 and §8): as the bare word the EPCIS
//! JSON-LD context maps (`shipping`), as a GS1 Web URI (`https://ref.gs1.org/cbv/BizStep-shipping`,
//! also the compact `cbv:BizStep-shipping` under the EPCIS context) or as an EPCglobal URN
//! (`urn:epcglobal:cbv:bizstep:shipping`). The lookup functions accept all of them and give the
//! bare word, or `None` when the value is not a term of that vocabulary.
//!
//! Sensor measurement types and alert types are GS1 Web Vocabulary terms
//! (`https://gs1.org/voc/Temperature`, compact `gs1:Temperature`); they have no URN form.

/// Base of the GS1 Web URIs of CBV terms.
pub const CBV_WEB_BASE: &str = "https://ref.gs1.org/cbv/";
/// Compact (CURIE) form of [`CBV_WEB_BASE`] under the EPCIS JSON-LD context.
pub const CBV_CURIE_BASE: &str = "cbv:";
/// Base of the EPCglobal URNs of CBV terms.
pub const CBV_URN_BASE: &str = "urn:epcglobal:cbv:";
/// Base of the GS1 Web Vocabulary URIs (measurement types, sensor alert types).
pub const GS1_VOC_BASE: &str = "https://gs1.org/voc/";
/// Compact (CURIE) form of [`GS1_VOC_BASE`] under the EPCIS JSON-LD context.
pub const GS1_VOC_CURIE_BASE: &str = "gs1:";

/// Business steps (CBV 2.0 §7.1).
pub const BIZ_STEPS: &[&str] = &[
    "accepting",
    "arriving",
    "assembling",
    "collecting",
    "commissioning",
    "consigning",
    "creating_class_instance",
    "cycle_counting",
    "decommissioning",
    "departing",
    "destroying",
    "disassembling",
    "dispensing",
    "encoding",
    "entering_exiting",
    "holding",
    "inspecting",
    "installing",
    "killing",
    "loading",
    "other",
    "packing",
    "picking",
    "receiving",
    "removing",
    "repackaging",
    "repairing",
    "replacing",
    "reserving",
    "retail_selling",
    "sampling",
    "sensor_reporting",
    "shipping",
    "staging_outbound",
    "stock_taking",
    "stocking",
    "storing",
    "transporting",
    "unloading",
    "unpacking",
    "void_shipping",
];

/// Dispositions (CBV 2.0 §7.2), also the values of `persistentDisposition`.
pub const DISPOSITIONS: &[&str] = &[
    "active",
    "available",
    "completeness_inferred",
    "completeness_verified",
    "conformant",
    "container_closed",
    "container_open",
    "damaged",
    "destroyed",
    "dispensed",
    "disposed",
    "encoded",
    "expired",
    "in_progress",
    "in_transit",
    "inactive",
    "mismatch_class",
    "mismatch_instance",
    "mismatch_quantity",
    "needs_replacement",
    "no_pedigree_match",
    "non_conformant",
    "non_sellable_other",
    "partially_dispensed",
    "recalled",
    "reserved",
    "retail_sold",
    "returned",
    "sellable_accessible",
    "sellable_not_accessible",
    "stolen",
    "unavailable",
    "unknown",
];

/// Business transaction types (CBV 2.0 §7.3).
pub const BIZ_TRANSACTION_TYPES: &[&str] = &[
    "bol",
    "cert",
    "desadv",
    "inv",
    "pedigree",
    "po",
    "poc",
    "prodorder",
    "recadv",
    "rma",
    "testprd",
    "testres",
    "upevt",
];

/// Source and destination types (CBV 2.0 §7.4).
pub const SOURCE_DEST_TYPES: &[&str] = &["location", "owning_party", "possessing_party"];

/// Error reasons of an error declaration (CBV 2.0 §7.5).
pub const ERROR_REASONS: &[&str] = &["did_not_occur", "incorrect_data"];

/// Components of a sensor report's coordinates (CBV 2.0 §7.7).
pub const COMPONENTS: &[&str] = &[
    "altitude",
    "axial_distance",
    "azimuth",
    "easting",
    "elevation_angle",
    "height",
    "latitude",
    "longitude",
    "northing",
    "polar_angle",
    "spherical_radius",
    "x",
    "y",
    "z",
];

/// Sensor measurement types (GS1 Web Vocabulary `gs1:MeasurementType`, EPCIS 2.0 §7.3.8).
pub const MEASUREMENT_TYPES: &[&str] = &[
    "AbsoluteHumidity",
    "AbsorbedDose",
    "AbsorbedDoseRate",
    "Acceleration",
    "Altitude",
    "AmountOfSubstance",
    "AmountOfSubstancePerUnitVolume",
    "Angle",
    "AngularAcceleration",
    "AngularMomentum",
    "AngularVelocity",
    "Area",
    "Capacitance",
    "Conductance",
    "Conductivity",
    "Count",
    "Density",
    "Dimensionless",
    "DoseEquivalent",
    "DoseEquivalentRate",
    "DynamicViscosity",
    "ElectricCharge",
    "ElectricCurrent",
    "ElectricCurrentDensity",
    "ElectricFieldStrength",
    "Energy",
    "Exposure",
    "Force",
    "Frequency",
    "Illuminance",
    "Inductance",
    "Irradiance",
    "KinematicViscosity",
    "Length",
    "LinearMomentum",
    "Luminance",
    "LuminousFlux",
    "LuminousIntensity",
    "MagneticFlux",
    "MagneticFluxDensity",
    "MagneticVectorPotential",
    "Mass",
    "MassConcentration",
    "MassFlowRate",
    "MassPerAreaTime",
    "MemoryCapacity",
    "MolalityOfSolute",
    "MolarEnergy",
    "MolarMass",
    "MolarVolume",
    "Power",
    "Pressure",
    "RadiantFlux",
    "RadiantIntensity",
    "Radioactivity",
    "RelativeHumidity",
    "Resistance",
    "Resistivity",
    "SolidAngle",
    "SpecificVolume",
    "Speed",
    "SurfaceDensity",
    "SurfaceTension",
    "Temperature",
    "Time",
    "Torque",
    "Voltage",
    "Volume",
    "VolumeFlowRate",
    "VolumeFraction",
    "VolumetricFlux",
    "Wavenumber",
];

/// Sensor alert types (GS1 Web Vocabulary `gs1:SensorAlertType`).
pub const SENSOR_ALERT_TYPES: &[&str] = &["ALARM_CONDITION", "ERROR_CONDITION"];

/// The values of an event's `action` (EPCIS 2.0 §7.3.2).
pub const ACTIONS: &[&str] = &["ADD", "DELETE", "OBSERVE"];

/// One vocabulary: its terms and the prefixes of its URI forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vocabulary {
    /// The EPCIS field the vocabulary is used in, for messages (`bizStep`).
    pub field: &'static str,
    /// The bare words, sorted.
    pub terms: &'static [&'static str],
    /// What follows the web base in a term's web URI (`BizStep-`).
    pub web_prefix: &'static str,
    /// The full web URI base of the terms (`https://ref.gs1.org/cbv/BizStep-`).
    pub web_base: &'static str,
    /// The CURIE base of the terms (`cbv:BizStep-`).
    pub curie_base: &'static str,
    /// The URN base of the terms (`urn:epcglobal:cbv:bizstep:`), if the vocabulary has one.
    pub urn_base: Option<&'static str>,
}

/// Business steps.
pub const BIZ_STEP: Vocabulary = Vocabulary {
    field: "bizStep",
    terms: BIZ_STEPS,
    web_prefix: "BizStep-",
    web_base: "https://ref.gs1.org/cbv/BizStep-",
    curie_base: "cbv:BizStep-",
    urn_base: Some("urn:epcglobal:cbv:bizstep:"),
};

/// Dispositions.
pub const DISPOSITION: Vocabulary = Vocabulary {
    field: "disposition",
    terms: DISPOSITIONS,
    web_prefix: "Disp-",
    web_base: "https://ref.gs1.org/cbv/Disp-",
    curie_base: "cbv:Disp-",
    urn_base: Some("urn:epcglobal:cbv:disp:"),
};

/// Business transaction types.
pub const BIZ_TRANSACTION_TYPE: Vocabulary = Vocabulary {
    field: "bizTransaction type",
    terms: BIZ_TRANSACTION_TYPES,
    web_prefix: "BTT-",
    web_base: "https://ref.gs1.org/cbv/BTT-",
    curie_base: "cbv:BTT-",
    urn_base: Some("urn:epcglobal:cbv:btt:"),
};

/// Source/destination types.
pub const SOURCE_DEST_TYPE: Vocabulary = Vocabulary {
    field: "source/destination type",
    terms: SOURCE_DEST_TYPES,
    web_prefix: "SDT-",
    web_base: "https://ref.gs1.org/cbv/SDT-",
    curie_base: "cbv:SDT-",
    urn_base: Some("urn:epcglobal:cbv:sdt:"),
};

/// Error reasons.
pub const ERROR_REASON: Vocabulary = Vocabulary {
    field: "errorDeclaration reason",
    terms: ERROR_REASONS,
    web_prefix: "ER-",
    web_base: "https://ref.gs1.org/cbv/ER-",
    curie_base: "cbv:ER-",
    urn_base: Some("urn:epcglobal:cbv:er:"),
};

/// Sensor report components.
pub const COMPONENT: Vocabulary = Vocabulary {
    field: "component",
    terms: COMPONENTS,
    web_prefix: "Comp-",
    web_base: "https://ref.gs1.org/cbv/Comp-",
    curie_base: "cbv:Comp-",
    urn_base: None,
};

/// Sensor measurement types (GS1 Web Vocabulary).
pub const MEASUREMENT_TYPE: Vocabulary = Vocabulary {
    field: "sensorReport type",
    terms: MEASUREMENT_TYPES,
    web_prefix: "",
    web_base: GS1_VOC_BASE,
    curie_base: GS1_VOC_CURIE_BASE,
    urn_base: None,
};

/// Sensor alert types (GS1 Web Vocabulary).
pub const SENSOR_ALERT_TYPE: Vocabulary = Vocabulary {
    field: "sensorReport exception",
    terms: SENSOR_ALERT_TYPES,
    web_prefix: "",
    web_base: GS1_VOC_BASE,
    curie_base: GS1_VOC_CURIE_BASE,
    urn_base: None,
};

impl Vocabulary {
    /// The bare word of `s` (a bare word, web URI, CURIE or URN of this vocabulary), or
    /// `None` if `s` is not a term of it.
    pub fn normalise(&self, s: &str) -> Option<&'static str> {
        let word = s
            .strip_prefix(self.web_base)
            .or_else(|| s.strip_prefix(self.curie_base))
            .or_else(|| self.urn_base.and_then(|base| s.strip_prefix(base)))
            .unwrap_or(s);
        self.term(word)
    }

    /// The table entry equal to the bare word `word`.
    pub fn term(&self, word: &str) -> Option<&'static str> {
        self.terms
            .binary_search(&word)
            .ok()
            .and_then(|i| self.terms.get(i).copied())
    }

    /// Whether `s` is written in this vocabulary's namespace: a bare word (no `:`) or one
    /// of its URI prefixes, so that it must be one of its terms to be meaningful.
    pub fn claims(&self, s: &str) -> bool {
        !s.contains(':')
            || s.starts_with(self.web_base)
            || s.starts_with(self.curie_base)
            || self.urn_base.is_some_and(|base| s.starts_with(base))
    }

    /// The GS1 Web URI of the bare word `word` (`https://ref.gs1.org/cbv/BizStep-shipping`).
    pub fn web_uri(&self, word: &str) -> Option<String> {
        self.term(word).map(|t| format!("{}{t}", self.web_base))
    }

    /// The EPCglobal URN of the bare word `word` (`urn:epcglobal:cbv:bizstep:shipping`), for
    /// vocabularies that have URNs.
    pub fn urn(&self, word: &str) -> Option<String> {
        let base = self.urn_base?;
        self.term(word).map(|t| format!("{base}{t}"))
    }
}

/// The bare word of a business step given as a bare word, web URI, CURIE or URN.
pub fn bizstep(s: &str) -> Option<&'static str> {
    BIZ_STEP.normalise(s)
}

/// The bare word of a disposition given as a bare word, web URI, CURIE or URN.
pub fn disposition(s: &str) -> Option<&'static str> {
    DISPOSITION.normalise(s)
}

/// The bare word of a business transaction type given as a bare word, web URI, CURIE or URN.
pub fn biz_transaction_type(s: &str) -> Option<&'static str> {
    BIZ_TRANSACTION_TYPE.normalise(s)
}

/// The bare word of a source/destination type given as a bare word, web URI, CURIE or URN.
pub fn source_dest_type(s: &str) -> Option<&'static str> {
    SOURCE_DEST_TYPE.normalise(s)
}

/// The bare word of an error reason given as a bare word, web URI, CURIE or URN.
pub fn error_reason(s: &str) -> Option<&'static str> {
    ERROR_REASON.normalise(s)
}

/// The bare word of a sensor component given as a bare word, web URI or CURIE.
pub fn component(s: &str) -> Option<&'static str> {
    COMPONENT.normalise(s)
}

/// The bare word of a measurement type given as a bare word, GS1 Web Vocabulary URI or
/// `gs1:` CURIE.
pub fn measurement_type(s: &str) -> Option<&'static str> {
    MEASUREMENT_TYPE.normalise(s)
}

/// The bare word of a sensor alert type given as a bare word, GS1 Web Vocabulary URI or
/// `gs1:` CURIE.
pub fn sensor_alert_type(s: &str) -> Option<&'static str> {
    SENSOR_ALERT_TYPE.normalise(s)
}

/// Whether `s` is written in the CBV namespace: its web URI base, its `cbv:` CURIE or
/// its `urn:epcglobal:cbv:` URN base.
pub fn is_cbv_uri(s: &str) -> bool {
    s.starts_with(CBV_WEB_BASE) || s.starts_with(CBV_CURIE_BASE) || s.starts_with(CBV_URN_BASE)
}

/// Whether `s` is written in the GS1 Web Vocabulary namespace (`https://gs1.org/voc/`,
/// `http://`, `www.` variants, or the `gs1:` CURIE).
pub fn is_gs1_voc_uri(s: &str) -> bool {
    s.starts_with(GS1_VOC_CURIE_BASE)
        || ["https://", "http://"].iter().any(|scheme| {
            s.strip_prefix(scheme).is_some_and(|rest| {
                rest.starts_with("gs1.org/voc/") || rest.starts_with("www.gs1.org/voc/")
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_sorted_for_binary_search() {
        for v in [
            BIZ_STEP,
            DISPOSITION,
            BIZ_TRANSACTION_TYPE,
            SOURCE_DEST_TYPE,
            ERROR_REASON,
            COMPONENT,
            MEASUREMENT_TYPE,
            SENSOR_ALERT_TYPE,
        ] {
            assert!(v.terms.windows(2).all(|w| w[0] < w[1]), "{}", v.field);
        }
        assert!(ACTIONS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn forms_normalise_to_the_bare_word() {
        assert_eq!(bizstep("shipping"), Some("shipping"));
        assert_eq!(
            bizstep("https://ref.gs1.org/cbv/BizStep-shipping"),
            Some("shipping")
        );
        assert_eq!(
            bizstep("urn:epcglobal:cbv:bizstep:shipping"),
            Some("shipping")
        );
        assert_eq!(bizstep("cbv:BizStep-shipping"), Some("shipping"));
        assert_eq!(bizstep("https://ref.gs1.org/cbv/Disp-shipping"), None);
        assert_eq!(bizstep("shiping"), None);
        assert_eq!(
            disposition("urn:epcglobal:cbv:disp:in_transit"),
            Some("in_transit")
        );
        assert_eq!(
            biz_transaction_type("https://ref.gs1.org/cbv/BTT-po"),
            Some("po")
        );
        assert_eq!(
            source_dest_type("urn:epcglobal:cbv:sdt:location"),
            Some("location")
        );
        assert_eq!(error_reason("cbv:ER-did_not_occur"), Some("did_not_occur"));
        assert_eq!(component("cbv:Comp-latitude"), Some("latitude"));
        assert_eq!(measurement_type("gs1:Temperature"), Some("Temperature"));
        assert_eq!(
            sensor_alert_type("ALARM_CONDITION"),
            Some("ALARM_CONDITION")
        );
        assert_eq!(
            BIZ_STEP.web_uri("shipping").as_deref(),
            Some("https://ref.gs1.org/cbv/BizStep-shipping")
        );
        assert_eq!(
            DISPOSITION.urn("active").as_deref(),
            Some("urn:epcglobal:cbv:disp:active")
        );
        assert!(is_cbv_uri("urn:epcglobal:cbv:bizstep:x"));
        assert!(!is_cbv_uri("https://example.com/cbv/x"));
        assert!(is_gs1_voc_uri("http://www.gs1.org/voc/Temperature"));
    }
}
