//! The lineage walk: from an identifier back to its origins and forward to every
//! place a lot reached, through the events the reader may see.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::rc::Rc;

use serde::Serialize;
use waybill_epcis::model::IdRole;

use super::{events_naming, load_event, lot_of, EventRecord};
use crate::exec::{StateRead, StateReadError, StateScan};

/// Which way to walk the lineage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Back to origins: inputs, containers it travelled in, its lot.
    Back,
    /// Forward to everything it became or reached: outputs, containers, instances.
    Forward,
}

/// An identifier reached by the walk, and how.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
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
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
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

/// Is a walk from `start` in `direction` the custody chain of something `org` holds
/// or held: a walk back from an identifier it is a party to
/// ([`crate::parties::is_party`])? Then the events on the way are `org`'s to read by
/// category ([`super::may_read_event`]'s `holds`): what it received came with its
/// history.
pub fn walk_holds<S: StateRead + ?Sized>(
    state: &S,
    org: &waybill_types::OrgId,
    start: &str,
    direction: Direction,
) -> Result<bool, StateReadError> {
    Ok(direction == Direction::Back && crate::parties::is_party(state, start, org)?)
}

/// Walk the lineage of `start` (a canonical identifier). `visible` decides which
/// events the reader may see; edges are followed only through visible events, so the
/// walk reveals nothing the reader could not read.
pub fn walk<S: StateScan + ?Sized>(
    state: &S,
    start: &str,
    direction: Direction,
    visible: &mut dyn FnMut(&EventRecord) -> Result<bool, StateReadError>,
) -> Result<Lineage, StateReadError> {
    let mut w = Walk::new(state, start, direction, visible);
    while let Some(visit) = w.queue.pop_front() {
        w.visit(&visit)?;
    }
    Ok(w.into_lineage())
}

/// An identifier reached and waiting to be visited: it is followed through the events
/// that name it with an event time in `lo..hi`.
struct Visit {
    id: String,
    lo: i64,
    hi: i64,
    /// Its node in [`Lineage::nodes`].
    node_idx: usize,
}

/// A link from an identifier being visited to the next one.
struct Edge {
    to: String,
    relation: &'static str,
    /// The event that links them (none for master data links).
    via_event: Option<u64>,
    /// The event-time window the next identifier is followed in.
    lo: i64,
    hi: i64,
}

impl Edge {
    fn new(to: String, relation: &'static str, via_event: Option<u64>, lo: i64, hi: i64) -> Edge {
        Edge {
            to,
            relation,
            via_event,
            lo,
            hi,
        }
    }
}

/// A walk in progress: breadth first from the start, each identifier once.
struct Walk<'s, 'v, S: StateScan + ?Sized> {
    state: &'s S,
    direction: Direction,
    visible: &'v mut dyn FnMut(&EventRecord) -> Result<bool, StateReadError>,
    /// Identifiers reached, in order (the start first), and the same as a set.
    nodes: Vec<TraceNode>,
    seen_ids: BTreeSet<String>,
    queue: VecDeque<Visit>,
    /// The events on the way.
    events: BTreeMap<u64, Rc<EventRecord>>,
    /// Every event looked at (bounded by [`TRACE_EVENTS_MAX`]).
    looked_at: BTreeSet<u64>,
    hidden: BTreeSet<u64>,
    corrected: BTreeSet<u64>,
    truncated: bool,
    /// Events read so far (an event is read once per walk).
    loaded: BTreeMap<u64, Option<Rc<EventRecord>>>,
    /// Aggregation DELETEs read so far, by parent.
    deletes: BTreeMap<String, Deletes>,
}

impl<'s, 'v, S: StateScan + ?Sized> Walk<'s, 'v, S> {
    fn new(
        state: &'s S,
        start: &str,
        direction: Direction,
        visible: &'v mut dyn FnMut(&EventRecord) -> Result<bool, StateReadError>,
    ) -> Self {
        let mut w = Walk {
            state,
            direction,
            visible,
            nodes: Vec::new(),
            seen_ids: BTreeSet::new(),
            queue: VecDeque::new(),
            events: BTreeMap::new(),
            looked_at: BTreeSet::new(),
            hidden: BTreeSet::new(),
            corrected: BTreeSet::new(),
            truncated: false,
            loaded: BTreeMap::new(),
            deletes: BTreeMap::new(),
        };
        w.seen_ids.insert(start.to_string());
        w.nodes.push(TraceNode {
            id: start.to_string(),
            depth: 0,
            from: None,
            relation: None,
            via_event: None,
        });
        w.queue.push_back(Visit {
            id: start.to_string(),
            lo: i64::MIN,
            hi: i64::MAX,
            node_idx: 0,
        });
        w
    }

