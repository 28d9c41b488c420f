//! Realistic cases with their expected ranking.

use super::*;

fn study() -> MatchFacts {
    MatchFacts {
        patient_name: "MÜLLER^JÜRGEN".into(),
        patient_id: "1004711".into(),
        issuer_of_patient_id: "RGH".into(),
        birth_date: "19650304".into(),
        sex: "M".into(),
        accession: String::new(),
        modalities: "CT".into(),
        source_ae: "CT01".into(),
        study_date: "20261128".into(),
        study_time: "101500".into(),
        description: "CT Thorax".into(),
    }
}

fn order(accession: &str, name: &str, pid: &str, birth: &str, at: &str) -> WorklistItem {
    WorklistItem {
        accession: accession.into(),
        patient_name: name.into(),
        patient_id: pid.into(),
        issuer_of_patient_id: "RGH".into(),
        birth_date: birth.into(),
        sex: "M".into(),
        modality: "CT".into(),
        station_ae: "CT01".into(),
        scheduled_at: at.into(),
        procedure: "CT Thorax with contrast".into(),
        ..WorklistItem::default()
    }
}

fn first(r: &Ranking) -> &str {
    &r.candidates[0].accession
}

#[test]
fn the_right_order_comes_first_with_its_reasons() {
    let orders = vec![
        order(
            "A1",
            "SCHMIDT^ANNA",
            "1004999",
            "19800101",
            "20261128100000",
        ),
        order(
            "A2",
            "MUELLER^JUERGEN",
            "1004711",
            "19650304",
            "20261120090000",
        ),
        order(
            "A3",
            "MÜLLER^JÜRGEN",
            "1004711",
            "19650304",
            "20261128100000",
        ),
    ];
    let r = rank(&study(), &orders, 10, &MatchConfig::default());
    assert_eq!(first(&r), "A3", "{r:#?}");
    assert_eq!(
        r.candidates[1].accession, "A2",
        "the same patient's older order next"
    );
    assert!(
        r.candidates.iter().all(|c| c.accession != "A1"),
        "a stranger is not a candidate"
    );
    let reasons: Vec<&str> = r.candidates[0].reasons.iter().map(|x| x.factor).collect();
    for f in [
        "patient_id",
        "family_name",
        "given_name",
        "birth_date",
        "sex",
        "modality",
        "station",
    ] {
        assert!(reasons.contains(&f), "{f} in {reasons:?}");
    }
}

#[test]
fn accession_decides_and_auto_matches_when_clear() {
    let s = MatchFacts {
        accession: "A240122".into(),
        ..study()
    };
    let orders = vec![
        order(
            "A240122",
            "MÜLLER^JÜRGEN",
            "1004711",
            "19650304",
            "20261128100000",
        ),
        order(
            "A240199",
            "MÜLLER^JÜRGEN",
            "1004711",
            "19650304",
            "20261128140000",
        ),
    ];
    let r = rank(&s, &orders, 10, &MatchConfig::default());
    assert_eq!(first(&r), "A240122");
    assert_eq!(r.auto_match.as_deref(), Some("A240122"));
    assert!(!r.candidates[0].ambiguous);
}

#[test]
fn reversed_accented_and_misspelt_names_still_match() {
    for (name, why) in [
        ("JÜRGEN^MÜLLER", "given-name field"),
        ("MULLER^JURGEN", "accents"),
        ("MÜLER^JÜRGEN", "one letter"),
        ("MUELLER^JUERGEN", "umlauts"),
    ] {
        let orders = vec![
            order("X", name, "1004711", "19650304", "20261128100000"),
            order("Y", "KOVACS^PETER", "1004712", "19700101", "20261128100000"),
        ];
        let r = rank(&study(), &orders, 10, &MatchConfig::default());
        assert_eq!(first(&r), "X", "{name}");
        let n = r.candidates[0]
            .reasons
            .iter()
            .find(|x| x.factor == "family_name")
            .unwrap();
        assert!(n.weight > 0.0 && n.detail.contains(why), "{name}: {n:?}");
    }
}

#[test]
fn day_and_month_swapped_is_named_and_still_ranks() {
    let orders = vec![order(
        "D",
        "MÜLLER^JÜRGEN",
        "1004711",
        "19650403",
        "20261128100000",
    )];
    let r = rank(&study(), &orders, 10, &MatchConfig::default());
    let b = r.candidates[0]
        .reasons
        .iter()
        .find(|x| x.factor == "birth_date")
        .unwrap();
    assert!(b.detail.contains("day and month swapped"), "{b:?}");
    assert!(b.weight > 0.0);
}

#[test]
fn twins_and_same_day_orders_are_flagged_not_auto_matched() {
    // Twins: one birth date, one family name, the study's given name in neither order.
    let s = MatchFacts {
        patient_name: "HANSEN^".into(),
        patient_id: String::new(),
        ..study()
    };
    let orders = vec![
        order("T1", "HANSEN^OLE", "2001", "19650304", "20261128100000"),
        order("T2", "HANSEN^PER", "2002", "19650304", "20261128101500"),
    ];
    let r = rank(&s, &orders, 10, &MatchConfig::default());
    assert!(
        r.candidates.len() == 2 && r.candidates.iter().all(|c| c.ambiguous),
        "{r:#?}"
    );
    assert_eq!(r.auto_match, None);
    // One patient with two orders the same day: both fit; the time decides nothing alone.
    let orders = vec![
        order(
            "S1",
            "MÜLLER^JÜRGEN",
            "1004711",
            "19650304",
            "20261128100000",
        ),
        order(
            "S2",
            "MÜLLER^JÜRGEN",
            "1004711",
            "19650304",
            "20261128103000",
        ),
    ];
    let r = rank(&study(), &orders, 10, &MatchConfig::default());
    assert!(
        r.candidates[0].ambiguous && r.candidates[1].ambiguous,
        "{r:#?}"
    );
    assert_eq!(r.auto_match, None);
}

#[test]
fn a_different_patient_id_outweighs_a_similar_name() {
    let orders = vec![
        order(
            "P1",
            "MÜLLER^JÜRGEN",
            "9999999",
            "19650304",
            "20261128100000",
        ),
        order(
            "P2",
            "MULLER^JURGEN",
            "1004711",
            "19650304",
            "20261128100000",
        ),
    ];
    let r = rank(&study(), &orders, 10, &MatchConfig::default());
    assert_eq!(first(&r), "P2", "{r:#?}");
}

#[test]
fn vanished_orders_are_not_candidates() {
    let mut gone = order(
        "V",
        "MÜLLER^JÜRGEN",
        "1004711",
        "19650304",
        "20261128100000",
    );
    gone.vanished_at = Some("2026-11-28T12:00:00Z".into());
    assert!(
        rank(&study(), &[gone], 10, &MatchConfig::default())
            .candidates
            .is_empty()
    );
}
