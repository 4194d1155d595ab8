//! A village office's residents: register, correct, move out, mark deceased,
//! import many at once; and reading them (one record, or a page of a
//! village found through the index).

use kampung_core::{Address, Nik, Resident, Sex, Status, VillageCode};
use kampung_i18n::Lang;
use kampung_store::{Refusal, WriteReport};
use serde::{Deserialize, Serialize};
use time::Date;
use tokio::sync::watch;
use utoipa::ToSchema;

pub use kampung_runtime::store::{ResidentPage, ResidentQuery};

use crate::access::Access;
use crate::actor::Permission;
use crate::error::{ErrorCode, NodeError, RefusalCode};
use crate::{Actor, Node};

/// What a write of residents did.
#[derive(Debug, Clone)]
pub struct Written {
    pub report: WriteReport,
    /// Bytes of changes carried in the announcement to the mesh (0 when the
    /// write was too big to carry, or changed nothing).
    pub announced_bytes: usize,
}

/// One record written by [`Node::register`], [`Node::correct`],
/// [`Node::move_out`] or [`Node::mark_deceased`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordWritten {
    /// The record as it stands now.
    pub record: Resident,
    /// False if the record already said this (nothing was written).
    pub changed: bool,
    /// What the NIK says that disagrees with the record (not a refusal).
    pub warnings: Vec<String>,
}

/// One record a write would refuse, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RecordRefusal {
    /// Position of the record in the request (from 0).
    pub index: usize,
    pub code: RefusalCode,
    /// The record's field at fault (a CSV column: `nik`, `birth_date`, ...).
    #[serde(default)]
    pub field: String,
    /// Why, for people (in English unless the reader asked for another
    /// language: see [`RecordRefusal::in_lang`]).
    pub message: String,
    /// Why, to render in the reader's language (none when read back from
    /// JSON: the message then stays as it came).
    #[serde(skip)]
    why: Option<Why>,
}

/// Why a record is refused, with its particulars: rendered from the
/// message catalogues in the reader's language.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Why {
    /// The store's rules (wrong village, registered elsewhere, a field).
    Store(Refusal),
    /// A day after today: `key` is the catalogue's message (birth, death,
    /// moving out).
    FutureDate {
        key: &'static str,
        date: Date,
        today: Date,
    },
    /// Another person's identity on a registered NIK.
    IdentityChange {
        old: Box<Resident>,
        new: Box<Resident>,
    },
    /// Back to a state older than the one recorded.
    OlderState {
        old: Box<Resident>,
        new: Box<Resident>,
    },
}

impl RecordRefusal {
    fn new(index: usize, code: RefusalCode, field: &str, why: Why) -> Self {
        RecordRefusal {
            index,
            code,
            field: field.to_string(),
            message: why.message(Lang::En),
            why: Some(why),
        }
    }

    /// The reason in `lang`, from the message catalogues.
    pub fn message_in(&self, lang: Lang) -> String {
        self.why
            .as_ref()
            .map_or_else(|| self.message.clone(), |w| w.message(lang))
    }

    /// The same refusal with its message in `lang` (for an API answer).
    pub fn in_lang(mut self, lang: Lang) -> Self {
        self.message = self.message_in(lang);
        self
    }
}