    /// Follow the visible, uncorrected events that name `v.id` in its window, then
    /// (walking back) its lot's raw materials.
    fn visit(&mut self, v: &Visit) -> Result<(), StateReadError> {
        for (seq, role) in events_naming(self.state, &v.id, TRACE_EVENTS_MAX)? {
            if self.looked_at.len() >= TRACE_EVENTS_MAX {
                self.truncated = true;
                break;
            }
            self.looked_at.insert(seq);
            let Some(rec) = self.event(seq)? else {
                continue;
            };
            if rec.event_time_ms < v.lo || rec.event_time_ms >= v.hi {
                continue;
            }
            if !(self.visible)(&rec)? {
                self.hidden.insert(seq);
                continue;
            }
            if rec.corrected_by.is_some() || rec.error_declaration {
                self.corrected.insert(seq);
                continue;
            }
            let edges = match self.direction {
                Direction::Back => self.edges_back(v, seq, &rec, role)?,
                Direction::Forward => self.edges_forward(v, seq, &rec, role)?,
            };
            // Every edge is offered, even after one was cut off by the limit.
            let mut all_taken = true;
            for e in edges {
                all_taken &= self.reach(v, e);
            }
            if !all_taken {
                self.truncated = true;
            }
            self.events.insert(seq, rec);
        }
        if self.direction == Direction::Back {
            for e in self.raw_materials(&v.id)? {
                if !self.reach(v, e) {
                    self.truncated = true;
                }
            }
        }
        Ok(())
    }

    /// Event `seq`, read once per walk.
    fn event(&mut self, seq: u64) -> Result<Option<Rc<EventRecord>>, StateReadError> {
        if let Some(r) = self.loaded.get(&seq) {
            return Ok(r.clone());
        }
        let r = load_event(self.state, seq)?.map(Rc::new);
        self.loaded.insert(seq, r.clone());
        Ok(r)
    }

    /// Back from `v` through `rec` (event `seq`), where `v` has `role`: to inputs
    /// (transformation), to containers it was packed in (until unpacked), to its lot,
    /// and, from the start only, to what a container holds.
    fn edges_back(
        &mut self,
        v: &Visit,
        seq: u64,
        rec: &EventRecord,
        role: IdRole,
    ) -> Result<Vec<Edge>, StateReadError> {
        let t = rec.event_time_ms;
        let transformation = rec.event_type == "TransformationEvent";
        let action = rec.action.as_deref();
        let mut out = Vec::new();
        if matches!(role, IdRole::Output | IdRole::OutputQuantity) && transformation {
            for next in with_role(rec, &[IdRole::Input, IdRole::InputQuantity]) {
                out.push(Edge::new(
                    next,
                    "made_from",
                    Some(seq),
                    i64::MIN,
                    t.saturating_add(1),
                ));
            }
        }
        // Objects made by an ObjectEvent ADD with inputs are rare; nothing to follow.
        if matches!(role, IdRole::Child | IdRole::ChildQuantity) && action == Some("ADD") {
            for parent in with_role(rec, &[IdRole::Parent]) {
                let until = aggregation_end(self.state, &mut self.deletes, &v.id, &parent, t)?;
                out.push(Edge::new(parent, "contained_in", Some(seq), t, until));
            }
        }
        if matches!(role, IdRole::Epc | IdRole::Output) {
            for lot in with_role(rec, &[IdRole::IlmdLot]) {
                out.push(Edge::new(lot, "of_lot", Some(seq), i64::MIN, i64::MAX));
            }
        }
        if role == IdRole::Parent && v.node_idx == 0 && action != Some("DELETE") {
            for child in with_role(rec, &[IdRole::Child, IdRole::ChildQuantity]) {
                out.push(Edge::new(child, "contains", Some(seq), i64::MIN, i64::MAX));
            }
        }
        Ok(out)
    }

