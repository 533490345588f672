//! The lineage walk: from an identifier back to its origins and forward to every
//! place a lot reached, through the events the reader may see.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::rc::Rc;

use serde::Serialize;
use waybill_epcis::model::IdRole;

use super::{events_naming, load_event, lot_of, EventRecord};
use crate::exec::{StateReadError, StateScan};

/// Which way to walk the lineage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Back to origins: inputs, containers it travelled in, its lot.
    Back,
    /// Forward to everything it became or reached: outputs, containers, instances.
    Forward,
}

/// An identifier reached by the walk, and how.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TraceNode {
    /// Canonical identifier.
    pub id: String,
    /// Steps from the start.
    pub depth: u32,
    /// The identifier it was reached from (none for the start).
    pub from: Option<String>,
    /// How: "made_from", "made_into", "contained_in", "contains", "packed_into",
    /// "of_lot", "instance", "raw_material".
    pub relation: Option<&'static str>,
    /// The event that links them (none for master data links).
    pub via_event: Option<u64>,
}

/// The result of a walk.
#[derive(Clone, Debug, Serialize)]
pub struct Lineage {
    /// The direction walked.
    pub direction: Direction,
    /// Identifiers reached, in the order reached (the start first).
    pub nodes: Vec<TraceNode>,
    /// The events on the way, by eventTime.
    pub events: Vec<EventRecord>,
    /// Events skipped because the reader may not read them.
    pub hidden_events: u64,
    /// Events skipped because an error declaration corrected them.
    pub corrected_events: u64,
    /// Whether a limit cut the walk short.
    pub truncated: bool,
}

/// Most events one walk visits.
pub const TRACE_EVENTS_MAX: usize = 20_000;
/// Most identifiers one walk visits.
pub const TRACE_NODES_MAX: usize = 20_000;