impl Why {
    fn message(&self, lang: Lang) -> String {
        use kampung_i18n::{date, tr};
        let sex = |s: Sex| s.code().to_string();
        match self {
            Why::Store(Refusal::WrongVillage {
                nik,
                record,
                target,
            }) => tr(
                lang,
                "refusal-wrong_village",
                &[
                    ("nik", nik.to_string().into()),
                    ("record", record.to_string().into()),
                    ("target", target.to_string().into()),
                ],
            ),
            Why::Store(Refusal::RegisteredElsewhere { nik, village, name }) => tr(
                lang,
                "refusal-registered_elsewhere",
                &[
                    ("nik", nik.to_string().into()),
                    ("village", village.to_string().into()),
                    ("name", (*name).into()),
                ],
            ),
            Why::Store(Refusal::Invalid { reason, .. }) => kampung_i18n::record_error(lang, reason),
            Why::Store(other) => other.to_string(),
            Why::FutureDate {
                key,
                date: d,
                today,
            } => tr(
                lang,
                key,
                &[
                    ("date", date(lang, *d).into()),
                    ("today", date(lang, *today).into()),
                ],
            ),
            Why::IdentityChange { old, new } => tr(
                lang,
                "refusal-identity_change",
                &[
                    ("nik", new.nik.to_string().into()),
                    ("old_name", old.full_name.as_str().into()),
                    ("old_sex", sex(old.sex).into()),
                    ("old_born", date(lang, old.birth_date).into()),
                    ("new_name", new.full_name.as_str().into()),
                    ("new_sex", sex(new.sex).into()),
                    ("new_born", date(lang, new.birth_date).into()),
                ],
            ),
            Why::OlderState { old, new } => tr(
                lang,
                if matches!(old.status, Status::Deceased { .. }) {
                    "refusal-undo_death"
                } else {
                    "refusal-undo_move_out"
                },
                &[
                    ("nik", new.nik.to_string().into()),
                    ("name", old.full_name.as_str().into()),
                    ("status", kampung_i18n::status(lang, &new.status).into()),
                ],
            ),
        }
    }
}

/// NIKs for which the clerk has confirmed what a batch write would
/// otherwise refuse: a change of identity (another name or sex, or a new
/// name and birth date together), or a return from a recorded move out or
/// death.
pub type Confirmed = std::collections::HashSet<Nik>;

/// One field of a record that a write would change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    /// The CSV column: `full_name`, `sex`, `birth_date`, `family_card`,
    /// `dusun`, `rt`, `rw`, `status`.
    pub field: String,
    pub old: String,
    pub new: String,
}

/// A record a write would change, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangedRecord {
    pub old: Resident,
    pub new: Resident,
    pub fields: Vec<FieldChange>,
}

/// What writing records would do, before anything is written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportPreview {
    pub added: Vec<Resident>,
    pub changed: Vec<ChangedRecord>,
    pub unchanged: usize,
    pub refused: Vec<RecordRefusal>,
}

fn status_text(s: &kampung_core::Status) -> String {
    match s {
        kampung_core::Status::Active => "active".into(),
        kampung_core::Status::MovedOut {
            destination,
            date: None,
        } => format!("moved_out {destination}"),
        kampung_core::Status::MovedOut {
            destination,
            date: Some(d),
        } => format!("moved_out {destination} {d}"),
        kampung_core::Status::Deceased { date } => match date {
            Some(d) => format!("deceased {d}"),
            None => "deceased".into(),
        },
    }
}

/// The fields in which `new` differs from `old`, with their values as
/// files and programs write them (`1985-03-12`, `moved_out Kota Malang`).
pub fn field_changes(old: &Resident, new: &Resident) -> Vec<FieldChange> {
    changes(Some(old), Some(new), None)
}

/// The same, with the values as a person reads them in `lang` (`12 Maret
/// 1985`, `pindah ke Kota Malang`): what a confirmation page shows.
pub fn field_changes_in(lang: Lang, old: &Resident, new: &Resident) -> Vec<FieldChange> {
    changes(Some(old), Some(new), Some(lang))
}

/// [`field_changes`] where either side may be missing (a record added or
/// withdrawn): its fields then read as empty.
pub fn field_changes_of(old: Option<&Resident>, new: Option<&Resident>) -> Vec<FieldChange> {
    changes(old, new, None)
}

/// [`field_changes_of`] as a person reads it in `lang`.
pub fn field_changes_of_in(
    lang: Lang,
    old: Option<&Resident>,
    new: Option<&Resident>,
) -> Vec<FieldChange> {
    changes(old, new, Some(lang))
}

