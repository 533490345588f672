//! placeholder
pub struct BenchOptions { pub n_txs: usize, pub n_members: usize, pub batch: usize, pub concurrency: usize, pub json: bool }
pub async fn run(_o: BenchOptions) -> anyhow::Result<()> { anyhow::bail!("not yet") }
