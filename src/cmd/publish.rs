//! `mqtk pub` (in progress).
use crate::cli::PublishArgs;
pub async fn run(_args: PublishArgs) -> anyhow::Result<()> {
    anyhow::bail!("not built yet")
}
