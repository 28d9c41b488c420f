//! Plain data types shared by the core, the CLI and the UI: studies, findings, worklist items.
//! No I/O here; everything is serde-able so the CLI can print it as JSON.

use serde::{Deserialize, Serialize};

/// Where a study stands in the exception queue. Ordered from most to least severe:
/// a study takes the most severe state any of its findings implies.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum StudyState {
    /// A file cannot be read or lacks what every archive needs (UIDs, pixel data, valid values).
    Broken,
    /// The study contradicts itself or other studies (two patients, two accessions, one SOP
    /// Instance UID with two contents or in two studies, a split study, one Patient ID for two
    /// people).
    Inconsistent,
    /// An order exists for the accession, but demographics, modality or Study UID differ.
    Mismatch,
    /// Values that break their format (a date as YYYY-MM-DD, a bad code string, text in an
    /// undeclared or wrong character set): archives often take them, but they should be fixed.
    Nonconformant,
    /// No order in the worklist cache for the study's accession.
    #[default]
    Unmatched,
    /// The study agrees with its order.
    Matched,
}

impl StudyState {
    pub const ALL: [StudyState; 6] = [
        StudyState::Broken,
        StudyState::Inconsistent,
        StudyState::Mismatch,
        StudyState::Nonconformant,
        StudyState::Unmatched,
        StudyState::Matched,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StudyState::Broken => "broken",
            StudyState::Inconsistent => "inconsistent",
            StudyState::Mismatch => "mismatch",
            StudyState::Nonconformant => "nonconformant",
            StudyState::Unmatched => "unmatched",
            StudyState::Matched => "matched",
        }
    }

    pub fn parse(s: &str) -> Option<StudyState> {
        StudyState::ALL
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(s.trim()))
    }

    /// Whether the study needs a person's attention.
    pub fn is_exception(self) -> bool {
        self != StudyState::Matched
    }
}

impl std::fmt::Display for StudyState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem (or note) found about a study. `code` is stable and documented in docs/cli.md.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub code: String,
    pub message: String,
    /// Original path of the file the finding is about, when it is about one file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

/// Where a send of a study to an archive stands (a send job's state).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SendState {
    Queued,
    Sending,
    /// Sent; the archive's proof of arrival awaited.
    Verifying,
    /// Sent, and the archive offers no way to prove it arrived.
    Sent,
    /// Every instance proven by Storage Commitment or a query.
    Verified,
    Failed,
    Cancelled,
}

impl SendState {
    pub const ALL: [SendState; 7] = [
        SendState::Queued,
        SendState::Sending,
        SendState::Verifying,
        SendState::Sent,
        SendState::Verified,
        SendState::Failed,
        SendState::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SendState::Queued => "queued",
            SendState::Sending => "sending",
            SendState::Verifying => "verifying",
            SendState::Sent => "sent",
            SendState::Verified => "verified",
            SendState::Failed => "failed",
            SendState::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<SendState> {
        SendState::ALL.into_iter().find(|v| v.as_str() == s.trim())
    }

    /// Nothing more will happen to the job by itself.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            SendState::Verified | SendState::Sent | SendState::Failed | SendState::Cancelled
        )
    }
}

impl std::fmt::Display for SendState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A row of the exception queue: one study with the values shown in the table.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StudyRow {
    pub id: i64,
    pub study_instance_uid: Option<String>,
    pub state: StudyState,
    pub patient_name: String,
    pub patient_id: String,
    pub accession: String,
    pub modality: String,
    pub study_date: String,
    pub study_description: String,
    pub series: u32,
    pub instances: u32,
    pub files: u32,
    /// Calling AE of the sender, or the folder the files were imported from.
    pub source: String,
    /// Station Name (0008,1010) of its files.
    #[serde(default)]
    pub station_name: String,
    /// When the study first arrived (UTC, RFC 3339).
    pub first_seen: String,
    /// Unix seconds of `first_seen`, for computing age without parsing.
    #[serde(skip)]
    pub first_seen_unix: i64,
    pub findings: Vec<Finding>,
    /// Where its latest resubmission stands: queued, sending, verifying, sent, verified,
    /// failed, cancelled (None: never sent).
    pub send_state: Option<SendState>,
    /// What was wrong with what the latest send carried ("1 truncated instance"), when the
    /// user sent it anyway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_caveat: Option<String>,
    /// The stored file (blob hash) whose picture stands for the study in the queue: the middle
    /// image of its largest series with pixel data.
    #[serde(skip)]
    pub thumbnail: Option<String>,
    /// Resolved without change (and not reopened since): why, by whom, when.
    #[serde(default)]
    pub dismissed: Option<Dismissal>,
    /// The order the background matching found most likely, for a study not matched yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub likely_order: Option<LikelyOrder>,
    /// Who is handling the study now (a claim not yet expired); all null when nobody is.
    #[serde(flatten, default)]
    pub claim: ClaimInfo,
}

