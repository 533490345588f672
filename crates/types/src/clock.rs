//! Wall-clock time, injected. The state machine never reads a clock: contract time is
//! the block time the proposer sets and every validator checks. Wall time enters only
//! at the edges — the proposer choosing a block time, validators bounding it, the API
//! checking expiries and signed-request timestamps — and always through a [`Clock`],
//! so tests can hold time still or move it (a [`ManualClock`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A source of wall-clock time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;
}

/// The machine's clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            // A clock set before 1970 reads as the epoch; block-time checks then
            // refuse to move time backwards rather than trust it.
            .unwrap_or(0)
    }
}

/// A clock that moves only when told (tests, simulations). Clones share the time.
#[derive(Clone, Debug, Default)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    /// A clock reading `now_ms`.
    pub fn at(now_ms: u64) -> ManualClock {
        ManualClock(Arc::new(AtomicU64::new(now_ms)))
    }

    /// Set the time; it may not go backwards.
    pub fn set(&self, now_ms: u64) {
        let before = self.0.swap(now_ms, Ordering::SeqCst);
        assert!(
            now_ms >= before,
            "a clock does not go backwards ({before} → {now_ms})"
        );
    }

    /// Move the time forward by `ms`.
    pub fn advance(&self, ms: u64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// The machine's clock, shared.
pub fn system() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told_and_clones_share_it() {
        let c = ManualClock::at(1_000);
        let shared: Arc<dyn Clock> = Arc::new(c.clone());
        assert_eq!(shared.now_ms(), 1_000);
        c.advance(500);
        assert_eq!(shared.now_ms(), 1_500);
        c.set(2_000);
        assert_eq!(shared.now_ms(), 2_000);
        assert!(
            std::panic::catch_unwind(|| c.set(1)).is_err(),
            "no going back"
        );
    }

    #[test]
    fn the_system_clock_is_after_2025() {
        assert!(SystemClock.now_ms() > 1_735_689_600_000);
    }
}
