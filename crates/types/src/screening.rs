//! The open tier's screening rules as data (DESIGN "two chains of different
//! openness"): which events the open tier publishes, in which form, with which of
//! their fields. The rule set in force is state, changed only by governance
//! ([`crate::GovernanceAction::SetScreeningRules`]); version 1 is [`v1`], in force from
//! genesis until the consortium first changes it.
//!
//! Some fields of a published event are always published: they are what makes it a
//! step of a product's journey (its Event Hash ID, event type, time, business step,
//! the identifiers it names, the capturing organization and the consortium record it
//! came from). The rest are published only if the rule lists them. Nothing else of an
//! event is ever published — extensions, ILMD, business transactions, sealed fields.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use crate::org::DataCategory;
use crate::payload::PayloadError;

/// Most rules in a rule set (5 categories × 5 event types, plus one per category for
/// every type).
pub const RULES_MAX: usize = 30;

/// An EPCIS 2.0 event type.
#[derive(
    Clone,
    Copy,
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
#[borsh(use_discriminant = true)]
#[repr(u8)]
pub enum EventType {
    /// `ObjectEvent`.
    ObjectEvent = 0,
    /// `AggregationEvent`.
    AggregationEvent = 1,
    /// `TransactionEvent`.
    TransactionEvent = 2,
    /// `TransformationEvent`.
    TransformationEvent = 3,
    /// `AssociationEvent`.
    AssociationEvent = 4,
}

impl EventType {
    /// The type named `s` as in an EPCIS document (`ObjectEvent`, ...).
    pub fn parse(s: &str) -> Option<EventType> {
        Some(match s {
            "ObjectEvent" => EventType::ObjectEvent,
            "AggregationEvent" => EventType::AggregationEvent,
            "TransactionEvent" => EventType::TransactionEvent,
            "TransformationEvent" => EventType::TransformationEvent,
            "AssociationEvent" => EventType::AssociationEvent,
            _ => return None,
        })
    }
}

/// What the open tier publishes of an event a rule covers.
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
pub enum Publish {
    /// Nothing: the event stays on the consortium tier.
    Nothing = 0,
    /// Its outcome only (an `inspection` record): that it happened, when, by whom, on
    /// what; with `disposition` (the outcome) and `biz_location` if listed.
    Outcome = 1,
    /// The screened event (an `event` record), with the listed fields.
    Event = 2,
}

/// A field of an event that a rule may publish (beyond those always published).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
#[borsh(use_discriminant = true)]
#[repr(u8)]
pub enum ScreenedField {
    /// `action` (ADD, OBSERVE, DELETE).
    Action = 0,
    /// `disposition` (an inspection's outcome in the `outcome` form).
    Disposition = 1,
    /// `readPoint`.
    ReadPoint = 2,
    /// `bizLocation`.
    BizLocation = 3,
    /// Sensor readings: time, type, value and unit of each `sensorReport`.
    Readings = 4,
    /// A declared allowed temperature range (an `allowedTemperature` extension).
    AllowedRange = 5,
}

impl ScreenedField {
    /// Every field, in order.
    pub const ALL: [ScreenedField; 6] = [
        ScreenedField::Action,
        ScreenedField::Disposition,
        ScreenedField::ReadPoint,
        ScreenedField::BizLocation,
        ScreenedField::Readings,
        ScreenedField::AllowedRange,
    ];
    /// The snake_case name used in JSON.
    pub fn name(self) -> &'static str {
        match self {
            ScreenedField::Action => "action",
            ScreenedField::Disposition => "disposition",
            ScreenedField::ReadPoint => "read_point",
            ScreenedField::BizLocation => "biz_location",
            ScreenedField::Readings => "readings",
            ScreenedField::AllowedRange => "allowed_range",
        }
    }
    /// Whether the `outcome` form can carry it (an outcome says where and how an
    /// inspection ended, not its readings or reader).
    pub fn in_outcome(self) -> bool {
        matches!(
            self,
            ScreenedField::Disposition | ScreenedField::BizLocation
        )
    }
}

