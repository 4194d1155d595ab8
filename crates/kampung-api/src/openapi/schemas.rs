//! Descriptions of other crates' types as this API serialises them (the
//! domain crates do not depend on utoipa). Only for the OpenAPI document:
//! each mirrors the serde form of its namesake exactly, and the tests check
//! real values against it.

use std::borrow::Cow;

use serde::Serialize;
use serde_json::json;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

/// A calendar date, `YYYY-MM-DD` (as `time::Date` serialises to JSON).
#[derive(Debug, Serialize)]
pub struct Date;

impl PartialSchema for Date {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::Date,
            )))
            .description(Some("a calendar date, YYYY-MM-DD"))
            .examples([json!("1985-03-12")])
            .into()
    }
}

impl ToSchema for Date {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Date")
    }
}

/// Sex as on the KTP: `L` (laki-laki) or `P` (perempuan).
#[derive(Debug, Serialize, ToSchema)]
pub enum Sex {
    L,
    P,
}

/// A record's status without its details.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StatusKind {
    Active,
    MovedOut,
    Deceased,
}

/// Address inside the village.
#[derive(Debug, Serialize, ToSchema)]
pub struct Address {
    /// Hamlet.
    pub dusun: String,
    /// Neighbourhood (Rukun Tetangga).
    pub rt: u16,
    /// Ward (Rukun Warga).
    pub rw: u16,
}

/// Where the record stands.
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Status {
    Active,
    MovedOut {
        /// Where to, e.g. `Kota Surabaya`.
        destination: String,
        /// The day of moving, if known (absent when not).
        date: Option<Date>,
    },
    Deceased {
        /// Date of death, if known.
        date: Option<Date>,
    },
}

/// One resident of one village.
#[derive(Debug, Serialize, ToSchema)]
pub struct Resident {
    /// 16 digits.
    #[schema(pattern = "^[0-9]{16}$", example = "3510155203850001")]
    pub nik: String,
    pub full_name: String,
    pub sex: Sex,
    pub birth_date: Date,
    /// Family card number (No. KK), 16 digits, shared by a household.
    pub family_card: String,
    pub address: Address,
    /// `35.10.DD.VVVV`, one of Banyuwangi's 217 villages.
    #[schema(example = "35.10.15.2012")]
    pub village: String,
    pub status: Status,
    /// When the record was last written, ms since the Unix epoch (set by the
    /// node that wrote it).
    pub updated_at_ms: i64,
}

/// Where a NIK was issued.
#[derive(Debug, Serialize, ToSchema)]
pub struct IssuedIn {
    pub province_code: u8,
    pub province_name: String,
    /// `PPKK`, e.g. 3510.
    pub regency_code: u16,
    pub regency_name: String,
    pub district_code: u8,
    /// Known only for Banyuwangi's own districts.
    pub district_name: Option<String>,
}

/// The rule a NIK breaks (`rule`), with its details.
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum NikError {
    Empty,
    NotADigit {
        ch: String,
        position: usize,
    },
    Length {
        found: usize,
    },
    UnknownProvince {
        code: u8,
    },
    RegencyOutOfRange {
        code: u8,
    },
    UnknownRegency {
        province: u8,
        regency: u8,
        province_name: String,
    },
    BadDay {
        day: u8,
    },
    BadMonth {
        month: u8,
    },
    ImpossibleDate {
        day: u8,
        month: u8,
        year: i32,
    },
    SerialZero,
}

/// Something odd about a NIK that does not make it invalid (`warning`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "warning", rename_all = "snake_case")]
pub enum NikWarning {
    UnknownDistrict { regency: u16, district: u8 },
    BirthDateDiffers { nik: Date, registry: Date },
    SexDiffers { nik: Sex, registry: Sex },
}