/// A study's claim as the queue and `show` print it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimInfo {
    /// "alice at ws-12" (the operator's name first when one was given).
    pub claimed_by: Option<String>,
    /// When the claim was taken (UTC, RFC 3339).
    pub claimed_since: Option<String>,
    /// When it lapses unless renewed (UTC, RFC 3339).
    pub claimed_until: Option<String>,
    /// The holder, for telling one's own claim from another's.
    #[serde(skip)]
    pub holder: Option<Claim>,
}

/// Who acts on the workspace: an Associate at a desk, on the command line, or the service.
/// A claim is held by one actor; its user and host say who, its session which process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// The account: the OS user on the embedded workspace.
    pub user: String,
    /// The name given with `--operator` or at the desk when an account is shared.
    pub operator: String,
    pub host: String,
    /// One per process; every command-line process of a user on a host shares
    /// [`Actor::COMMAND_LINE`] for claims taken with `qcdesk claim`.
    pub session: String,
    pub kind: ActorKind,
}

impl Actor {
    /// The session of claims taken with `qcdesk claim`: any command of that user on that host
    /// may act under it.
    pub const COMMAND_LINE: &'static str = "command line";

    /// The name shown to others: "alice at ws-12", "Dr Ray (alice) at ws-12".
    pub fn display(&self) -> String {
        holder_name(&self.user, &self.operator, &self.host)
    }

    /// Who holds a job lease, as refusals name it: "alice at ws-3 (desk)".
    pub fn lease_label(&self) -> String {
        format!("{} ({})", self.display(), self.kind.as_str())
    }
}

fn holder_name(user: &str, operator: &str, host: &str) -> String {
    let who = if operator.trim().is_empty() || operator == user {
        user.to_string()
    } else {
        format!("{operator} ({user})")
    };
    if host.is_empty() {
        who
    } else {
        format!("{who} at {host}")
    }
}

/// What kind of process an actor is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    Desk,
    CommandLine,
    Service,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::Desk => "desk",
            ActorKind::CommandLine => "command_line",
            ActorKind::Service => "service",
        }
    }

    pub fn parse(s: &str) -> Option<ActorKind> {
        [ActorKind::Desk, ActorKind::CommandLine, ActorKind::Service]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// A study being handled: who holds it, since when, until when (a lease, renewed while the
/// holder works on it; expired, it is nobody's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    pub study: i64,
    pub user: String,
    pub operator: String,
    pub host: String,
    pub session: String,
    pub kind: ActorKind,
    pub since_unix: i64,
    pub until_unix: i64,
    /// New each time the claim is taken: what its keeper renews and gives back, so a keeper
    /// of an earlier claim on the study never touches a later one.
    #[serde(skip)]
    pub token: String,
}

impl Claim {
    pub fn display(&self) -> String {
        holder_name(&self.user, &self.operator, &self.host)
    }

    /// The person alone (the operator's name when given, else the account): for a queue cell.
    pub fn person(&self) -> &str {
        if self.operator.trim().is_empty() {
            &self.user
        } else {
            &self.operator
        }
    }

    /// Whether `actor` holds it: the same process, or a command of the same user on the same
    /// host under a claim taken with `qcdesk claim`.
    pub fn held_by(&self, actor: &Actor) -> bool {
        self.user == actor.user
            && self.host == actor.host
            && (self.session == actor.session
                || (self.session == Actor::COMMAND_LINE && actor.kind == ActorKind::CommandLine))
    }

