//! The synthetic department: patients, modalities and the studies of a few days, each with
//! the exception it plants (or none).

use crate::model::StudyState;

pub struct Patient {
    pub id: &'static str,
    pub name: &'static str,
    pub birth_date: &'static str,
    pub sex: &'static str,
}

/// Names cover Latin-1 accents and CJK (Japanese, Chinese, Korean ideographic groups).
pub const PATIENTS: &[Patient] = &[
    Patient {
        id: "1004521",
        name: "MÜLLER^JÜRGEN",
        birth_date: "19580312",
        sex: "M",
    },
    Patient {
        id: "1004533",
        name: "GARCÍA LÓPEZ^MARÍA JOSÉ",
        birth_date: "19720821",
        sex: "F",
    },
    Patient {
        id: "1004547",
        name: "YAMADA^TAROU=山田^太郎=やまだ^たろう",
        birth_date: "19650105",
        sex: "M",
    },
    Patient {
        id: "1004552",
        name: "WANG^FANG=王^芳",
        birth_date: "19890617",
        sex: "F",
    },
    Patient {
        id: "1004568",
        name: "O'BRIEN^SEAN",
        birth_date: "19450930",
        sex: "M",
    },
    Patient {
        id: "1004570",
        name: "NGUYEN^THI LAN",
        birth_date: "19911202",
        sex: "F",
    },
    Patient {
        id: "1004589",
        name: "SMITH^JOHN^A",
        birth_date: "19600415",
        sex: "M",
    },
    Patient {
        id: "1004591",
        name: "ØDEGÅRD^ÅSE",
        birth_date: "19770228",
        sex: "F",
    },
    Patient {
        id: "1004603",
        name: "KOVÁCS^PÉTER",
        birth_date: "19830719",
        sex: "M",
    },
    Patient {
        id: "1004614",
        name: "DUBOIS^CÉLINE",
        birth_date: "19950506",
        sex: "F",
    },
    Patient {
        id: "1004625",
        name: "HONG^GILDONG=洪^吉洞=홍^길동",
        birth_date: "19700808",
        sex: "M",
    },
    Patient {
        id: "1004636",
        name: "ROSSI^GIULIA",
        birth_date: "20010311",
        sex: "F",
    },
    Patient {
        id: "1004647",
        name: "SCHNEIDER^ANNA",
        birth_date: "19520120",
        sex: "F",
    },
    Patient {
        id: "1004658",
        name: "BROWN^MICHAEL",
        birth_date: "19681111",
        sex: "M",
    },
    Patient {
        id: "1004669",
        name: "FERNANDES^JOÃO",
        birth_date: "19870303",
        sex: "M",
    },
    Patient {
        id: "1004670",
        name: "TANAKA^HANAKO=田中^花子=たなか^はなこ",
        birth_date: "19930722",
        sex: "F",
    },
    Patient {
        id: "1004681",
        name: "JOHANSSON^ERIK",
        birth_date: "19490101",
        sex: "M",
    },
    Patient {
        id: "1004692",
        name: "ANDERSEN^METTE",
        birth_date: "19810914",
        sex: "F",
    },
    Patient {
        id: "1004703",
        name: "PATEL^PRIYA",
        birth_date: "19760630",
        sex: "F",
    },
    Patient {
        id: "1004714",
        name: "KEANE^ROISIN",
        birth_date: "19990419",
        sex: "F",
    },
    Patient {
        id: "1004725",
        name: "KÖNIG^JÖRG",
        birth_date: "19800614",
        sex: "M",
    },
    Patient {
        id: "1004736",
        name: "SATO^KENJI=佐藤^健二=さとう^けんじ",
        birth_date: "19750203",
        sex: "M",
    },
    Patient {
        id: "1004747",
        name: "LEFÈVRE^ANAÏS",
        birth_date: "19880912",
        sex: "F",
    },
    Patient {
        id: "1004758",
        name: "ROSSI^MARCO",
        birth_date: "19550101",
        sex: "M",
    },
];

/// The patient whose Patient ID the console picked for ROSSI^MARCO (same surname).
pub const CONFLICT_ID_OF: usize = 11;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Modality {
    Ct,
    Mr,
    Cr,
    Us,
}

