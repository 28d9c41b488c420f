//! Exceptions resolved without change: a study dismissed with a reason from the site's list
//! (`[dismiss] reasons`) and free text leaves the open exceptions, is audited like a fix, and
//! can be reopened. Reports count dismissals as the false-positive share.

use std::collections::HashMap;

use rusqlite::{OptionalExtension, params};

use super::audit::{self, AuditNew};
use super::{Store, StoreError};
use crate::config::reason_needs_note;
use crate::fsutil;
use crate::model::{Dismissal, StudyState};

const CURRENT: &str = "SELECT study_id, reason, note, by, at FROM dismissals d
     WHERE reopened_at IS NULL AND id = (SELECT MAX(id) FROM dismissals d2 WHERE d2.study_id = d.study_id)";

fn dismissal(r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, Dismissal)> {
    Ok((
        r.get(0)?,
        Dismissal {
            reason: r.get(1)?,
            note: r.get(2)?,
            by: r.get(3)?,
            at: r.get(4)?,
        },
    ))
}

impl Store {
    /// The site's dismissal reasons.
    pub fn dismiss_reasons(&self) -> &[String] {
        &self.dismiss_config.reasons
    }

    /// Every study dismissed now, by id.
    pub fn dismissals(&self) -> Result<HashMap<i64, Dismissal>, StoreError> {
        let mut stmt = self.conn.prepare(CURRENT)?;
        let rows = stmt.query_map([], dismissal)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The study's dismissal, if it is dismissed now.
    pub fn dismissal_of(&self, study_id: i64) -> Result<Option<Dismissal>, StoreError> {
        Ok(self
            .conn
            .query_row(
                &format!("{CURRENT} AND d.study_id = ?1"),
                [study_id],
                dismissal,
            )
            .optional()?
            .map(|(_, d)| d))
    }

    /// Dismisses an open exception for one of the site's reasons (matched case-insensitively)
    /// with an optional note. `by` names who (the operator, else the OS user).
    pub fn dismiss(
        &mut self,
        study_id: i64,
        reason: &str,
        note: &str,
        os_user: &str,
        operator: &str,
    ) -> Result<Dismissal, StoreError> {
        let Some(reason) = self
            .dismiss_config
            .reasons
            .iter()
            .find(|r| r.eq_ignore_ascii_case(reason.trim()))
            .cloned()
        else {
            return Err(StoreError::Correction(format!(
                "'{reason}' is not one of this site's reasons to dismiss: {} ([dismiss] reasons in config.toml)",
                self.dismiss_config
                    .reasons
                    .iter()
                    .map(|r| format!("'{r}'"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        };
        if reason_needs_note(&reason) && note.trim().is_empty() {
            return Err(StoreError::Correction(format!(
                "'{reason}' needs a note saying why the rule does not apply (--note)"
            )));
        }
        let row = self.study_row(study_id)?;
        if row.state == StudyState::Matched {
            return Err(StoreError::Correction(format!(
                "study {study_id} is matched: it is not an exception to dismiss"
            )));
        }
        if let Some(d) = &row.dismissed {
            return Err(StoreError::Correction(format!(
                "study {study_id} was dismissed already ({}, by {} at {}); reopen it first",
                d.reason, d.by, d.at
            )));
        }
        let by = if operator.trim().is_empty() {
            os_user.to_string()
        } else {
            operator.trim().to_string()
        };
        let (now, unix) = fsutil::now();
        let study_uid = row.study_instance_uid.clone().unwrap_or_default();
        let note = note.trim().to_string();
        let actor = self.actor.clone();
        self.in_transaction(|tx| {
            super::claims::check_free(tx, study_id, &actor)?;
            tx.execute(
                "INSERT INTO dismissals (study_id, reason, note, by, at, at_unix)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![study_id, reason, note, by, now, unix],
            )?;
            record(
                tx,
                study_id,
                "dismiss",
                (&now, os_user, operator),
                &reason,
                &study_uid,
                serde_json::json!({"reason": reason, "note": note}),
            )
        })?;
        Ok(Dismissal {
            reason,
            note,
            by,
            at: now,
        })
    }

    /// Reopens a dismissed study: it is an open exception again.
    pub fn reopen(
        &mut self,
        study_id: i64,
        os_user: &str,
        operator: &str,
    ) -> Result<(), StoreError> {
        let row = self.study_row(study_id)?;
        let Some(d) = row.dismissed else {
            return Err(StoreError::Correction(format!(
                "study {study_id} is not dismissed"
            )));
        };
        let by = if operator.trim().is_empty() {
            os_user
        } else {
            operator
        };
        let (now, _) = fsutil::now();
        let study_uid = row.study_instance_uid.unwrap_or_default();
        let actor = self.actor.clone();
        self.in_transaction(|tx| {
            super::claims::check_free(tx, study_id, &actor)?;
            tx.execute(
                "UPDATE dismissals SET reopened_at = ?2, reopened_by = ?3
                 WHERE study_id = ?1 AND reopened_at IS NULL",
                params![study_id, now, by],
            )?;
            record(
                tx,
                study_id,
                "reopen",
                (&now, os_user, operator),
                "",
                &study_uid,
                serde_json::json!({"was_dismissed_for": d.reason, "at": d.at}),
            )
        })
    }
}

/// The correction row and audit entry of a dismissal or reopening.
fn record(
    tx: &rusqlite::Transaction<'_>,
    study_id: i64,
    action: &str,
    (now, os_user, operator): (&str, &str, &str),
    reason: &str,
    study_uid: &str,
    detail: serde_json::Value,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO corrections (study_id, at, action, os_user, operator, reason, origin)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            study_id,
            now,
            action,
            os_user,
            operator,
            reason,
            detail.to_string()
        ],
    )?;
    let id = tx.last_insert_rowid();
    let mut detail = detail;
    detail["correction"] = serde_json::json!(id);
    audit::append(
        tx,
        &AuditNew {
            at: now,
            os_user,
            operator,
            action,
            study_uid,
            detail: &detail,
        },
    )?;
    Ok(())
}