/// Walk the lineage of `start` (a canonical identifier). `visible` decides which
/// events the reader may see; edges are followed only through visible events, so the
/// walk reveals nothing the reader could not read.
pub fn walk<S: StateScan + ?Sized>(
    state: &S,
    start: &str,
    direction: Direction,
    visible: &mut dyn FnMut(&EventRecord) -> Result<bool, StateReadError>,
) -> Result<Lineage, StateReadError> {
    let mut nodes: Vec<TraceNode> = Vec::new();
    let mut seen_ids: BTreeSet<String> = BTreeSet::new();
    let mut events: BTreeMap<u64, Rc<EventRecord>> = BTreeMap::new();
    let mut looked_at: BTreeSet<u64> = BTreeSet::new();
    let mut hidden = BTreeSet::new();
    let mut corrected = BTreeSet::new();
    let mut truncated = false;
    // (id, window lo, window hi, node index)
    let mut queue: VecDeque<(String, i64, i64, usize)> = VecDeque::new();
    seen_ids.insert(start.to_string());
    nodes.push(TraceNode {
        id: start.to_string(),
        depth: 0,
        from: None,
        relation: None,
        via_event: None,
    });
    queue.push_back((start.to_string(), i64::MIN, i64::MAX, 0));
    let mut cache: BTreeMap<u64, Option<Rc<EventRecord>>> = BTreeMap::new();
    let mut deletes_cache: BTreeMap<String, Deletes> = BTreeMap::new();
    while let Some((id, lo, hi, node_ix)) = queue.pop_front() {
        let depth = nodes[node_ix].depth;
        let mut push = |nodes: &mut Vec<TraceNode>,
                        queue: &mut VecDeque<(String, i64, i64, usize)>,
                        next: &str,
                        relation: &'static str,
                        via: Option<u64>,
                        lo: i64,
                        hi: i64| {
            if seen_ids.len() >= TRACE_NODES_MAX {
                return false;
            }
            if seen_ids.insert(next.to_string()) {
                nodes.push(TraceNode {
                    id: next.to_string(),
                    depth: depth + 1,
                    from: Some(id.clone()),
                    relation: Some(relation),
                    via_event: via,
                });
                queue.push_back((next.to_string(), lo, hi, nodes.len() - 1));
            }
            true
        };
        let named = events_naming(state, &id, TRACE_EVENTS_MAX)?;
        for (seq, role) in named {
            if looked_at.len() >= TRACE_EVENTS_MAX {
                truncated = true;
                break;
            }
            looked_at.insert(seq);
            let rec = match cache.get(&seq) {
                Some(r) => r.clone(),
                None => {
                    let r = load_event(state, seq)?.map(Rc::new);
                    cache.insert(seq, r.clone());
                    r
                }
            };
            let Some(rec) = rec else { continue };
            if rec.event_time_ms < lo || rec.event_time_ms >= hi {
                continue;
            }
            if !visible(&rec)? {
                hidden.insert(seq);
                continue;
            }
            if rec.corrected_by.is_some() || rec.error_declaration {
                corrected.insert(seq);
                continue;
            }
            let t = rec.event_time_ms;
            let is_transformation = rec.event_type == "TransformationEvent";
            let action = rec.action.as_deref();
            let with_role = |want: &[IdRole]| -> Vec<String> {
                rec.roles()
                    .filter(|(r, _)| want.contains(r))
                    .map(|(_, i)| i.to_string())
                    .collect()
            };
            let mut ok = true;
            match direction {
                Direction::Back => {
                    if matches!(role, IdRole::Output | IdRole::OutputQuantity) && is_transformation
                    {
                        for next in with_role(&[IdRole::Input, IdRole::InputQuantity]) {
                            ok &= push(
                                &mut nodes,
                                &mut queue,
                                &next,
                                "made_from",
                                Some(seq),
                                i64::MIN,
                                t.saturating_add(1),
                            );
                        }
                    }
                    if matches!(role, IdRole::Output | IdRole::OutputQuantity)
                        && !is_transformation
                        && action == Some("ADD")
                    {
                        // Objects made by an ObjectEvent ADD with inputs are rare; nothing to follow.
                    }
                    if matches!(role, IdRole::Child | IdRole::ChildQuantity)
                        && action == Some("ADD")
                    {
                        for parent in with_role(&[IdRole::Parent]) {
                            let until =
                                aggregation_end(state, &mut deletes_cache, &id, &parent, t)?;
                            ok &= push(
                                &mut nodes,
                                &mut queue,
                                &parent,
                                "contained_in",
                                Some(seq),
                                t,
                                until,
                            );
                        }
                    }
                    if matches!(role, IdRole::Epc | IdRole::Output) {
                        for lot in with_role(&[IdRole::IlmdLot]) {
                            ok &= push(
                                &mut nodes,
                                &mut queue,
                                &lot,
                                "of_lot",
                                Some(seq),
                                i64::MIN,
                                i64::MAX,
                            );
                        }
                    }
                    if role == IdRole::Parent && node_ix == 0 && action != Some("DELETE") {
                        for child in with_role(&[IdRole::Child, IdRole::ChildQuantity]) {
                            ok &= push(
                                &mut nodes,
                                &mut queue,
                                &child,
                                "contains",
                                Some(seq),
                                i64::MIN,
                                i64::MAX,
                            );
                        }
                    }
                }
                Direction::Forward => {
                    if matches!(role, IdRole::Input | IdRole::InputQuantity) && is_transformation {
                        for next in with_role(&[IdRole::Output, IdRole::OutputQuantity]) {
                            ok &= push(
                                &mut nodes,
                                &mut queue,
                                &next,
                                "made_into",
                                Some(seq),
                                t,
                                i64::MAX,
                            );
                        }
                    }
                    if matches!(role, IdRole::Child | IdRole::ChildQuantity)
                        && action == Some("ADD")
                    {
                        for parent in with_role(&[IdRole::Parent]) {
                            let until =
                                aggregation_end(state, &mut deletes_cache, &id, &parent, t)?;
                            ok &= push(
                                &mut nodes,
                                &mut queue,
                                &parent,
                                "packed_into",
                                Some(seq),
                                t,
                                until,
                            );
                        }
                    }
                    if role == IdRole::IlmdLot {
                        for item in with_role(&[IdRole::Epc, IdRole::Output]) {
                            ok &= push(
                                &mut nodes,
                                &mut queue,
                                &item,
                                "instance",
                                Some(seq),
                                t,
                                i64::MAX,
                            );
                        }
                    }
                }
            }
            if !ok {
                truncated = true;
            }
            events.insert(seq, rec);
        }
        // Master data: a lot's raw-material lots.
        if direction == Direction::Back {
            if let Some((g, l)) = lot_of(&id) {
                if let Ok(gtin) = g.parse() {
                    if let Some(lot) = crate::catalog::load_lot(state, &gtin, &l)? {
                        for r in lot.raw_materials {
                            let next = format!("https://id.gs1.org/01/{}/10/{}", r.gtin, r.lot);
                            if !push(
                                &mut nodes,
                                &mut queue,
                                &next,
                                "raw_material",
                                None,
                                i64::MIN,
                                i64::MAX,
                            ) {
                                truncated = true;
                            }
                        }
                    }
                }
            }
        }
    }
    drop(cache);
    let mut events: Vec<EventRecord> = events
        .into_values()
        .map(|r| Rc::try_unwrap(r).unwrap_or_else(|r| (*r).clone()))
        .collect();
    events.sort_by_key(|e| (e.event_time_ms, e.seq));
    Ok(Lineage {
        direction,
        nodes,
        events,
        hidden_events: hidden.len() as u64,
        corrected_events: corrected.len() as u64,
        truncated,
    })
}

/// The aggregation DELETEs that name `parent`: (time, children named; empty = all).
type Deletes = Vec<(i64, Vec<String>)>;

/// When `child` left `parent`: the first aggregation DELETE after `from` that names
/// both, or that empties the parent; `i64::MAX` if it never did. A parent's DELETEs
/// are read once per walk (`cache`).
fn aggregation_end<S: StateScan + ?Sized>(
    state: &S,
    cache: &mut BTreeMap<String, Deletes>,
    child: &str,
    parent: &str,
    from: i64,
) -> Result<i64, StateReadError> {
    if !cache.contains_key(parent) {
        let mut deletes = Vec::new();
        for (seq, role) in events_naming(state, parent, TRACE_EVENTS_MAX)? {
            if role != IdRole::Parent {
                continue;
            }
            let Some(rec) = load_event(state, seq)? else {
                continue;
            };
            if rec.event_type != "AggregationEvent"
                || rec.action.as_deref() != Some("DELETE")
                || rec.corrected_by.is_some()
            {
                continue;
            }
            let children = rec
                .roles()
                .filter(|(r, _)| matches!(r, IdRole::Child | IdRole::ChildQuantity))
                .map(|(_, i)| i.to_string())
                .collect();
            deletes.push((rec.event_time_ms, children));
        }
        cache.insert(parent.to_string(), deletes);
    }
    let mut end = i64::MAX;
    for (t, children) in cache.get(parent).into_iter().flatten() {
        if *t > from && (children.is_empty() || children.iter().any(|c| c == child)) {
            end = end.min(*t);
        }
    }
    Ok(end)
}