/// The answer about one NIK; `verdict` says which kind.
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// An active record in one of the villages.
    Resident {
        village: String,
        village_name: String,
        district_name: String,
        full_name: String,
        warnings: Vec<NikWarning>,
    },
    /// The record says the person moved away.
    MovedOut {
        village: String,
        village_name: String,
        full_name: String,
        destination: String,
    },
    /// The record says the person died: their KTP at a border is an alert.
    Deceased {
        village: String,
        village_name: String,
        full_name: String,
    },
    /// Not in the registry; where the NIK was issued.
    NonResident {
        issued_in: IssuedIn,
        warnings: Vec<NikWarning>,
    },
    /// The NIK breaks a rule.
    Invalid { error: NikError, reason: String },
}

/// One connected peer.
#[derive(Debug, Serialize, ToSchema)]
pub struct PeerInfo {
    pub peer_id: String,
    /// Showed a valid certificate (always true in an open mesh).
    pub admitted: bool,
    /// What the peer says it is (`village:35.10.15.2012`, `checkpoint:ketapang`, `auditor`).
    pub role: Option<String>,
    pub addresses: Vec<String>,
    pub connected_for_secs: u64,
    /// Unix milliseconds of the last completed anti-entropy session.
    pub last_sync_ms: Option<u64>,
    pub in_sync: Option<bool>,
    /// How far the peer's clock is ahead of this node's (ms; negative:
    /// behind), once measured at a roster exchange.
    pub clock_offset_ms: Option<i64>,
    /// The software and version the peer runs, as it said in its hello
    /// (`kampung 0.1.0 (1a2b3c4d5e6f 2026-12-02)`).
    pub software: Option<String>,
}

/// A peer this node refused lately.
#[derive(Debug, Serialize, ToSchema)]
pub struct RefusedPeer {
    pub peer_id: String,
    /// Unix milliseconds of the latest refusal.
    pub at_ms: i64,
    /// Why, as logged (for another wire protocol version: both versions).
    pub reason: String,
}

/// Mesh counters since the node started.
#[derive(Debug, Serialize, ToSchema)]
pub struct Counters {
    pub announces_sent: u64,
    pub announces_received: u64,
    pub announces_dropped: u64,
    pub sessions_ok: u64,
    pub sessions_failed: u64,
    pub changes_received: u64,
    pub documents_received: u64,
    pub bytes_received: u64,
    pub requests_served: u64,
    pub requests_busy: u64,
    /// Requests for a document the peer's certificate does not let it read
    /// (refused; each also a peer fault, the peer disconnected).
    pub requests_beyond_scope: u64,
    pub peer_faults: u64,
    /// Documents whose received changes wait for a signature in force (a
    /// writer signed with a wrong clock): not applied yet, nobody's fault.
    pub changes_deferred: u64,
    /// Changes or documents from peers that our store refused to apply.
    pub changes_rejected: u64,
    /// Peers disconnected for having no valid certificate (or a revoked one).
    pub peers_refused: u64,
    /// Peers disconnected to make room: the node held more than twice the peers it dials.
    pub peers_trimmed: u64,
    /// Connections established, dialled or accepted.
    pub connections_opened: u64,
    /// Requests refused because the peer had not shown a certificate.
    pub requests_unadmitted: u64,
    pub sync_bytes_read: u64,
    pub sync_bytes_written: u64,
    pub gossip_bytes_received: u64,
}

/// A snapshot of the mesh.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeshStatus {
    pub peer_id: String,
    pub role: String,
    pub listen: Vec<String>,
    pub peers: Vec<PeerInfo>,
    /// Document -> unix milliseconds we last heard from its owner.
    pub owner_heard_ms: std::collections::BTreeMap<String, u64>,
    pub sessions_running: usize,
    /// Peers refused lately, newest first (at most 20).
    pub refused: Vec<RefusedPeer>,
    pub counters: Counters,
    /// Bootstrap addresses and the wait before the next redial (ms): it
    /// doubles up to a minute, and starts again only once a sync session
    /// with a peer there succeeds.
    pub bootstrap: Vec<BootstrapState>,
}

/// One bootstrap address.
#[derive(Debug, Serialize, ToSchema)]
pub struct BootstrapState {
    pub address: String,
    pub backoff_ms: u64,
}

