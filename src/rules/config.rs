//! The site's settings for the rules, from the `[rules]` table of the workspace's
//! `config.toml`: which modalities count as the same for matching an order, and which are
//! ancillary (accompany images without being ordered).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RulesConfig {
    /// Groups of modalities a study may carry for an order of any one of them (a CR reader
    /// answering a DX order; the CT of a PET-CT).
    pub modality_equivalents: Vec<Vec<String>>,
    /// Modalities that never decide a modality mismatch (reports, presentation states,
    /// segmentations, structure sets, key objects...).
    pub ancillary_modalities: Vec<String>,
    /// What applying an order does with its Study Instance UID (`[reconcile] study_uid`):
    /// under `keep` a study with another UID than its order's is matched, with a note.
    #[serde(skip)]
    pub study_uid: crate::model::StudyUidPolicy,
}

impl Default for RulesConfig {
    fn default() -> Self {
        let groups: &[&[&str]] = &[
            &["CR", "DX", "DR"],
            &["PT", "CT"],
            &["PT", "MR"],
            &["MG", "DX"],
            &["NM", "CT"],
            &["XA", "RF"],
            &["IO", "DX"],
            &["PX", "DX"],
        ];
        RulesConfig {
            modality_equivalents: groups
                .iter()
                .map(|g| g.iter().map(|m| m.to_string()).collect())
                .collect(),
            ancillary_modalities: [
                "SR", "PR", "KO", "SEG", "RTSTRUCT", "RTPLAN", "RTDOSE", "RTRECORD", "REG", "FID",
                "RWV", "OT", "DOC", "AU", "PLAN",
            ]
            .iter()
            .map(|m| m.to_string())
            .collect(),
            study_uid: crate::model::StudyUidPolicy::default(),
        }
    }
}

impl RulesConfig {
    pub fn is_ancillary(&self, modality: &str) -> bool {
        self.ancillary_modalities
            .iter()
            .any(|m| m.eq_ignore_ascii_case(modality))
    }

    /// Whether a study of `acquired` answers an order for `ordered`: the same code, or both
    /// in one group of the equivalence table.
    pub fn equivalent(&self, acquired: &str, ordered: &str) -> bool {
        acquired.eq_ignore_ascii_case(ordered)
            || self.modality_equivalents.iter().any(|g| {
                g.iter().any(|m| m.eq_ignore_ascii_case(acquired))
                    && g.iter().any(|m| m.eq_ignore_ascii_case(ordered))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_toml() {
        let c = RulesConfig::default();
        assert!(c.equivalent("CR", "DX"));
        assert!(c.equivalent("CT", "PT"));
        assert!(!c.equivalent("CT", "MR"));
        assert!(!c.equivalent("CR", "MG"), "not transitive through DX");
        assert!(c.is_ancillary("SEG"));
        let c: RulesConfig = toml::from_str(
            r#"modality_equivalents = [["US", "IVUS"]]
               ancillary_modalities = ["SR"]"#,
        )
        .unwrap();
        assert!(c.equivalent("IVUS", "US"));
        assert!(!c.equivalent("CR", "DX"));
        assert!(!c.is_ancillary("KO"));
        assert!(toml::from_str::<RulesConfig>("modalities = 1").is_err());
    }
}