    pub fn info(&self) -> ClaimInfo {
        ClaimInfo {
            claimed_by: Some(self.display()),
            claimed_since: Some(rfc3339(self.since_unix)),
            claimed_until: Some(rfc3339(self.until_unix)),
            holder: Some(self.clone()),
        }
    }
}

pub use crate::fsutil::rfc3339;

/// The most likely order of a study not matched yet, as the background matching proposed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LikelyOrder {
    pub accession: String,
    /// Probability in percent.
    pub score: i32,
    /// Clear enough to apply without doubt (it is still applied only by the Associate).
    pub clear: bool,
    /// Other candidates as likely (twins, same-day orders): the Associate decides.
    pub others: u32,
}

/// An exception resolved without change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dismissal {
    /// One of the site's reasons (`[dismiss] reasons`).
    pub reason: String,
    /// Free text beside it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
    pub by: String,
    pub at: String,
}

impl StudyRow {
    /// One line summing up the findings, for the queue table.
    pub fn finding_summary(&self) -> String {
        match self.findings.len() {
            0 => String::new(),
            1 => self.findings[0].message.clone(),
            n => format!("{} (+{} more)", self.findings[0].message, n - 1),
        }
    }
}

/// One instance as shown in the study detail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceRow {
    pub id: i64,
    pub sop_instance_uid: Option<String>,
    pub sop_class_uid: String,
    pub sop_class_name: String,
    pub instance_number: String,
    pub transfer_syntax: String,
    /// The current version holds pixel data.
    pub has_pixel_data: bool,
    /// Number of Frames (1 for a single image, 0 without pixel data).
    pub frames: u32,
    /// Content hash of the current version's bytes.
    pub blob: String,
    pub size: u64,
    pub original_path: String,
    /// Number of versions (1 = only the original).
    pub versions: u32,
    /// Rejected (IHE IOCM): left out of the rules and of sending.
    #[serde(default)]
    pub rejected: bool,
    /// Copies received with the same SOP Instance UID and different attribute values.
    pub conflicts: u32,
    /// Copies received with the same attributes in another encoding.
    pub variants: u32,
    /// Hash of the data set (without the file meta group): what identifies the content.
    pub dataset_hash: String,
    /// Every distinct file received for this instance: the original, re-wrapped duplicates,
    /// encoding variants and conflicting copies.
    pub copies: Vec<CopyRow>,
    /// Every arrival of this instance, duplicates included, oldest first.
    pub receipts: Vec<Receipt>,
}

/// How a received file relates to the instance it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CopyRole {
    /// The first content received: the instance's original version.
    Original,
    /// The same data set in another file (another meta group).
    Duplicate,
    /// The same attributes in another encoding (transfer syntax, lengths, character set).
    Variant,
    /// Other attribute values under the same SOP Instance UID.
    Conflict,
}

impl CopyRole {
    pub fn as_str(self) -> &'static str {
        match self {
            CopyRole::Original => "original",
            CopyRole::Duplicate => "duplicate",
            CopyRole::Variant => "variant",
            CopyRole::Conflict => "conflict",
        }
    }

    pub fn parse(s: &str) -> Option<CopyRole> {
        [
            CopyRole::Original,
            CopyRole::Duplicate,
            CopyRole::Variant,
            CopyRole::Conflict,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }
}

/// One distinct file received for an instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CopyRow {
    pub blob: String,
    pub role: CopyRole,
    pub transfer_syntax: String,
    pub size: u64,
    pub original_path: String,
    /// For a conflict: the attributes that differ from the original.
    pub differences: Vec<AttrDiff>,
    /// For a variant: how its encoding differs.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub note: String,
}

/// One attribute whose value differs between the copy held and a copy received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttrDiff {
    /// Keyword, with the sequence path for nested ones ("PatientID",
    /// "ReferencedImageSequence[1].ReferencedSOPInstanceUID").
    pub attribute: String,
    pub held: String,
    pub received: String,
}

impl std::fmt::Display for AttrDiff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} vs {}", self.attribute, self.held, self.received)
    }
}

