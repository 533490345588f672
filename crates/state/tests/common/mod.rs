//! What several state tests share.

use std::collections::BTreeMap;

/// A state whose `fail_at`-th read (get or scan) fails: a store fault injected into
/// execution, which must halt the block and never become a rejection.
pub struct Faulty<'a> {
    pub inner: &'a BTreeMap<Vec<u8>, Vec<u8>>,
    pub reads: std::cell::Cell<usize>,
    pub fail_at: usize,
}

impl<'a> Faulty<'a> {
    /// `inner`, failing its `fail_at`-th read.
    pub fn new(inner: &'a BTreeMap<Vec<u8>, Vec<u8>>, fail_at: usize) -> Self {
        Faulty {
            inner,
            reads: std::cell::Cell::new(0),
            fail_at,
        }
    }

    fn tick(&self) -> Result<(), waybill_state::StateReadError> {
        let n = self.reads.get();
        self.reads.set(n + 1);
        if n == self.fail_at {
            return Err(waybill_state::StateReadError::Store(format!(
                "injected failure of read {n}"
            )));
        }
        Ok(())
    }
}

impl waybill_state::StateRead for Faulty<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, waybill_state::StateReadError> {
        self.tick()?;
        waybill_state::StateRead::get(self.inner, key)
    }
}

impl waybill_state::StateScan for Faulty<'_> {
    fn scan_from(
        &self,
        prefix: &[u8],
        start: &[u8],
        max: usize,
    ) -> Result<waybill_state::Rows, waybill_state::StateReadError> {
        self.tick()?;
        self.inner.scan_from(prefix, start, max)
    }
}