/// One rule: the events of a data category (and, if given, of one event type) are
/// published in a form, with the listed fields.
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
pub struct ScreeningRule {
    /// The data category of the events it covers (from their business step).
    pub category: DataCategory,
    /// The event type it covers; absent: every type without a rule of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_type: Option<EventType>,
    /// What is published.
    pub publish: Publish,
    /// The optional fields published (none for `nothing`).
    #[serde(default)]
    pub fields: Vec<ScreenedField>,
}

impl ScreeningRule {
    /// Whether this rule publishes `field`.
    pub fn publishes(&self, field: ScreenedField) -> bool {
        self.publish != Publish::Nothing && self.fields.contains(&field)
    }
}

/// Version 1 of the rules (issue 7's screening): production and transport events are
/// published screened, with every optional field; customs and quality events as their
/// outcome (disposition and location), the reports staying on the consortium tier;
/// platform transactions and financial data are not published.
pub fn v1() -> Vec<ScreeningRule> {
    let rule = |category, publish, fields: &[ScreenedField]| ScreeningRule {
        category,
        event_type: None,
        publish,
        fields: fields.to_vec(),
    };
    vec![
        rule(
            DataCategory::Production,
            Publish::Event,
            &ScreenedField::ALL,
        ),
        rule(DataCategory::PlatformTransactions, Publish::Nothing, &[]),
        rule(
            DataCategory::CustomsQuality,
            Publish::Outcome,
            &[ScreenedField::Disposition, ScreenedField::BizLocation],
        ),
        rule(DataCategory::Transport, Publish::Event, &ScreenedField::ALL),
        rule(DataCategory::Financial, Publish::Nothing, &[]),
    ]
}

/// The rule of `rules` for an event of `category` and type `event_type`: the one
/// naming that type, else the category's rule for every type; `None`: not published.
pub fn rule_for(
    rules: &[ScreeningRule],
    category: DataCategory,
    event_type: Option<EventType>,
) -> Option<&ScreeningRule> {
    let of_type = event_type.and_then(|t| {
        rules
            .iter()
            .find(|r| r.category == category && r.event_type == Some(t))
    });
    of_type.or_else(|| {
        rules
            .iter()
            .find(|r| r.category == category && r.event_type.is_none())
    })
}