impl Modality {
    pub fn code(self) -> &'static str {
        match self {
            Modality::Ct => "CT",
            Modality::Mr => "MR",
            Modality::Cr => "CR",
            Modality::Us => "US",
        }
    }
    /// The station's AE title (also the folder its files land in).
    pub fn station_ae(self) -> &'static str {
        match self {
            Modality::Ct => "CT_SOMATOM1",
            Modality::Mr => "MR_AERA1",
            Modality::Cr => "CR_FCR2",
            Modality::Us => "US_LOGIQ3",
        }
    }
    pub fn station_name(self) -> &'static str {
        match self {
            Modality::Ct => "CTROOM1",
            Modality::Mr => "MRROOM1",
            Modality::Cr => "XRAY2",
            Modality::Us => "US3",
        }
    }
    pub fn manufacturer(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Modality::Ct => ("SIEMENS", "SOMATOM Definition AS", "syngo CT VA48A"),
            Modality::Mr => ("SIEMENS", "Aera", "syngo MR E11"),
            Modality::Cr => ("FUJIFILM Corporation", "FCR CAPSULA XLII", "A09-01"),
            Modality::Us => ("GE Healthcare", "LOGIQ E10", "R3.1.2"),
        }
    }
    /// (series description, images) of each series the protocol acquires.
    pub fn series(self) -> &'static [(&'static str, usize)] {
        match self {
            Modality::Ct => &[("Thorax 5mm", 10), ("Scout", 1)],
            Modality::Mr => &[("t2_tse_tra", 6), ("t2_tse_tra FS", 6)],
            Modality::Cr => &[("Chest PA", 1), ("Chest LAT", 1)],
            Modality::Us => &[("Abdomen", 4)],
        }
    }
}

/// The exception a study carries into the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plant {
    Clean,
    /// The RIS has no order for the accession the modality sent.
    NoOrder,
    /// Emergency scan without accession number.
    NoAccession,
    /// Digits of the Patient ID transposed at the console.
    WrongPatientId,
    /// Umlauts typed as ASCII transliteration.
    MisspelledName,
    /// Day and month swapped.
    WrongBirthDate,
    /// Ordered as a CT, done as a plain chest film on the CR reader.
    WrongModality,
    /// The second series was acquired under another patient.
    MixedPatient,
    /// The second series carries a second accession number.
    TwoAccessions,
    /// A second file reuses the first file's SOP Instance UID with other pixels.
    DuplicateSop,
    /// A file cut short in transfer.
    Truncated,
    /// A file without SOP Instance UID.
    MissingSopUid,
    /// Study Date written as YYYY-MM-DD.
    BadDate,
    /// An image without Pixel Data.
    NoPixelData,
    /// A file whose data set is damaged mid-way.
    Corrupt,
    /// A router re-sent the whole study: the same data sets under its own file meta group.
    ResentByRouter,
    /// An archive copy of the study in another transfer syntax came back too.
    TranscodedCopy,
    /// The station writes ASCII only: accents dropped from the name.
    AsciiName,
    /// The scout series was filed under a Study Instance UID of its own.
    SplitStudy,
    /// The console generated its own Study Instance UID instead of the worklist's.
    StudyUidMismatch,
    /// The console picked another patient's ID (same surname) for this patient.
    PatientConflict,
    /// Accented names written as Latin-1 bytes with no Specific Character Set.
    UndeclaredCharset,
    /// The partner of a patient conflict: a correct study whose Patient ID another study
    /// uses for someone else.
    ConflictPartner,
}