fn changes(old: Option<&Resident>, new: Option<&Resident>, lang: Option<Lang>) -> Vec<FieldChange> {
    let date = |d: Date| lang.map_or_else(|| d.to_string(), |l| kampung_i18n::date(l, d));
    let status = |s: &Status| lang.map_or_else(|| status_text(s), |l| kampung_i18n::status(l, s));
    let values = |r: Option<&Resident>| -> [String; 8] {
        let Some(r) = r else {
            return Default::default();
        };
        [
            r.full_name.clone(),
            r.sex.code().into(),
            date(r.birth_date),
            r.family_card.clone(),
            r.address.dusun.clone(),
            r.address.rt.to_string(),
            r.address.rw.to_string(),
            status(&r.status),
        ]
    };
    const FIELDS: [&str; 8] = [
        "full_name",
        "sex",
        "birth_date",
        "family_card",
        "dusun",
        "rt",
        "rw",
        "status",
    ];
    FIELDS
        .iter()
        .zip(values(old).into_iter().zip(values(new)))
        .filter(|(_, (a, b))| a != b)
        .map(|(field, (old, new))| FieldChange {
            field: (*field).to_string(),
            old,
            new,
        })
        .collect()
}

/// Fields of a record to correct; `None` keeps the field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Correction {
    pub full_name: Option<String>,
    pub sex: Option<Sex>,
    pub birth_date: Option<Date>,
    pub family_card: Option<String>,
    pub dusun: Option<String>,
    pub rt: Option<u16>,
    pub rw: Option<u16>,
}

impl Node {
    /// The village whose residents this node writes, or why it writes none.
    pub fn own_village(&self) -> Result<VillageCode, NodeError> {
        self.role().village().ok_or_else(|| {
            NodeError::new(
                ErrorCode::NotAVillageNode,
                format!(
                    "this node is {}: only a village node writes residents",
                    self.role().tag()
                ),
            )
        })
    }

    /// Parse a NIK as typed; `invalid_nik` naming the rule broken.
    pub fn parse_nik(&self, input: &str) -> Result<Nik, NodeError> {
        Nik::parse(input, self.this_year())
            .map(|p| p.nik())
            .map_err(|e| NodeError::new(ErrorCode::InvalidNik, e.to_string()))
    }

    /// Which records a write to this node's village would refuse, and why:
    /// the store's rules (village, NIK registered elsewhere, fields), and
    /// the guard of every batch write ([`Node::guard`]). Writes nothing.
    pub async fn check_residents(
        &self,
        by: &Actor,
        records: Vec<Resident>,
        confirmed: &Confirmed,
    ) -> Result<Vec<RecordRefusal>, NodeError> {
        let village = self.own_village()?;
        let existing = self.existing(village, &records).await?;
        self.refusals(by, village, &records, &existing, confirmed)
            .await
    }

    /// [`Node::check_residents`] against the village's records already read.
    async fn refusals(
        &self,
        by: &Actor,
        village: VillageCode,
        records: &[Resident],
        existing: &std::collections::HashMap<Nik, Resident>,
        confirmed: &Confirmed,
    ) -> Result<Vec<RecordRefusal>, NodeError> {
        by.require(Permission::WriteResidents, "write residents")?;
        let mut refused: Vec<RecordRefusal> = self
            .store()
            .check(village, records.to_vec())
            .await?
            .into_iter()
            .map(|(index, r)| {
                let code = RefusalCode::of(&r);
                let field = match &r {
                    Refusal::Invalid { reason, .. } => reason.field(),
                    _ => code.field(),
                };
                RecordRefusal::new(index, code, field, Why::Store(r))
            })
            .collect();
        let store_refused: std::collections::HashSet<usize> =
            refused.iter().map(|r| r.index).collect();
        let today = self.today()?;
        for (i, r) in records.iter().enumerate() {
            if !store_refused.contains(&i) {
                refused.extend(guard(i, r, existing.get(&r.nik), today, confirmed));
            }
        }
        refused.sort_by_key(|r| r.index);
        Ok(refused)
    }

    /// The records of this village held for the NIKs of `records`.
    async fn existing(
        &self,
        village: VillageCode,
        records: &[Resident],
    ) -> Result<std::collections::HashMap<Nik, Resident>, NodeError> {
        let niks: Vec<Nik> = records.iter().map(|r| r.nik).collect();
        Ok(self
            .store()
            .read_many(village, niks)
            .await??
            .into_iter()
            .map(|r| (r.nik, r))
            .collect())
    }

