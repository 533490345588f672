//! Helpers shared by the end-to-end test binaries.

pub mod webdriver;

/// Small deterministic PRNG for fault schedules (the tests print the seed, so a
/// failure can be replayed).
#[allow(dead_code)] // not every test binary that includes `common` uses it
pub struct Lcg(pub u64);

#[allow(dead_code)]
impl Lcg {
    /// The next pseudo-random number.
    pub fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}