/// The isolation pledge signed by the family member who picks a person up.
#[derive(Debug, Serialize, ToSchema)]
pub struct Pledge {
    /// Full name of the family member who signed.
    #[schema(example = "Siti Aminah")]
    pub picked_up_by: String,
    /// Relation to the person, e.g. `mother`.
    #[schema(example = "mother")]
    pub relation: String,
    /// Digits, `+`, spaces or dashes; at least 6 digits.
    #[schema(example = "+62 812-3456-7890")]
    pub phone: String,
}

/// Where a person under isolation is held (`kind`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Place {
    /// The regency's facility, GOR Tawangalun.
    Gor,
    /// A village's isolation house.
    VillageHouse {
        /// `35.10.DD.VVVV`.
        village: String,
    },
    /// Self-isolation at home.
    Home { address: String },
    /// Picked up by family who signed an isolation pledge.
    FamilyPickup { pledge: Pledge },
}

/// An isolation case open on a NIK.
#[derive(Debug, Serialize, ToSchema)]
pub struct OpenCase {
    /// 16 lowercase hex digits.
    pub case_id: String,
    pub place: Place,
}

/// The heads of one document a verdict was computed from (to replay it).
#[derive(Debug, Serialize, ToSchema)]
pub struct DocHeads {
    /// `v/35.10.15.2012` (a village), `c/<case id>` (an isolation case).
    pub doc: String,
    /// Change hashes, lowercase hex.
    pub heads: Vec<String>,
}

/// What a checkpoint answers about a KTP; `verdict` says which kind.
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum CheckVerdict {
    /// An active record in one of the villages.
    Resident {
        village: String,
        village_name: String,
        district_name: String,
        full_name: String,
        /// How old our copy of the village's document is, in ms; null if we
        /// never heard from the village's node.
        copy_age_ms: Option<u64>,
        warnings: Vec<NikWarning>,
    },
    /// An open isolation case, resident or not: send the person back to it.
    ResidentUnderIsolation {
        case_id: String,
        place: Place,
        full_name: Option<String>,
        /// The village of an active record, if any.
        village: Option<String>,
    },
    /// The record says the person moved away: now a non-resident.
    MovedOut {
        village: String,
        village_name: String,
        full_name: String,
        destination: String,
        copy_age_ms: Option<u64>,
        /// Days of isolation the policy requires (0: none).
        isolation_days: u32,
    },
    /// The record says the person died: their KTP at a border is an alert.
    Deceased {
        village: String,
        village_name: String,
        full_name: String,
        copy_age_ms: Option<u64>,
        open_case: Option<OpenCase>,
    },
    /// Not in the registry: where the NIK was issued and what the policy requires.
    NonResident {
        issued_in: IssuedIn,
        /// Days of isolation the policy requires (0: none).
        isolation_days: u32,
        warnings: Vec<NikWarning>,
    },
    /// Not an active resident, and the NIK was issued in a region the policy bars: turn back.
    Barred {
        issued_in: IssuedIn,
        /// The barred region: a province (`51`) or a regency (`35.09`).
        region: String,
        region_name: String,
    },
    /// The NIK breaks a rule.
    Invalid { error: NikError, reason: String },
}

/// What a daily follow-up found.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    SeenOk,
    SeenNotOk,
    Missed,
    NotAttempted,
}

/// The kind of node that wrote to a case.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CaseRole {
    Checkpoint,
    Facility,
    Village,
}

/// One field of a record that a write would change.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldChange {
    /// The CSV column: `full_name`, `sex`, `birth_date`, `family_card`,
    /// `dusun`, `rt`, `rw`, `status`.
    #[schema(example = "full_name")]
    pub field: String,
    pub old: String,
    pub new: String,
}

/// A record a write would change, and how.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangedRecord {
    pub old: Resident,
    pub new: Resident,
    pub fields: Vec<FieldChange>,
}

