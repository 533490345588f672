//! Whether the node is ready to serve (the API's `/readyz`): its store passed the
//! start-up verification (and no tamper alert since), consensus runs, its height is
//! within [`READY_HEIGHT_LAG_MAX`] of the highest height its peers report, and
//! nothing holds readiness back (`waybill demo` holds it until its data is loaded).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

use crate::consensus::ConsensusProbe;

/// Most heights a ready node may be behind the highest height a peer reports.
pub const READY_HEIGHT_LAG_MAX: u64 = 2;

/// Most holds at once (each names a start-up task, e.g. `demo_loaded`).
pub const READINESS_HOLDS_MAX: usize = 16;

/// What readiness depends on beyond the ledger's own state (set by `node::start`).
#[derive(Debug, Default)]
pub struct Readiness {
    store_verified: AtomicBool,
    /// The node has peers: until one reports its height, it is not known to be
    /// caught up.
    peers_expected: AtomicBool,
    consensus: OnceLock<ConsensusProbe>,
    /// Start-up tasks not done yet: condition name → what is awaited.
    holds: Mutex<BTreeMap<&'static str, String>>,
}

/// One condition of readiness.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Check {
    /// Stable name: `store_verified`, `consensus_running`, `caught_up`, or a hold's.
    pub condition: &'static str,
    /// Whether it holds.
    pub ok: bool,
    /// What was found (and, when it fails, why).
    pub detail: String,
}

/// Too many readiness holds at once.
#[derive(Debug, thiserror::Error)]
#[error("{held} readiness holds are already set (the limit is {READINESS_HOLDS_MAX}); `{condition}` was not added")]
pub struct TooManyHolds {
    /// The hold refused.
    pub condition: &'static str,
    /// Holds already set.
    pub held: usize,
}

impl Readiness {
    /// The store passed its start-up verification.
    pub fn set_store_verified(&self) {
        self.store_verified.store(true, Ordering::SeqCst);
    }

    /// The node has peers to catch up with: it is not ready until one of them has
    /// reported its height.
    pub fn expect_peers(&self) {
        self.peers_expected.store(true, Ordering::SeqCst);
    }

    /// Consensus started; readiness reads it through `probe` (set once).
    pub fn attach_consensus(&self, probe: ConsensusProbe) {
        let _ = self.consensus.set(probe);
    }

    /// Hold readiness back until [`Readiness::release`]`(condition)`; `awaiting` says
    /// what is awaited (the failing check's detail).
    pub fn hold(
        &self,
        condition: &'static str,
        awaiting: impl Into<String>,
    ) -> Result<(), TooManyHolds> {
        let mut holds = self
            .holds
            .lock()
            .expect("readiness lock is never held across a panic");
        if holds.len() >= READINESS_HOLDS_MAX && !holds.contains_key(condition) {
            return Err(TooManyHolds {
                condition,
                held: holds.len(),
            });
        }
        holds.insert(condition, awaiting.into());
        Ok(())
    }

    /// The task `condition` names is done.
    pub fn release(&self, condition: &'static str) {
        self.holds
            .lock()
            .expect("readiness lock is never held across a panic")
            .remove(condition);
    }

    fn holds(&self) -> Vec<Check> {
        self.holds
            .lock()
            .expect("readiness lock is never held across a panic")
            .iter()
            .map(|(condition, awaiting)| Check {
                condition,
                ok: false,
                detail: format!("waiting: {awaiting}"),
            })
            .collect()
    }
}

impl Readiness {
    /// Every readiness condition for a node whose committed height is `head` and
    /// whose tamper alert (if raised) is `tamper_alert`; ready when all are `ok`.
    /// ([`crate::ledger::Shared::readiness_checks`] asks it for the node.)
    pub fn checks(&self, tamper_alert: Option<String>, head: u64) -> Vec<Check> {
        let r = self;
        let store_ok = r.store_verified.load(Ordering::SeqCst);
        let store = match (store_ok, tamper_alert) {
            (_, Some(alert)) => Check {
                condition: "store_verified",
                ok: false,
                detail: format!("tamper alert: {alert}"),
            },
            (true, None) => Check {
                condition: "store_verified",
                ok: true,
                detail: "the store passed its start-up verification".into(),
            },
            (false, None) => Check {
                condition: "store_verified",
                ok: false,
                detail: "the store has not passed its start-up verification".into(),
            },
        };
        let mut checks = vec![store];
        let peers_expected = r.peers_expected.load(Ordering::SeqCst);
        checks.extend(consensus_checks(r.consensus.get(), head, peers_expected));
        checks.extend(r.holds());
        checks
    }
}

/// `consensus_running` and `caught_up`: a peer deciding height h has committed h − 1;
/// this node (committed `head`) is caught up when h − 1 ≤ head + [`READY_HEIGHT_LAG_MAX`].
fn consensus_checks(probe: Option<&ConsensusProbe>, head: u64, peers_expected: bool) -> [Check; 2] {
    let Some(p) = probe else {
        return [
            Check {
                condition: "consensus_running",
                ok: false,
                detail: "consensus has not started".into(),
            },
            Check {
                condition: "caught_up",
                ok: false,
                detail: format!("committed height {head}; consensus has not started"),
            },
        ];
    };
    let running = Check {
        condition: "consensus_running",
        ok: p.running(),
        detail: if p.running() {
            format!("deciding height {}", p.height())
        } else {
            "consensus is not running (starting, stopped or halted)".into()
        },
    };
    let caught_up = match p.peer_height_max() {
        None => Check {
            condition: "caught_up",
            ok: !peers_expected,
            detail: if peers_expected {
                format!("committed height {head}; no peer has reported its height yet (none in the last {} s)", crate::consensus::PEER_HEIGHT_TTL.as_secs())
            } else {
                format!("committed height {head}; no peers")
            },
        },
        Some(h) => {
            let peer_committed = h.saturating_sub(1);
            let ok = peer_committed <= head + READY_HEIGHT_LAG_MAX;
            Check {
                condition: "caught_up",
                ok,
                detail: format!(
                    "committed height {head}; peers have committed up to {peer_committed} (a node more than {READY_HEIGHT_LAG_MAX} behind is not ready)"
                ),
            }
        }
    };
    [running, caught_up]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_are_bounded_and_released_by_name() {
        let r = Readiness::default();
        r.hold("demo_loaded", "the demo data").expect("first hold");
        assert_eq!(r.holds().len(), 1);
        assert!(r.holds()[0].detail.contains("the demo data"));
        for i in 1..READINESS_HOLDS_MAX {
            let name: &'static str = Box::leak(format!("task_{i}").into_boxed_str());
            r.hold(name, "x").expect("within the limit");
        }
        let e = r.hold("one_more", "x").expect_err("one past the limit");
        assert_eq!(e.held, READINESS_HOLDS_MAX);
        r.hold("demo_loaded", "again")
            .expect("re-holding a held name is no new hold");
        r.release("demo_loaded");
        assert!(r.holds().iter().all(|c| c.condition != "demo_loaded"));
    }
}