    /// NIKs active in more than one village (registered on both sides of
    /// a cut network), with those villages: on a village node only the ones
    /// that concern its own village. Both offices resolve one by recording
    /// the move out where the person left (each may edit its record until
    /// then).
    pub fn double_registrations(
        &self,
        by: &Actor,
    ) -> Result<Vec<(Nik, Vec<VillageCode>)>, NodeError> {
        by.require(Permission::ReadResidents, "read residents")?;
        let own = self.role().village();
        let mut all = self.store().lookups().read().double_registrations();
        all.retain(|(_, villages)| own.is_none_or(|o| villages.contains(&o)));
        Ok(all)
    }

    /// Write records of this node's village: new ones are added, changed
    /// ones updated, identical ones left alone; one Automerge change per
    /// record. All or nothing: a record the store or the guard refuses
    /// ([`Node::check_residents`]) refuses the write; an identity change
    /// passes only for a NIK in `confirmed`. Durable when this returns, then
    /// announced to the mesh. `progress`, if given, follows the number of
    /// records written.
    pub async fn write_residents(
        &self,
        by: &Actor,
        records: Vec<Resident>,
        confirmed: &Confirmed,
        progress: Option<watch::Sender<usize>>,
    ) -> Result<Written, NodeError> {
        by.require(Permission::WriteResidents, "write residents")?;
        let village = self.own_village()?;
        let signed_ms = self.signing_now()?;
        let existing = self.existing(village, &records).await?;
        let today = self.today()?;
        if let Some(r) = records
            .iter()
            .enumerate()
            .find_map(|(i, r)| guard(i, r, existing.get(&r.nik), today, confirmed).next())
        {
            return Err(NodeError::new(
                ErrorCode::Refused,
                format!("record {}: {}: nothing was written", r.index + 1, r.message),
            ));
        }
        let (report, announce) = self
            .store()
            .write_as(village, records, signed_ms, progress, by.author())
            .await??;
        let announced_bytes = announce.changes.iter().map(Vec::len).sum();
        if report.added + report.changed > 0 {
            self.metrics()
                .resident_writes
                .inc_by((report.added + report.changed) as u64);
            self.announce([announce]).await;
        }
        Ok(Written {
            report,
            announced_bytes,
        })
    }

    /// What writing `records` to this node's village would do: who would be
    /// added, whose record would change and how (field by field), and which
    /// records would be refused (identity changes not in `confirmed` among
    /// them). Writes nothing.
    pub async fn preview_import(
        &self,
        by: &Actor,
        records: Vec<Resident>,
        confirmed: &Confirmed,
    ) -> Result<ImportPreview, NodeError> {
        // The village's records are read once, for the checks and the preview.
        let village = self.own_village()?;
        let existing = self.existing(village, &records).await?;
        let refused = self
            .refusals(by, village, &records, &existing, confirmed)
            .await?;
        let mut preview = ImportPreview {
            refused,
            ..ImportPreview::default()
        };
        let refused_at: std::collections::HashSet<usize> =
            preview.refused.iter().map(|r| r.index).collect();
        for (i, r) in records.into_iter().enumerate() {
            if refused_at.contains(&i) {
                continue;
            }
            match existing.get(&r.nik) {
                None => preview.added.push(r),
                Some(old) if old.same_content(&r) => preview.unchanged += 1,
                Some(old) => preview.changed.push(ChangedRecord {
                    fields: field_changes(old, &r),
                    old: old.clone(),
                    new: r,
                }),
            }
        }
        Ok(preview)
    }

    /// One full record: in `village` if given (a NIK may have records in
    /// two villages after a move), else the record that decides the verdict.
    pub async fn resident(
        &self,
        by: &Actor,
        nik: Nik,
        village: Option<VillageCode>,
    ) -> Result<Resident, NodeError> {
        by.require(Permission::ReadResidents, "read residents' records")?;
        let found = match village {
            Some(v) => self.store().read(v, nik).await??,
            None => self.store().get(nik).await??,
        };
        self.log_access(
            by,
            Access::Record,
            &nik.to_string(),
            if found.is_some() {
                "found"
            } else {
                "not_found"
            },
        );
        found.ok_or_else(|| {
            let place = match village {
                Some(v) => format!("the registry of village {v}"),
                None => "the registry".to_string(),
            };
            NodeError::new(ErrorCode::NotRegistered, format!("{nik} is not in {place}"))
        })
    }