    /// Forward from `v` through `rec` (event `seq`), where `v` has `role`: to outputs
    /// (transformation), to containers it was packed into (until unpacked), and from a
    /// lot to its instances.
    fn edges_forward(
        &mut self,
        v: &Visit,
        seq: u64,
        rec: &EventRecord,
        role: IdRole,
    ) -> Result<Vec<Edge>, StateReadError> {
        let t = rec.event_time_ms;
        let transformation = rec.event_type == "TransformationEvent";
        let mut out = Vec::new();
        if matches!(role, IdRole::Input | IdRole::InputQuantity) && transformation {
            for next in with_role(rec, &[IdRole::Output, IdRole::OutputQuantity]) {
                out.push(Edge::new(next, "made_into", Some(seq), t, i64::MAX));
            }
        }
        if matches!(role, IdRole::Child | IdRole::ChildQuantity)
            && rec.action.as_deref() == Some("ADD")
        {
            for parent in with_role(rec, &[IdRole::Parent]) {
                let until = aggregation_end(self.state, &mut self.deletes, &v.id, &parent, t)?;
                out.push(Edge::new(parent, "packed_into", Some(seq), t, until));
            }
        }
        if role == IdRole::IlmdLot {
            for item in with_role(rec, &[IdRole::Epc, IdRole::Output]) {
                out.push(Edge::new(item, "instance", Some(seq), t, i64::MAX));
            }
        }
        Ok(out)
    }

    /// Master data: the raw-material lots of the lot `id` names, if it is a registered
    /// lot.
    fn raw_materials(&self, id: &str) -> Result<Vec<Edge>, StateReadError> {
        let Some((g, l)) = lot_of(id) else {
            return Ok(Vec::new());
        };
        let Ok(gtin) = g.parse() else {
            return Ok(Vec::new());
        };
        let Some(lot) = crate::catalog::load_lot(self.state, &gtin, &l)? else {
            return Ok(Vec::new());
        };
        Ok(lot
            .raw_materials
            .into_iter()
            .map(|r| {
                let next = format!("https://id.gs1.org/01/{}/10/{}", r.gtin, r.lot);
                Edge::new(next, "raw_material", None, i64::MIN, i64::MAX)
            })
            .collect())
    }

    /// Reach `e.to` from `from` (once: an identifier reached before is not queued
    /// again); false if the walk holds [`TRACE_NODES_MAX`] identifiers already.
    fn reach(&mut self, from: &Visit, e: Edge) -> bool {
        if self.seen_ids.len() >= TRACE_NODES_MAX {
            return false;
        }
        if self.seen_ids.insert(e.to.clone()) {
            self.nodes.push(TraceNode {
                id: e.to.clone(),
                depth: self.nodes[from.node_idx].depth + 1,
                from: Some(from.id.clone()),
                relation: Some(e.relation),
                via_event: e.via_event,
            });
            self.queue.push_back(Visit {
                id: e.to,
                lo: e.lo,
                hi: e.hi,
                node_idx: self.nodes.len() - 1,
            });
        }
        true
    }

    /// The walk's result: the events by eventTime.
    fn into_lineage(self) -> Lineage {
        assert_eq!(
            self.nodes.len(),
            self.seen_ids.len(),
            "one node per identifier reached"
        );
        assert!(self.nodes.len() <= TRACE_NODES_MAX, "the node limit holds");
        assert!(
            self.looked_at.len() <= TRACE_EVENTS_MAX,
            "the event limit holds"
        );
        assert!(
            self.events.len() <= self.looked_at.len(),
            "every event on the way was looked at"
        );
        drop(self.loaded);
        let mut events: Vec<EventRecord> = self
            .events
            .into_values()
            .map(|r| Rc::try_unwrap(r).unwrap_or_else(|r| (*r).clone()))
            .collect();
        events.sort_by_key(|e| (e.event_time_ms, e.seq));
        Lineage {
            direction: self.direction,
            nodes: self.nodes,
            events,
            hidden_events: self.hidden.len() as u64,
            corrected_events: self.corrected.len() as u64,
            truncated: self.truncated,
        }
    }
}

/// The identifiers of `rec` with one of the roles `want`, in the event's order.
fn with_role(rec: &EventRecord, want: &[IdRole]) -> Vec<String> {
    rec.roles()
        .filter(|(r, _)| want.contains(r))
        .map(|(_, i)| i.to_string())
        .collect()
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