/// What writing records would do, before anything is written.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportPreview {
    /// Records that would be added.
    pub added: Vec<Resident>,
    /// Records that would change, field by field.
    pub changed: Vec<ChangedRecord>,
    /// How many records already say what the write says.
    pub unchanged: usize,
    /// Records the write would refuse (it writes nothing while any is).
    pub refused: Vec<kampung_node::RecordRefusal>,
}

/// What a change did to a record.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecordEventKind {
    Added,
    Corrected,
    MovedOut,
    Deceased,
    Withdrawn,
}

/// One change to a person's record.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordEvent {
    #[schema(example = "35.10.15.2012")]
    pub village: String,
    /// The Automerge change's hash (hex).
    pub change: String,
    /// When, by the writer's clock (unix seconds).
    pub at_s: i64,
    pub kind: RecordEventKind,
    /// The writing node's peer id (or its actor in hex, if it is no node key).
    pub node: String,
    /// From the node's certificate, if the roster has one: `village`,
    /// `checkpoint`, `facility`, `auditor`.
    pub node_role: Option<String>,
    pub node_label: Option<String>,
    /// The person signed in at that node, as the change names them.
    pub person_id: Option<String>,
    pub person: Option<String>,
    /// Why, where the change says (a withdrawal's reason).
    pub reason: Option<String>,
    /// The fields the change set (empty old: a new record; empty new: withdrawn).
    pub fields: Vec<FieldChange>,
    /// Covered by a valid signature of its node, allowed to write that
    /// village's document then.
    pub verified: bool,
}

/// Every change to one NIK's records, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordTimeline {
    pub nik: String,
    /// The village documents read.
    #[schema(example = json!(["35.10.15.2012"]))]
    pub villages: Vec<String>,
    pub events: Vec<RecordEvent>,
    /// Its checks at every checkpoint, oldest first.
    pub crossings: Vec<TimelineCrossing>,
    /// Everything written on its isolation cases, oldest first.
    pub cases: Vec<CaseEvent>,
}

/// A check of the NIK at a checkpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineCrossing {
    /// The checkpoint's peer id.
    pub checkpoint: String,
    pub checkpoint_label: Option<String>,
    pub at_ms: i64,
    #[schema(example = "non_resident")]
    pub verdict: String,
    #[schema(example = "isolation_gor")]
    pub decision: String,
    pub case_id: Option<String>,
    pub officer: Option<String>,
    pub officer_id: Option<String>,
}

/// A person signed in at a node, as a change names them.
#[derive(Debug, Serialize, ToSchema)]
pub struct PersonRef {
    /// Their account (or token) id at that node.
    pub id: String,
    pub name: String,
}

/// Who wrote to a case: the node and the person there.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseWriter {
    pub peer: String,
    pub role: CaseRole,
    pub person: Option<PersonRef>,
}

/// Something written on one of the NIK's isolation cases.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseEvent {
    pub case_id: String,
    pub at_ms: i64,
    /// `opened`, `placement`, `follow_up`, `note` or `release`.
    #[schema(example = "follow_up")]
    pub what: String,
    /// The place, the follow-up's outcome or the release's reason.
    pub detail: Option<String>,
    pub by: CaseWriter,
}

/// A village's records as they stood at a time.
#[derive(Debug, Serialize, ToSchema)]
pub struct VillageAsOf {
    #[schema(example = "35.10.15.2012")]
    pub village: String,
    /// The time asked for (unix seconds).
    pub at_s: i64,
    /// The document's heads then.
    pub heads: Vec<String>,
    pub residents: Vec<Resident>,
}

/// What changed in a village's records between two times.
#[derive(Debug, Serialize, ToSchema)]
pub struct VillageChanges {
    #[schema(example = "35.10.15.2012")]
    pub village: String,
    pub from_s: i64,
    pub to_s: i64,
    /// New records.
    pub added: Vec<Resident>,
    /// Records that changed (a move out or a death shows in `status`).
    pub changed: Vec<ChangedRecord>,
    /// Records withdrawn (registered in error).
    pub withdrawn: Vec<Resident>,
}