    /// One page of a village's residents matching `query`, in NIK order: the
    /// index finds the page, only its records are read from the document.
    pub async fn residents_page(
        &self,
        by: &Actor,
        query: ResidentQuery,
    ) -> Result<ResidentPage, NodeError> {
        by.require(Permission::ReadResidents, "read residents' records")?;
        if let Some(search) = &query.search {
            self.log_access(
                by,
                Access::Search,
                search,
                query.village.to_string().as_str(),
            );
        }
        Ok(self.store().resident_page(query).await??)
    }

    /// The record of `nik` in this node's village, or why there is none.
    async fn own_record(&self, by: &Actor, nik: Nik) -> Result<Resident, NodeError> {
        by.require(Permission::WriteResidents, "write residents")?;
        let village = self.own_village()?;
        self.store().read(village, nik).await??.ok_or_else(|| {
            NodeError::new(
                ErrorCode::NotRegistered,
                format!("{nik} is not a resident of this village ({village}); register them first"),
            )
        })
    }

    /// Write one record after checking it (warnings returned, refusals as errors).
    async fn write_one(&self, by: &Actor, record: Resident) -> Result<RecordWritten, NodeError> {
        let warnings = record
            .validate(self.this_year())
            .map_err(|e| NodeError::new(ErrorCode::Refused, e.to_string()))?;
        // One record changed by name through its own workflow is the
        // clerk's explicit change: confirmed (the guard's dates still hold).
        let confirmed = Confirmed::from([record.nik]);
        if let Some(r) = self
            .check_residents(by, vec![record.clone()], &confirmed)
            .await?
            .pop()
        {
            return Err(NodeError::new(ErrorCode::Refused, r.message));
        }
        let written = self
            .write_residents(by, vec![record.clone()], &confirmed, None)
            .await?;
        Ok(RecordWritten {
            record,
            changed: written.report.unchanged == 0,
            warnings: warnings.iter().map(ToString::to_string).collect(),
        })
    }

    /// Register a new resident of this village (refused if already registered here).
    pub async fn register(&self, by: &Actor, record: Resident) -> Result<RecordWritten, NodeError> {
        by.require(Permission::WriteResidents, "write residents")?;
        let village = self.own_village()?;
        if self.store().read(village, record.nik).await??.is_some() {
            return Err(NodeError::new(
                ErrorCode::Refused,
                format!(
                    "{} is already registered in this village; correct the record instead",
                    record.nik
                ),
            ));
        }
        self.write_one(by, Resident { village, ..record }).await
    }

    /// Correct fields of a resident of this village.
    pub async fn correct(
        &self,
        by: &Actor,
        nik: Nik,
        fix: Correction,
    ) -> Result<RecordWritten, NodeError> {
        self.change_record(by, nik, RecordChange::Correct(fix))
            .await
    }

    /// Record that an active resident of this village moved away (on
    /// `on`, if known).
    pub async fn move_out(
        &self,
        by: &Actor,
        nik: Nik,
        destination: String,
        on: Option<Date>,
    ) -> Result<RecordWritten, NodeError> {
        self.change_record(
            by,
            nik,
            RecordChange::MoveOut {
                to: destination,
                on,
            },
        )
        .await
    }

    /// Record that a resident of this village died (on `on`, if known).
    pub async fn mark_deceased(
        &self,
        by: &Actor,
        nik: Nik,
        on: Option<Date>,
    ) -> Result<RecordWritten, NodeError> {
        self.change_record(by, nik, RecordChange::Deceased(on))
            .await
    }

