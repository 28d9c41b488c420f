//! Whether a study is fit to leave for the archive as it is: what is wrong with it in words
//! (broken files by name, conflicting copies, no matched order, a dismissal), the site's
//! policy for sending it anyway, and the caveat a job then carries ("1 truncated instance")
//! so that its state never reads as a plain success. The desk asks with these words; the
//! command line refuses without `--force`.

use crate::model::{StudyDetail, StudyState};
use crate::rules::category;

pub use crate::config::UnmatchedSends;

/// One thing wrong with a study about to be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendRisk {
    /// Files that cannot be read whole or lack what an archive needs: (file, what is wrong,
    /// the finding's code).
    BrokenFiles(Vec<(String, String, String)>),
    /// Instances received again with different content: which copy is right is undecided.
    Conflicts(u32),
    /// The study is not matched to an order (its state says how).
    NotMatched(StudyState),
}

/// What is wrong with a study before it is sent; empty when it is matched and whole.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Readiness {
    pub risks: Vec<SendRisk>,
    /// The study's dismissal reason, when dismissed (said, not a risk in itself).
    pub dismissed: Option<String>,
}

impl Readiness {
    pub fn of(d: &StudyDetail) -> Readiness {
        let r = &d.row;
        let mut risks = Vec::new();
        let broken: Vec<(String, String, String)> = r
            .findings
            .iter()
            .filter(|f| category(&f.code) == Some(StudyState::Broken))
            .map(|f| {
                (
                    f.file.clone().unwrap_or_else(|| "(the study)".to_string()),
                    f.message.clone(),
                    f.code.clone(),
                )
            })
            .collect();
        if !broken.is_empty() {
            risks.push(SendRisk::BrokenFiles(broken));
        }
        let conflicts: u32 = d
            .series_list
            .iter()
            .flat_map(|s| &s.instances)
            .map(|i| i.conflicts)
            .sum();
        if conflicts > 0 {
            risks.push(SendRisk::Conflicts(conflicts));
        }
        if r.state != StudyState::Matched {
            risks.push(SendRisk::NotMatched(r.state));
        }
        Readiness {
            risks,
            dismissed: r.dismissed.as_ref().map(|d| d.reason.clone()),
        }
    }

    /// Nothing to ask about.
    pub fn is_clear(&self) -> bool {
        self.risks.is_empty()
    }

    /// What is wrong, a sentence per risk, for the question or the refusal.
    pub fn describe(&self) -> Vec<String> {
        let mut out = Vec::new();
        for risk in &self.risks {
            match risk {
                SendRisk::BrokenFiles(files) => {
                    for (file, message, _) in files {
                        out.push(format!("broken file {file}: {message}"));
                    }
                }
                SendRisk::Conflicts(n) => out.push(format!(
                    "{n} instance{} received again with different content (conflicting copies not resolved)",
                    plural(*n as usize)
                )),
                SendRisk::NotMatched(state) => out.push(match &self.dismissed {
                    Some(reason) => format!("the study is {state}, dismissed as \"{reason}\""),
                    None => format!("the study is {state}: not matched to an order"),
                }),
            }
        }
        out
    }

    /// What a job sent anyway carries beside its state ("1 truncated instance, unmatched");
    /// empty when clear.
    pub fn caveat(&self) -> String {
        let mut parts = Vec::new();
        let has_broken_files = self
            .risks
            .iter()
            .any(|r| matches!(r, SendRisk::BrokenFiles(_)));
        for risk in &self.risks {
            match risk {
                SendRisk::BrokenFiles(files) => {
                    let n = files.len();
                    let word = if files.iter().all(|(_, _, c)| c == "truncated") {
                        "truncated"
                    } else {
                        "broken"
                    };
                    parts.push(format!("{n} {word} instance{}", plural(n)));
                }
                SendRisk::Conflicts(n) => parts.push(format!(
                    "{n} conflicting cop{}",
                    if *n == 1 { "y" } else { "ies" }
                )),
                // A broken study's broken files say it already.
                SendRisk::NotMatched(StudyState::Broken) if has_broken_files => {}
                SendRisk::NotMatched(state) => parts.push(format!("sent {state}")),
            }
        }
        parts.join(", ")
    }

    /// Refuses under the site's policy: `Err` with the reason when sending is forbidden, or
    /// when it needs a confirmation that was not given (`force`).
    pub fn check(&self, policy: UnmatchedSends, force: bool) -> Result<(), String> {
        if self.is_clear() {
            return Ok(());
        }
        let what = self.describe().join("; ");
        match (policy, force) {
            (UnmatchedSends::Forbid, _) => Err(format!(
                "this site does not send studies that are not matched and whole ([send] unmatched = \"forbid\"): {what}"
            )),
            (UnmatchedSends::Ask, false) => Err(format!(
                "not sent: {what}. Fix or dismiss it first, or send it as it is with --force"
            )),
            (UnmatchedSends::Ask, true) => Ok(()),
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Finding;

    fn detail(state: StudyState, findings: Vec<Finding>) -> StudyDetail {
        let mut d = StudyDetail::default();
        d.row.state = state;
        d.row.findings = findings;
        d
    }

    #[test]
    fn a_matched_whole_study_is_clear() {
        let r = Readiness::of(&detail(StudyState::Matched, vec![]));
        assert!(r.is_clear());
        assert_eq!(r.caveat(), "");
        assert!(r.check(UnmatchedSends::Forbid, false).is_ok());
    }

    #[test]
    fn a_truncated_file_is_named_and_carried() {
        let r = Readiness::of(&detail(
            StudyState::Broken,
            vec![Finding {
                code: "truncated".into(),
                message: "pixel data cut short".into(),
                file: Some("/cd/IM0003".into()),
            }],
        ));
        let said = r.describe().join("\n");
        assert!(said.contains("/cd/IM0003"), "{said}");
        assert!(said.contains("broken"), "{said}");
        assert_eq!(r.caveat(), "1 truncated instance");
        let refused = r.check(UnmatchedSends::Ask, false).unwrap_err();
        assert!(refused.contains("--force"), "{refused}");
        assert!(r.check(UnmatchedSends::Ask, true).is_ok());
        assert!(r.check(UnmatchedSends::Forbid, true).is_err());
    }
}
