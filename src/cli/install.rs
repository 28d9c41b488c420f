//! What installing qcdesk needs from the binary itself: its version (with dicom-rs's), the
//! Conformance Statement's tables, the man pages and the shell completions (both generated
//! from the clap definitions, so they never lag the commands), and the receiver service's
//! settings file (`listen --config`, `/etc/qcdesk/qcdesk.toml` in the package).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::conformance;

/// `qcdesk --version`: ours and the dicom-rs we were built with.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (dicom-rs ",
    env!("QCDESK_DICOM_RS_VERSION"),
    ")"
);

pub fn conformance(check: Option<PathBuf>, update: Option<PathBuf>, json: bool) -> Result<()> {
    let read = |p: &Path| {
        std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))
    };
    if let Some(path) = check {
        let differ = conformance::differences(&read(&path)?);
        if !differ.is_empty() {
            bail!(
                "{} disagrees with the code in its generated tables: {} (run `qcdesk conformance --update {}`)",
                path.display(),
                differ.join(", "),
                path.display()
            );
        }
        eprintln!(
            "{}: every generated table agrees with the code",
            path.display()
        );
    } else if let Some(path) = update {
        let new = conformance::update(&read(&path)?)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
        crate::fsutil::write_atomic(dir.unwrap_or(Path::new(".")), &path, new.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
    } else if json {
        super::output::print_json(&conformance::tables())?;
    } else {
        for t in conformance::tables() {
            println!("### {}\n\n{}", t.title, conformance::markdown(&t));
        }
    }
    Ok(())
}

/// qcdesk.1 and qcdesk-COMMAND.1 for every command, into `dir`.
pub fn manpages(cmd: &clap::Command, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    clap_mangen::generate_to(cmd.clone(), dir)
        .with_context(|| format!("cannot write the man pages into {}", dir.display()))?;
    Ok(())
}

pub fn completions(mut cmd: clap::Command, shell: clap_complete::Shell) {
    clap_complete::generate(shell, &mut cmd, "qcdesk", &mut std::io::stdout());
}

/// The receiver service's settings file: `[listen]` (AE title, port) and optionally a
/// `[receiver]` table with the keys of a workspace's config.toml, which it then replaces.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServiceConfig {
    pub listen: ListenSection,
    pub receiver: Option<crate::receive::ReceiverConfig>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ListenSection {
    pub ae_title: Option<String>,
    pub port: Option<u16>,
}

pub fn service_config(path: &Path) -> Result<ServiceConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the settings file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("settings file {}", path.display()))
}