    /// Withdraw a registration of this village made in error (one side of
    /// a double registration, or a record that should never have been
    /// made): the record leaves the village's document as one signed
    /// change whose message keeps `reason` and the person who did it, so
    /// the auditor sees it in the history; every node's index follows.
    /// Durable when this returns, then announced. Returns the record as it
    /// was.
    pub async fn withdraw_registration(
        &self,
        by: &Actor,
        nik: Nik,
        reason: &str,
    ) -> Result<Resident, NodeError> {
        by.require(Permission::WriteResidents, "write residents")?;
        let village = self.own_village()?;
        let reason = reason.trim();
        kampung_core::resident::check_line("reason", reason)
            .map_err(|e| NodeError::new(ErrorCode::Refused, e.to_string()))?;
        let signed_ms = self.signing_now()?;
        let Some(record) = self.store().read(village, nik).await?? else {
            return Err(NodeError::new(
                ErrorCode::NotRegistered,
                format!("{nik} is not registered in this village: there is nothing to withdraw"),
            ));
        };
        let (report, announce) = self
            .store()
            .withdraw(village, nik, reason.to_string(), signed_ms, by.author())
            .await??;
        if report.changed > 0 {
            self.metrics().resident_writes.inc();
            self.announce([announce]).await;
        }
        Ok(record)
    }

    /// Make one change to a resident of this village.
    pub async fn change_record(
        &self,
        by: &Actor,
        nik: Nik,
        change: RecordChange,
    ) -> Result<RecordWritten, NodeError> {
        let (_, new) = self.changed(by, nik, change).await?;
        self.write_one(by, new).await
    }

    /// What one change would do to a resident's record, field by field,
    /// for the clerk to confirm. Writes nothing; refused as the change itself
    /// would be.
    pub async fn preview_change(
        &self,
        by: &Actor,
        nik: Nik,
        change: RecordChange,
    ) -> Result<ChangedRecord, NodeError> {
        let (old, new) = self.changed(by, nik, change).await?;
        new.validate(self.this_year())
            .map_err(|e| NodeError::new(ErrorCode::Refused, e.to_string()))?;
        Ok(ChangedRecord {
            fields: field_changes(&old, &new),
            old,
            new,
        })
    }

    /// The record of `nik` before and after `change`, or why it cannot change.
    async fn changed(
        &self,
        by: &Actor,
        nik: Nik,
        change: RecordChange,
    ) -> Result<(Resident, Resident), NodeError> {
        let old = self.own_record(by, nik).await?;
        let mut r = old.clone();
        match change {
            RecordChange::Correct(fix) => {
                r.full_name = fix.full_name.unwrap_or(r.full_name);
                r.sex = fix.sex.unwrap_or(r.sex);
                r.birth_date = fix.birth_date.unwrap_or(r.birth_date);
                r.family_card = fix.family_card.unwrap_or(r.family_card);
                let Address { dusun, rt, rw } = r.address;
                r.address = Address {
                    dusun: fix.dusun.unwrap_or(dusun),
                    rt: fix.rt.unwrap_or(rt),
                    rw: fix.rw.unwrap_or(rw),
                };
            }
            RecordChange::MoveOut {
                to: destination,
                on,
            } => {
                if r.status != Status::Active {
                    return Err(NodeError::new(
                        ErrorCode::Refused,
                        format!(
                            "{nik} is not an active resident (status: {})",
                            r.status.kind().as_str()
                        ),
                    ));
                }
                if destination.trim().is_empty() {
                    return Err(NodeError::field(
                        ErrorCode::InvalidBody,
                        "to",
                        "where the resident moved to is empty: write the destination",
                    ));
                }
                r.status = Status::MovedOut {
                    destination: destination.trim().to_string(),
                    date: on,
                };
            }
            RecordChange::Deceased(on) => {
                if matches!(r.status, Status::Deceased { .. }) {
                    return Err(NodeError::new(
                        ErrorCode::Refused,
                        format!("{nik} is already recorded as deceased"),
                    ));
                }
                r.status = Status::Deceased { date: on };
            }
        }
        Ok((old, r))
    }
}

/// One change to a resident's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordChange {
    Correct(Correction),
    /// Moved away, to this destination (on this day, if known).
    MoveOut {
        to: String,
        on: Option<Date>,
    },
    /// Died (on this day, if known).
    Deceased(Option<Date>),
}

