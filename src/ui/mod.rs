//! The desk window (egui). Draws state and sends commands; never touches SQLite or the network
//! on the UI thread.
use std::path::PathBuf;

pub struct DeskOptions {
    pub workspace: PathBuf,
    pub screenshot: Option<PathBuf>,
}

pub fn run_desk(_o: DeskOptions) -> anyhow::Result<()> {
    Ok(())
}
