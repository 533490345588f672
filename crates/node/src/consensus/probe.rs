//! A read-only view of consensus for readiness checks ([`ConsensusProbe`]): whether it
//! runs, and the heights the peers report — the height of each validator's newest
//! vote or proposal received, from the engine's events.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use malachitebft_app_channel::app::consensus::SignedConsensusMsg;
use malachitebft_app_channel::app::engine::util::events::{Event, TxEvent};
use tokio::sync::{broadcast, watch};

use super::{Address, SharedStatus, WaybillContext};

/// Most peers whose reported heights are kept (one per validator address; the
/// validator set is at most [`waybill_types::limits::VALIDATORS_MAX`]).
pub const PEER_HEIGHTS_MAX: usize = waybill_types::limits::VALIDATORS_MAX;

/// A peer's report is forgotten this long after it was received (a stopped peer
/// stops counting).
pub const PEER_HEIGHT_TTL: Duration = Duration::from_secs(30);

/// The newest height each peer reported, by validator address.
#[derive(Debug, Default)]
pub(crate) struct PeerHeights {
    by_peer: Mutex<BTreeMap<Address, (u64, Instant)>>,
}

impl PeerHeights {
    /// `peer` reported it is deciding `height` (a vote or a proposal at it).
    fn report(&self, peer: Address, height: u64, at: Instant) {
        let mut m = self
            .by_peer
            .lock()
            .expect("peer heights lock is never held across a panic");
        if m.len() >= PEER_HEIGHTS_MAX && !m.contains_key(&peer) {
            // Make room by dropping expired reports; if none expired, the new peer
            // is not tracked (the set is bounded).
            m.retain(|_, (_, t)| at.duration_since(*t) <= PEER_HEIGHT_TTL);
            if m.len() >= PEER_HEIGHTS_MAX {
                return;
            }
        }
        let e = m.entry(peer).or_insert((height, at));
        e.0 = e.0.max(height);
        e.1 = at;
    }

    /// The highest height a peer reported within [`PEER_HEIGHT_TTL`] of `now`.
    fn highest(&self, now: Instant) -> Option<u64> {
        self.by_peer
            .lock()
            .expect("peer heights lock is never held across a panic")
            .values()
            .filter(|(_, t)| now.duration_since(*t) <= PEER_HEIGHT_TTL)
            .map(|(h, _)| *h)
            .max()
    }
}

/// Record the heights of the votes and proposals `events` delivers from peers, until
/// the engine's event channel closes or consensus shuts down.
pub(crate) fn track_peer_heights(
    events: &TxEvent<WaybillContext>,
    heights: Arc<PeerHeights>,
    status: Arc<SharedStatus>,
) {
    let mut rx = events.subscribe();
    tokio::spawn(async move {
        loop {
            if status.shutting_down.load(Ordering::SeqCst) {
                return;
            }
            match rx.recv().await {
                Ok(Event::Received(SignedConsensusMsg::Vote(v))) => {
                    heights.report(v.message.validator, v.message.height.0, Instant::now());
                }
                Ok(Event::Received(SignedConsensusMsg::Proposal(p))) => {
                    heights.report(p.message.proposer, p.message.height.0, Instant::now());
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    });
}

/// What a readiness check may read of consensus: a cheap clone, read-only.
#[derive(Clone, Debug)]
pub struct ConsensusProbe {
    pub(crate) status: Arc<SharedStatus>,
    pub(crate) outcome: watch::Receiver<Option<Result<(), String>>>,
    pub(crate) peer_heights: Arc<PeerHeights>,
}

impl ConsensusProbe {
    /// Whether consensus runs: the driver has started a height, and consensus has
    /// neither stopped nor begun to shut down.
    pub fn running(&self) -> bool {
        self.status.height.load(Ordering::Relaxed) > 0
            && !self.status.shutting_down.load(Ordering::SeqCst)
            && self.outcome.borrow().is_none()
    }

    /// The height consensus is deciding (0 before it starts).
    pub fn height(&self) -> u64 {
        self.status.height.load(Ordering::Relaxed)
    }

    /// The highest height a peer reported deciding (a vote or proposal received in
    /// the last [`PEER_HEIGHT_TTL`]); `None` when no peer reported one.
    pub fn peer_height_max(&self) -> Option<u64> {
        self.peer_heights.highest(Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use waybill_types::SecretKey;

    fn addr(seed: u8) -> Address {
        Address(SecretKey::from_seed([seed; 32]).public())
    }

    #[test]
    fn the_highest_fresh_report_counts_and_old_ones_expire() {
        let h = PeerHeights::default();
        let t0 = Instant::now();
        assert_eq!(h.highest(t0), None);
        h.report(addr(1), 7, t0);
        h.report(addr(2), 9, t0);
        h.report(addr(2), 8, t0);
        assert_eq!(h.highest(t0), Some(9), "a peer's height never goes down");
        let later = t0 + PEER_HEIGHT_TTL + Duration::from_secs(1);
        h.report(addr(1), 10, later);
        assert_eq!(h.highest(later), Some(10));
        let much_later = later + PEER_HEIGHT_TTL + Duration::from_secs(1);
        assert_eq!(h.highest(much_later), None, "stale reports do not count");
    }

    #[test]
    fn the_tracked_peers_are_bounded() {
        let h = PeerHeights::default();
        let t0 = Instant::now();
        for i in 0..PEER_HEIGHTS_MAX {
            let mut seed = [0u8; 32];
            seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
            h.report(Address(SecretKey::from_seed(seed).public()), 1, t0);
        }
        h.report(addr(0xee), 100, t0);
        assert_eq!(h.highest(t0), Some(1), "one past the bound is not tracked");
        let later = t0 + PEER_HEIGHT_TTL + Duration::from_secs(1);
        h.report(addr(0xee), 100, later);
        assert_eq!(h.highest(later), Some(100), "expired reports make room");
    }
}