/// What every batch write checks beyond the store's rules, record `index`
/// against the village's record of the same NIK (`old`, if any):
/// - no date after `today` (birth, death);
/// - no change of who a registered NIK is unless the clerk confirmed it
///   for that NIK: another sex, another name, or a new name and a new birth
///   date together. A correction of the same name (a typo, a word added, or
///   capitals as SIAK exports write them) is not another name. An office
///   file whose NIKs collide with other people must not overwrite them;
/// - never back to an older state: a recorded death or move out stays (a
///   file made before it must not undo it) unless confirmed for that NIK
///   (the person came back, or the death was recorded in error).
pub fn guard<'a>(
    index: usize,
    new: &'a Resident,
    old: Option<&'a Resident>,
    today: Date,
    confirmed: &Confirmed,
) -> impl Iterator<Item = RecordRefusal> + 'a {
    let mut out = Vec::new();
    if new.birth_date > today {
        out.push(RecordRefusal::new(
            index,
            RefusalCode::FutureDate,
            "birth_date",
            Why::FutureDate {
                key: "refusal-birth_in_future",
                date: new.birth_date,
                today,
            },
        ));
    }
    let day_of_status = match new.status {
        Status::MovedOut { date: Some(d), .. } => Some(("moved_on", "refusal-move_in_future", d)),
        Status::Deceased { date: Some(d) } => Some(("died_on", "refusal-death_in_future", d)),
        _ => None,
    };
    if let Some((field, key, date)) = day_of_status.filter(|(_, _, d)| *d > today) {
        out.push(RecordRefusal::new(
            index,
            RefusalCode::FutureDate,
            field,
            Why::FutureDate { key, date, today },
        ));
    }
    if let Some(old) = old {
        // Who the record is: another sex, another name (not a correction of
        // the same one), or a new name and a new birth date together.
        let renamed = !same_name(&old.full_name, &new.full_name);
        let reborn = old.birth_date != new.birth_date;
        let changed: Vec<&str> = [
            (old.sex != new.sex, "sex"),
            (
                another_name(&old.full_name, &new.full_name) || (renamed && reborn),
                "full_name",
            ),
        ]
        .into_iter()
        .filter_map(|(differs, field)| differs.then_some(field))
        .collect();
        if let (Some(first), false) = (changed.first(), confirmed.contains(&new.nik)) {
            out.push(RecordRefusal::new(
                index,
                RefusalCode::IdentityChange,
                first,
                Why::IdentityChange {
                    old: Box::new(old.clone()),
                    new: Box::new(new.clone()),
                },
            ));
        }
        let older = match (&old.status, &new.status) {
            (Status::Deceased { .. }, Status::Deceased { .. }) => false,
            (Status::Deceased { .. }, _) | (Status::MovedOut { .. }, Status::Active) => true,
            _ => false,
        };
        if older && !confirmed.contains(&new.nik) {
            out.push(RecordRefusal::new(
                index,
                RefusalCode::OlderState,
                "status",
                Why::OlderState {
                    old: Box::new(old.clone()),
                    new: Box::new(new.clone()),
                },
            ));
        }
    }
    out.into_iter()
}

/// A name's words, lowercase, without punctuation.
fn name_words(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// The same name, but for capitals, spacing and punctuation.
fn same_name(a: &str, b: &str) -> bool {
    name_words(a) == name_words(b)
}

/// Is `new` another person's name rather than a correction of `old`? A
/// correction keeps every word of the shorter name ("Rukmini" ->
/// "Rukmini Wati") or more than half of the longer one's, or changes at
/// most two letters ("Muhamad Ali" -> "Muhammad Ali"); "Zainal Wibowo" ->
/// "Suparman Effendi" and "Sri Wahyuni" -> "Sri Rahayu" are other people.
fn another_name(old: &str, new: &str) -> bool {
    let (a, b) = (name_words(old), name_words(new));
    if a == b {
        return false;
    }
    let common = a.iter().filter(|w| b.contains(w)).count();
    let longer = a.len().max(b.len());
    let shorter = a.len().min(b.len());
    // Every word of the shorter name kept (a word added or dropped:
    // "Rukmini" -> "Rukmini Wati"), or most words of the longer one.
    let kept_most = (shorter > 0 && common == shorter) || 2 * common > longer;
    let typo = strsim::levenshtein(&a.join(" "), &b.join(" ")) <= 2;
    !(kept_most || typo)
}