/// Where a receipt came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// A file or folder import.
    Folder,
    /// A file listed by a DICOMDIR (CD/DVD media).
    Dicomdir,
    /// A C-STORE from a network peer.
    Network,
    /// Made by qcdesk itself (an IOCM rejection note).
    Created,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Folder => "folder",
            SourceKind::Dicomdir => "dicomdir",
            SourceKind::Network => "network",
            SourceKind::Created => "created",
        }
    }

    pub fn parse(s: &str) -> Option<SourceKind> {
        [
            SourceKind::Folder,
            SourceKind::Dicomdir,
            SourceKind::Network,
            SourceKind::Created,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// One arrival of a file. Network receipts carry their association.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Receipt {
    /// When it arrived (UTC, RFC 3339).
    pub received_at: String,
    pub source_kind: SourceKind,
    /// The folder imported from, or the calling AE title.
    pub source: String,
    /// The path read (imports).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calling_ae: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub called_ae: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer_address: Option<String>,
    /// Content hash of the file as received.
    pub blob: String,
}

/// One series as shown in the study detail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesRow {
    pub id: i64,
    pub series_instance_uid: Option<String>,
    pub modality: String,
    pub series_number: String,
    pub description: String,
    pub instances: Vec<InstanceRow>,
}

impl SeriesRow {
    /// The images to show for the series: its first and middle instance with pixel data (one
    /// when they are the same).
    pub fn representatives(&self) -> Vec<&InstanceRow> {
        let images: Vec<&InstanceRow> =
            self.instances.iter().filter(|i| i.has_pixel_data).collect();
        match images.len() {
            0 => Vec::new(),
            1 | 2 => images[..1].to_vec(),
            n => vec![images[0], images[(n - 1) / 2]],
        }
    }

    /// Instance numbers the series skips: (received, expected, missing numbers), when the
    /// numbers are all readable and some between 1 and the highest are absent.
    pub fn gaps(&self) -> Option<(usize, u64, Vec<u64>)> {
        let mut numbers: Vec<u64> = self
            .instances
            .iter()
            .map(|i| i.instance_number.trim().parse::<u64>().ok())
            .collect::<Option<_>>()?;
        numbers.sort_unstable();
        numbers.dedup();
        let highest = *numbers.last()?;
        // Numbering starts at 1 (0 from some modalities); anything far beyond the count is a
        // numbering scheme, not missing images.
        let first = if numbers[0] == 0 { 0 } else { 1 };
        let expected = highest - first + 1;
        if expected as usize == numbers.len() || expected > 100_000 {
            return None;
        }
        let missing = (first..=highest)
            .filter(|n| numbers.binary_search(n).is_err())
            .collect();
        Some((numbers.len(), expected, missing))
    }
}

/// `missing` as short ranges: `2, 5–9, 12`.
pub fn number_ranges(missing: &[u64]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < missing.len() {
        let mut j = i;
        while j + 1 < missing.len() && missing[j + 1] == missing[j] + 1 {
            j += 1;
        }
        parts.push(if i == j {
            missing[i].to_string()
        } else {
            format!("{}–{}", missing[i], missing[j])
        });
        i = j + 1;
    }
    parts.join(", ")
}

/// Everything the detail panel and `qcdesk show` need about one study.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StudyDetail {
    #[serde(flatten)]
    pub row: StudyRow,
    pub patient_birth_date: String,
    pub patient_sex: String,
    pub issuer_of_patient_id: String,
    pub study_time: String,
    pub referring_physician: String,
    pub institution: String,
    /// The same as `row.station_name`, which is the one serialized (flattened, a second key
    /// of that name would repeat it).
    #[serde(skip)]
    pub station_name: String,
    pub series_list: Vec<SeriesRow>,
    /// The worklist orders with the study's accession, each compared with the study field by
    /// field (by the rules: the desk draws exactly these verdicts). Best match first.
    pub orders: Vec<OrderComparison>,
    /// Where the instances of a study that holds none went (a merge, a move, an order whose
    /// Study UID it took), newest last; empty while it holds instances.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub moved_to: Vec<MovedTo>,
}

