//! The command line names studies as people do (an accession), refuses to send what is not
//! ready without --force, lists the dismissal reasons in its help, keeps `queue`'s columns
//! aligned whatever the script of the names, and says what to type next.

mod common;

use common::*;
use unicode_width::UnicodeWidthStr;

fn id_of_accession(ws: &std::path::Path, accession: &str) -> i64 {
    qcdesk_json(ws, &["queue", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["accession"] == accession)
        .unwrap_or_else(|| panic!("{accession} in the demo"))["id"]
        .as_i64()
        .unwrap()
}

#[test]
fn an_accession_names_a_study_in_show_fix_send_and_dismiss() {
    let ws = demo_workspace();
    let w = ws.path();
    let dubois = id_of_accession(w, "A240114");
    let show = qcdesk_json(w, &["show", "A240114", "--json"]);
    assert_eq!(show["id"], dubois);

    // KOVÁCS's study has no order: an accession names it for dismiss, then for show.
    let kovacs = id_of_accession(w, "A240112");
    let out = qcdesk(
        w,
        &["dismiss", "A240112", "--reason", "rule does not apply here"],
    );
    assert_eq!(out.status.code(), Some(1), "a false positive needs a note");
    assert!(stderr(&out).contains("--note"), "{}", stderr(&out));
    let done = qcdesk_json(
        w,
        &[
            "dismiss",
            "A240112",
            "--reason",
            "rule does not apply here",
            "--note",
            "paper order, RIS entry follows",
            "--json",
        ],
    );
    assert_eq!(done["dismissed"]["reason"], "rule does not apply here");
    let text = qcdesk(w, &["show", "A240112"]);
    let text = String::from_utf8_lossy(&text.stdout).to_string();
    assert!(
        text.contains(&format!("Study {kovacs}"))
            && text.contains("DISMISSED")
            && text.contains("rule does not apply here")
            && text.contains("paper order, RIS entry follows"),
        "show prints the dismissal:\n{text}"
    );

    // fix by accession.
    let fixed = qcdesk(w, &["fix", "A240114", "--order", "A240114", "--json"]);
    assert!(fixed.status.success(), "{}", stderr(&fixed));
    let show = qcdesk_json(w, &["show", &dubois.to_string(), "--json"]);
    assert_eq!(show["state"], "matched", "{show}");

    // send by accession: matched now, it goes without --force.
    let sent = qcdesk(w, &["send", "A240114", "--node", "demo-archive", "--json"]);
    assert!(sent.status.success(), "{}", stderr(&sent));
    let jobs: serde_json::Value = serde_json::from_slice(&sent.stdout).unwrap();
    assert_eq!(jobs[0]["study_instance_uid"], show["study_instance_uid"]);

    // An accession two studies share names neither: exit 2, listing both.
    let out = qcdesk(w, &["show", "A240127"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    let ids: Vec<String> = qcdesk_json(w, &["queue", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["accession"] == "A240127")
        .map(|r| r["id"].to_string())
        .collect();
    assert_eq!(ids.len(), 2);
    for id in &ids {
        assert!(err.contains(id.as_str()), "{err}");
    }
}

#[test]
fn send_refuses_a_broken_study_without_force_naming_the_file() {
    let ws = demo_workspace();
    let w = ws.path();
    let out = qcdesk(w, &["send", "A240121", "--node", "demo-archive"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("IM0010.dcm"), "names the cut file: {err}");
    assert!(err.contains("--force"), "{err}");
    let transfers = qcdesk_json(w, &["transfers", "--json"]);
    assert_eq!(transfers.as_array().unwrap().len(), 0, "nothing queued");

    let forced = qcdesk(
        w,
        &[
            "send",
            "A240121",
            "--node",
            "demo-archive",
            "--force",
            "--json",
        ],
    );
    assert!(forced.status.success(), "{}", stderr(&forced));
    let jobs: serde_json::Value = serde_json::from_slice(&forced.stdout).unwrap();
    assert_eq!(jobs[0]["caveat"], "1 truncated instance");
    let show = qcdesk(w, &["show", "A240121"]);
    assert!(
        String::from_utf8_lossy(&show.stdout).contains("1 truncated instance"),
        "show says what was sent"
    );
}

#[test]
fn dismiss_help_lists_the_reasons() {
    let ws = tempfile::tempdir().unwrap();
    let out = qcdesk(ws.path(), &["dismiss", "--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout).replace('\n', " ");
    let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
    for reason in qcdesk::store::DEFAULT_REASONS {
        assert!(help.contains(reason), "{reason} missing from: {help}");
    }
}

#[test]
fn queue_columns_stay_aligned_with_cjk_names_and_long_values() {
    let ws = demo_workspace();
    let out = qcdesk(ws.path(), &["queue"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let lines: Vec<&str> = text.lines().filter(|l| !l.ends_with("studies")).collect();
    assert!(
        lines.iter().any(|l| l.contains('洪')),
        "a CJK name is listed"
    );
    // The PATIENT ID column starts at the same display column on every line.
    let header = lines[0];
    let col = header.find("PATIENT ID").unwrap();
    let want = UnicodeWidthStr::width(&header[..col]);
    for l in &lines[1..] {
        let id_start = l
            .char_indices()
            .scan(0usize, |w, (i, c)| {
                let at = *w;
                *w += unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
                Some((i, at))
            })
            .find(|&(_, at)| at == want)
            .map(|(i, _)| i)
            .unwrap_or_else(|| panic!("no character starts at column {want}: {l}"));
        let rest = &l[id_start..];
        assert!(
            rest.starts_with(|c: char| c.is_ascii_digit()),
            "PATIENT ID misplaced: {l}"
        );
    }
}

#[test]
fn match_ends_with_the_command_that_applies_the_best_candidate() {
    let ws = demo_workspace();
    let out = qcdesk(ws.path(), &["match", "A240114"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let last = text.lines().last().unwrap();
    assert!(
        last.starts_with("Apply the best candidate: qcdesk fix ")
            && last.contains("--order A240114"),
        "{text}"
    );
    assert!(text.contains("% "), "likelihoods in percent: {text}");
}

#[test]
fn a_number_that_is_an_id_and_another_studys_accession_names_neither() {
    let ws = demo_workspace();
    let w = ws.path();
    let kovacs = id_of_accession(w, "A240112");
    let patel = id_of_accession(w, "A240121");
    // KOVÁCS's study gets PATEL's queue id as its accession.
    let out = qcdesk(
        w,
        &[
            "fix",
            &kovacs.to_string(),
            "--set",
            &format!("AccessionNumber={patel}"),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = qcdesk(w, &["show", &patel.to_string()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("{kovacs} (")) && err.contains(&format!("{patel} (")),
        "{err}"
    );
    // #ID is always the queue id.
    let show = qcdesk_json(w, &["show", &format!("#{patel}"), "--json"]);
    assert_eq!(show["id"], patel);
    // An empty name names nothing.
    let out = qcdesk(w, &["show", ""]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}