impl Plant {
    /// The state and the finding code this plant must produce.
    pub fn expected(self) -> (StudyState, Option<&'static str>) {
        use StudyState::*;
        match self {
            Plant::Clean => (Matched, None),
            Plant::NoOrder => (Unmatched, Some("no_order")),
            Plant::NoAccession => (Unmatched, Some("no_accession")),
            Plant::WrongPatientId => (Mismatch, Some("patient_id_mismatch")),
            Plant::MisspelledName => (Mismatch, Some("patient_name_mismatch")),
            Plant::WrongBirthDate => (Mismatch, Some("birth_date_mismatch")),
            Plant::WrongModality => (Mismatch, Some("modality_mismatch")),
            Plant::MixedPatient => (Inconsistent, Some("mixed_patient")),
            Plant::TwoAccessions => (Inconsistent, Some("multiple_accessions")),
            Plant::DuplicateSop => (Inconsistent, Some("duplicate_sop_uid")),
            Plant::Truncated => (Broken, Some("truncated")),
            Plant::MissingSopUid => (Broken, Some("missing_uid")),
            Plant::BadDate => (Nonconformant, Some("bad_value")),
            Plant::NoPixelData => (Broken, Some("missing_pixel_data")),
            Plant::Corrupt => (Broken, Some("unreadable")),
            Plant::ResentByRouter => (Matched, None),
            Plant::TranscodedCopy => (Matched, Some("format_note")),
            Plant::AsciiName => (Matched, Some("name_variant")),
            Plant::SplitStudy => (Inconsistent, Some("split_study")),
            // A note under the default `[reconcile] study_uid = "keep"`.
            Plant::StudyUidMismatch => (Matched, Some("study_uid_differs")),
            Plant::PatientConflict => (Inconsistent, Some("patient_conflict")),
            Plant::UndeclaredCharset => (Nonconformant, Some("undeclared_charset")),
            Plant::ConflictPartner => (Inconsistent, Some("patient_conflict")),
        }
    }
}

pub struct PlannedStudy {
    pub label: &'static str,
    pub patient: usize,
    pub modality: Modality,
    pub procedure: &'static str,
    pub days_ago: u32,
    pub time: &'static str,
    pub plant: Plant,
}

const fn p(
    label: &'static str,
    patient: usize,
    modality: Modality,
    procedure: &'static str,
    days_ago: u32,
    time: &'static str,
    plant: Plant,
) -> PlannedStudy {
    PlannedStudy {
        label,
        patient,
        modality,
        procedure,
        days_ago,
        time,
        plant,
    }
}

use Modality::*;