/// Instances that left a study, and where to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MovedTo {
    pub study: i64,
    pub study_instance_uid: String,
    pub instances: u64,
    pub correction: i64,
    /// `order`, `move` or `merge`.
    pub action: String,
    pub at: String,
}

/// How one field of a study compares with its order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The same value.
    Match,
    /// Not the same text but the same meaning (accents or case of a name, an equivalent
    /// modality); noted, not an exception.
    Equivalent,
    /// Different: an exception.
    Mismatch,
    /// Not compared (the order or the study has no value).
    NotCompared,
}

/// One field of the study beside the order's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldComparison {
    pub field: String,
    pub study: String,
    pub order: String,
    pub verdict: Verdict,
    /// Why the verdict, in words.
    pub why: String,
    /// The finding code a mismatch raises.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

/// The study against one order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderComparison {
    pub order: WorklistItem,
    pub fields: Vec<FieldComparison>,
}

impl OrderComparison {
    pub fn mismatches(&self) -> usize {
        self.fields
            .iter()
            .filter(|f| f.verdict == Verdict::Mismatch)
            .count()
    }
}

/// A scheduled order from the RIS worklist cache.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WorklistItem {
    pub accession: String,
    /// Issuer of Accession Number (local namespace), when the RIS gives one.
    #[serde(default)]
    pub issuer_of_accession: String,
    pub requested_procedure_id: String,
    pub sps_id: String,
    pub patient_name: String,
    pub patient_id: String,
    pub issuer_of_patient_id: String,
    pub birth_date: String,
    pub sex: String,
    pub modality: String,
    pub station_ae: String,
    /// Scheduled start, DICOM DA+TM (YYYYMMDDHHMMSS) as the RIS gave it.
    pub scheduled_at: String,
    pub procedure: String,
    pub study_instance_uid: String,
    /// Where the entry came from: a node name (`ris`, `demo-ris`), `csv:<file>`, `hl7:<file>`.
    pub source: String,
    /// Other Patient IDs (Other Patient IDs Sequence), `ID^^^ISSUER` joined by `\\`.
    #[serde(default)]
    pub other_patient_ids: String,
    /// Requested Procedure Code Sequence, first item: `CODE^SCHEME^MEANING`.
    #[serde(default)]
    pub procedure_code: String,
    #[serde(default)]
    pub referring_physician: String,
    #[serde(default)]
    pub requesting_physician: String,
    #[serde(default)]
    pub admission_id: String,
    /// Scheduled Procedure Step Description.
    #[serde(default)]
    pub step_description: String,
    /// Scheduled Protocol Code Sequence, first item: `CODE^SCHEME^MEANING`.
    #[serde(default)]
    pub protocol_code: String,
    /// When the cache first and last saw the item at its source (UTC, RFC 3339).
    #[serde(default)]
    pub first_seen: String,
    #[serde(default)]
    pub last_seen: String,
    /// When the source stopped listing the item (null while it is listed), and how that was
    /// learnt. A vanished order still explains the studies matched to it.
    #[serde(default)]
    pub vanished_at: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub vanished_why: String,
}

impl WorklistItem {
    /// The identity of an item at its source: accession, requested procedure and step IDs
    /// (with the Study UID or patient when the accession is empty); items lacking all three
    /// are told apart by Study Instance UID, else by patient and time.
    pub fn key(&self) -> String {
        // Spaces only (DICOM padding), as the schema 4 upgrade's SQL trims.
        let t = |s: &str| s.trim_matches(' ').to_string();
        let (acc, rp, sps) = (
            t(&self.accession),
            t(&self.requested_procedure_id),
            t(&self.sps_id),
        );
        let (uid, pid) = (t(&self.study_instance_uid), t(&self.patient_id));
        if acc.is_empty() && rp.is_empty() && sps.is_empty() {
            return if uid.is_empty() {
                format!("pid:{pid}\\{}", t(&self.scheduled_at))
            } else {
                format!("uid:{uid}")
            };
        }
        // A step ID is unique within its requested procedure, which is unique within its
        // accession; without an accession the patient (or study) tells orders apart.
        let base = format!("{acc}\\{rp}\\{sps}");
        match (acc.is_empty(), uid.is_empty()) {
            (false, _) => base,
            (true, false) => format!("{base}\\uid:{uid}"),
            (true, true) => format!("{base}\\pid:{pid}"),
        }
    }