/// Checks of a rule set that need no state: at most [`RULES_MAX`] rules, one per
/// (category, event type), each field listed once, fields only where the form can
/// carry them.
pub fn check(rules: &[ScreeningRule]) -> Result<(), PayloadError> {
    let bad = |reason: String| {
        Err(PayloadError::Field {
            field: "rules",
            reason,
        })
    };
    if rules.is_empty() || rules.len() > RULES_MAX {
        return bad(format!(
            "a rule set has 1 to {RULES_MAX} rules, this one {}",
            rules.len()
        ));
    }
    for (i, r) in rules.iter().enumerate() {
        let scope = match r.event_type {
            Some(t) => format!("{} events of type {t:?}", r.category.name()),
            None => format!("{} events", r.category.name()),
        };
        if rules[..i]
            .iter()
            .any(|o| o.category == r.category && o.event_type == r.event_type)
        {
            return bad(format!("rule {i}: a second rule for {scope}"));
        }
        for (j, f) in r.fields.iter().enumerate() {
            if r.fields[..j].contains(f) {
                return bad(format!("rule {i}: field `{}` listed twice", f.name()));
            }
            match r.publish {
                Publish::Nothing => {
                    return bad(format!(
                        "rule {i}: publishes nothing of {scope}, so it lists no fields (found `{}`)",
                        f.name()
                    ))
                }
                Publish::Outcome if !f.in_outcome() => {
                    return bad(format!(
                        "rule {i}: the outcome form publishes only disposition and biz_location, not `{}`",
                        f.name()
                    ))
                }
                _ => {}
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_is_a_valid_rule_set_covering_every_category_once() {
        check(&v1()).expect("v1 is valid");
        for c in DataCategory::ALL {
            assert_eq!(v1().iter().filter(|r| r.category == c).count(), 1, "{c:?}");
        }
    }

    #[test]
    fn a_rule_for_an_event_type_wins_over_the_categorys_rule() {
        let mut rules = v1();
        rules.push(ScreeningRule {
            category: DataCategory::Transport,
            event_type: Some(EventType::AggregationEvent),
            publish: Publish::Nothing,
            fields: vec![],
        });
        check(&rules).expect("valid");
        let t = DataCategory::Transport;
        assert_eq!(
            rule_for(&rules, t, Some(EventType::AggregationEvent)).map(|r| r.publish),
            Some(Publish::Nothing)
        );
        assert_eq!(
            rule_for(&rules, t, Some(EventType::ObjectEvent)).map(|r| r.publish),
            Some(Publish::Event)
        );
        assert_eq!(
            rule_for(&rules, t, None).map(|r| r.publish),
            Some(Publish::Event)
        );
        rules.retain(|r| r.category != DataCategory::Production);
        assert!(rule_for(&rules, DataCategory::Production, None).is_none());
    }

    #[test]
    fn malformed_rule_sets_are_refused_naming_the_rule() {
        let err = |rules: Vec<ScreeningRule>| check(&rules).expect_err("refused").to_string();
        assert!(err(vec![]).contains("1 to 30 rules"));
        let mut twice = v1();
        twice.push(v1()[0].clone());
        assert!(
            err(twice).contains("rule 5: a second rule for production events"),
            "{}",
            err(v1().into_iter().chain(v1()).collect())
        );
        let mut repeated = v1();
        repeated[0].fields.push(ScreenedField::Action);
        assert!(err(repeated).contains("rule 0: field `action` listed twice"));
        let mut nothing = v1();
        nothing[1].fields.push(ScreenedField::Readings);
        assert!(err(nothing).contains("rule 1: publishes nothing"));
        let mut outcome = v1();
        outcome[2].fields.push(ScreenedField::Readings);
        assert!(err(outcome).contains("not `readings`"));
        let many: Vec<ScreeningRule> = (0..31).map(|_| v1()[0].clone()).collect();
        assert!(err(many).contains("this one 31"));
    }

    #[test]
    fn the_proposal_in_the_docs_parses_and_passes_the_checks() {
        let doc = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/PROOFS.md"),
        )
        .expect("docs/PROOFS.md");
        let start = doc
            .find("```json\n{\"type\": \"propose_governance\"")
            .expect("the example proposal")
            + "```json\n".len();
        let end = start + doc[start..].find("```").expect("its end");
        let p: crate::Payload = serde_json::from_str(&doc[start..end]).expect("a payload");
        let crate::Payload::ProposeGovernance(p) = p else {
            panic!("a governance proposal: {p:?}")
        };
        p.check().expect("valid");
        let crate::GovernanceAction::SetScreeningRules { rules } = p.action else {
            panic!("sets screening rules")
        };
        assert_eq!(
            rule_for(
                &rules,
                DataCategory::Transport,
                Some(EventType::AggregationEvent)
            )
            .map(|r| r.publish),
            Some(Publish::Nothing)
        );
    }

    #[test]
    fn rules_read_and_write_as_documented_json() {
        let json = serde_json::to_value(v1()).expect("json");
        assert_eq!(
            json[2],
            serde_json::json!({"category": "customs_quality", "publish": "outcome",
                               "fields": ["disposition", "biz_location"]})
        );
        let typed: ScreeningRule = serde_json::from_value(serde_json::json!({
            "category": "transport", "event_type": "AggregationEvent", "publish": "nothing"
        }))
        .expect("parses");
        assert_eq!(typed.event_type, Some(EventType::AggregationEvent));
        assert!(typed.fields.is_empty());
        assert!(serde_json::from_value::<ScreeningRule>(serde_json::json!({
            "category": "transport", "publish": "everything"
        }))
        .is_err());
    }
}