pub const STUDIES: &[PlannedStudy] = &[
    p(
        "ct-thorax-mueller",
        0,
        Ct,
        "CT Thorax with contrast",
        2,
        "081502",
        Plant::Clean,
    ),
    p(
        "mr-head-garcia",
        1,
        Mr,
        "MRI Head without contrast",
        2,
        "093011",
        Plant::ResentByRouter,
    ),
    p(
        "cr-chest-yamada",
        2,
        Cr,
        "XR Chest 2 views",
        2,
        "101544",
        Plant::Clean,
    ),
    p(
        "us-abdomen-wang",
        3,
        Us,
        "US Abdomen complete",
        2,
        "112030",
        Plant::Clean,
    ),
    p(
        "ct-thorax-obrien",
        4,
        Ct,
        "CT Thorax low dose",
        1,
        "074510",
        Plant::Clean,
    ),
    p(
        "cr-chest-nguyen",
        5,
        Cr,
        "XR Chest 2 views",
        1,
        "083322",
        Plant::Clean,
    ),
    p(
        "mr-head-smith",
        6,
        Mr,
        "MRI Head without contrast",
        1,
        "091205",
        Plant::Clean,
    ),
    p(
        "us-abdomen-odegard",
        7,
        Us,
        "US Abdomen complete",
        1,
        "101010",
        Plant::TranscodedCopy,
    ),
    p(
        "ct-thorax-hong",
        10,
        Ct,
        "CT Thorax with contrast",
        1,
        "113000",
        Plant::Clean,
    ),
    p(
        "cr-chest-rossi",
        11,
        Cr,
        "XR Chest 2 views",
        0,
        "071512",
        Plant::ConflictPartner,
    ),
    p(
        "mr-head-tanaka",
        15,
        Mr,
        "MRI Head without contrast",
        0,
        "080144",
        Plant::Clean,
    ),
    p(
        "ct-thorax-andersen",
        17,
        Ct,
        "CT Thorax with contrast",
        0,
        "084020",
        Plant::Clean,
    ),
    p(
        "cr-chest-noorder-kovacs",
        8,
        Cr,
        "XR Chest 2 views",
        1,
        "140312",
        Plant::NoOrder,
    ),
    p(
        "ct-trauma-noaccession-keane",
        19,
        Ct,
        "CT Thorax trauma",
        0,
        "031544",
        Plant::NoAccession,
    ),
    p(
        "mr-head-wrongid-dubois",
        9,
        Mr,
        "MRI Head without contrast",
        1,
        "150000",
        Plant::WrongPatientId,
    ),
    p(
        "ct-thorax-misspelled-koenig",
        20,
        Ct,
        "CT Thorax follow-up",
        0,
        "090507",
        Plant::MisspelledName,
    ),
    p(
        "us-abdomen-wrongbirth-sato",
        21,
        Us,
        "US Abdomen complete",
        0,
        "094512",
        Plant::WrongBirthDate,
    ),
    p(
        "cr-chest-wrongmodality-schneider",
        12,
        Cr,
        "XR Chest 2 views",
        0,
        "100101",
        Plant::WrongModality,
    ),
    p(
        "mr-head-mixedpatient-brown",
        13,
        Mr,
        "MRI Head without contrast",
        1,
        "161230",
        Plant::MixedPatient,
    ),
    p(
        "ct-thorax-twoaccessions-fernandes",
        14,
        Ct,
        "CT Thorax with contrast",
        1,
        "170505",
        Plant::TwoAccessions,
    ),
    p(
        "us-abdomen-duplicatesop-johansson",
        16,
        Us,
        "US Abdomen complete",
        0,
        "103030",
        Plant::DuplicateSop,
    ),
    p(
        "ct-thorax-truncated-patel",
        18,
        Ct,
        "CT Thorax with contrast",
        0,
        "104500",
        Plant::Truncated,
    ),
    p(
        "cr-chest-nosopuid-smith",
        6,
        Cr,
        "XR Chest 2 views",
        0,
        "110012",
        Plant::MissingSopUid,
    ),
    p(
        "mr-head-baddate-nguyen",
        5,
        Mr,
        "MRI Head without contrast",
        0,
        "111500",
        Plant::BadDate,
    ),
    p(
        "us-abdomen-nopixels-rossi",
        11,
        Us,
        "US Abdomen complete",
        0,
        "113344",
        Plant::NoPixelData,
    ),
    p(
        "ct-thorax-corrupt-wang",
        3,
        Ct,
        "CT Thorax with contrast",
        0,
        "120101",
        Plant::Corrupt,
    ),
    p(
        "cr-chest-ascii-odegard",
        7,
        Cr,
        "XR Chest 2 views",
        2,
        "141500",
        Plant::AsciiName,
    ),
    p(
        "ct-thorax-split-obrien",
        4,
        Ct,
        "CT Thorax with contrast",
        2,
        "151000",
        Plant::SplitStudy,
    ),
    p(
        "mr-head-studyuid-andersen",
        17,
        Mr,
        "MRI Head without contrast",
        1,
        "121500",
        Plant::StudyUidMismatch,
    ),
    p(
        "us-abdomen-patientconflict-rossi",
        23,
        Us,
        "US Abdomen complete",
        1,
        "133000",
        Plant::PatientConflict,
    ),
    p(
        "ct-thorax-noscs-lefevre",
        22,
        Ct,
        "CT Thorax low dose",
        0,
        "061500",
        Plant::UndeclaredCharset,
    ),
];

/// Orders the RIS has that no study has arrived for yet (scheduled later today and tomorrow).
pub const FUTURE_ORDERS: &[(usize, Modality, &str, u32, &str)] = &[
    (12, Mr, "MRI Head without contrast", 0, "150000"),
    (13, Ct, "CT Thorax with contrast", 0, "153000"),
    (14, Us, "US Abdomen complete", 0, "160000"),
    (19, Cr, "XR Chest 2 views", 0, "163000"),
    (16, Ct, "CT Thorax low dose", 1, "080000"),
    (17, Mr, "MRI Head without contrast", 1, "090000"),
];