    /// The scheduled date (YYYYMMDD), if the start is given.
    pub fn scheduled_date(&self) -> &str {
        self.scheduled_at.get(..8).unwrap_or("")
    }
}

/// What a DICOM node is to qcdesk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeRole {
    /// Where corrected studies are sent.
    #[default]
    Archive,
    /// The RIS's Modality Worklist SCP.
    Ris,
    /// A modality or router that sends to qcdesk.
    Source,
}

impl NodeRole {
    pub const ALL: [NodeRole; 3] = [NodeRole::Archive, NodeRole::Ris, NodeRole::Source];

    pub fn as_str(self) -> &'static str {
        match self {
            NodeRole::Archive => "archive",
            NodeRole::Ris => "ris",
            NodeRole::Source => "source",
        }
    }

    pub fn parse(s: &str) -> Option<NodeRole> {
        NodeRole::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

/// A configured DICOM node.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DicomNode {
    pub name: String,
    pub ae_title: String,
    pub host: String,
    pub port: u16,
    pub role: NodeRole,
    pub tls: bool,
    /// The AE title qcdesk calls this node with; empty: the workspace's own AE title.
    pub calling_ae: String,
    /// Set for a peer qcdesk runs itself (`demo-ris`: the demo's worklist SCP, started on a
    /// loopback port of its own whenever the node is used).
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub embedded: String,
    /// PEM files of a TLS node: the CA its certificate must chain to, and the certificate and
    /// key qcdesk presents to it (both optional).
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub tls_ca: String,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub tls_cert: String,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub tls_key: String,
}

impl DicomNode {
    /// `AET@HOST:PORT`.
    pub fn address(&self) -> String {
        format!("{}@{}:{}", self.ae_title, self.host, self.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(numbers: &[&str], pixels: &[bool]) -> SeriesRow {
        SeriesRow {
            id: 1,
            series_instance_uid: None,
            modality: "CT".into(),
            series_number: "1".into(),
            description: String::new(),
            instances: numbers
                .iter()
                .zip(pixels)
                .enumerate()
                .map(|(k, (n, &p))| InstanceRow {
                    id: k as i64,
                    sop_instance_uid: None,
                    sop_class_uid: String::new(),
                    sop_class_name: String::new(),
                    instance_number: n.to_string(),
                    transfer_syntax: String::new(),
                    has_pixel_data: p,
                    frames: u32::from(p),
                    blob: format!("b{k}"),
                    size: 0,
                    original_path: String::new(),
                    versions: 1,
                    rejected: false,
                    conflicts: 0,
                    variants: 0,
                    dataset_hash: String::new(),
                    copies: Vec::new(),
                    receipts: Vec::new(),
                })
                .collect(),
        }
    }

    #[test]
    fn worklist_keys_tell_orders_apart() {
        let o = |acc: &str, rp: &str, sps: &str, pid: &str| WorklistItem {
            accession: acc.into(),
            requested_procedure_id: rp.into(),
            sps_id: sps.into(),
            patient_id: pid.into(),
            ..WorklistItem::default()
        };
        // Step "1" of two requested procedures of one accession.
        assert_ne!(
            o("A1", "RP1", "1", "P").key(),
            o("A1", "RP2", "1", "P").key()
        );
        // Step "1" of two patients' orders without an accession.
        assert_ne!(o("", "", "1", "P1").key(), o("", "", "1", "P2").key());
        assert_eq!(
            o("A1 ", "RP1", "1", "P").key(),
            o("A1", "RP1", "1", "Q").key()
        );
    }

    #[test]
    fn gaps_name_the_missing_instance_numbers() {
        let s = series(&["1", "2", "4", "8"], &[true; 4]);
        assert_eq!(s.gaps(), Some((4, 8, vec![3, 5, 6, 7])));
        assert_eq!(number_ranges(&[3, 5, 6, 7]), "3, 5–7");
        assert_eq!(series(&["1", "2", "3"], &[true; 3]).gaps(), None);
        assert_eq!(series(&["0", "1", "2"], &[true; 3]).gaps(), None);
        // A second half of a split series: the first ones are missing here.
        assert_eq!(
            series(&["3", "4"], &[true; 2]).gaps(),
            Some((2, 4, vec![1, 2]))
        );
        // Unreadable or absent numbers tell nothing.
        assert_eq!(series(&["1", "", "5"], &[true; 3]).gaps(), None);
    }

    #[test]
    fn representatives_are_the_first_and_middle_image() {
        let s = series(&["1", "2", "3", "4", "5"], &[false, true, true, true, true]);
        let blobs: Vec<&str> = s
            .representatives()
            .iter()
            .map(|i| i.blob.as_str())
            .collect();
        assert_eq!(blobs, ["b1", "b2"]);
        let one = series(&["1"], &[true]);
        assert_eq!(one.representatives().len(), 1);
        assert!(series(&["1"], &[false]).representatives().is_empty());
    }
}

/// `[queue]` in `config.toml`: when an open exception counts as old.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueueConfig {
    /// Hours after which an open exception is marked amber.
    pub amber_hours: u64,
    /// Hours after which it is marked red.
    pub red_hours: u64,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            amber_hours: 4,
            red_hours: 24,
        }
    }
}

/// How long an open exception has waited, against the site's marks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Urgency {
    Fresh,
    /// Past `amber_hours`.
    Old,
    /// Past `red_hours`.
    Overdue,
}

impl QueueConfig {
    /// The urgency of a study `age_seconds` old in `state` (a matched or dismissed study
    /// waits for nobody).
    pub fn urgency(&self, state: StudyState, dismissed: bool, age_seconds: i64) -> Urgency {
        if state == StudyState::Matched || dismissed {
            return Urgency::Fresh;
        }
        let hours = age_seconds.max(0) as u64 / 3600;
        if hours >= self.red_hours {
            Urgency::Overdue
        } else if hours >= self.amber_hours {
            Urgency::Old
        } else {
            Urgency::Fresh
        }
    }
}

/// What `fix --order` does with the order's Study Instance UID when the study has another.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StudyUidPolicy {
    /// The study keeps its own Study Instance UID (the archive may hold it already); the
    /// difference is a note, not a finding to act on.
    #[default]
    Keep,
    /// The study takes the order's (its instances move to that study, as `move` does); until
    /// then the difference is a mismatch.
    Take,
}

/// An instance the note rejects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedRef {
    pub sop_class_uid: String,
    pub sop_instance_uid: String,
    pub series_uid: String,
    pub is_image: bool,
}

/// A commitment transaction: the instances asked about (a request), or the answer (a report).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitResult {
    pub transaction_uid: String,
    /// (SOP Class UID, SOP Instance UID) held safely (in a request: those asked about).
    pub committed: Vec<(String, String)>,
    /// (SOP Class UID, SOP Instance UID, Failure Reason).
    pub failed: Vec<(String, String, u16)>,
}

/// A file to render and the name its PNG is given (without position or extension).
#[derive(Debug, Clone)]
pub struct ThumbInput {
    pub path: std::path::PathBuf,
    pub name: String,
}

impl ThumbInput {
    /// Named after the file (`IM0001.dcm` -> `IM0001`).
    pub fn from_path(path: std::path::PathBuf) -> Self {
        let file = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let name = file.strip_suffix(".dcm").unwrap_or(&file).to_string();
        ThumbInput { path, name }
    }
}

/// How the per-group table is grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    #[default]
    Modality,
    Station,
    Source,
    /// Implementation Version Name of the files.
    Version,
    /// Finding code (a study counts under each of its codes).
    Code,
}

impl GroupBy {
    pub const ALL: [GroupBy; 5] = [
        GroupBy::Modality,
        GroupBy::Station,
        GroupBy::Source,
        GroupBy::Version,
        GroupBy::Code,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            GroupBy::Modality => "modality",
            GroupBy::Station => "station",
            GroupBy::Source => "source",
            GroupBy::Version => "version",
            GroupBy::Code => "code",
        }
    }

    pub fn parse(s: &str) -> Option<GroupBy> {
        GroupBy::ALL.into_iter().find(|g| g.as_str() == s.trim())
    }
}
