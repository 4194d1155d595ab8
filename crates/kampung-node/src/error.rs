//! What went wrong in a workflow, with a stable machine code that travels
//! from the store to every front door: the API puts it in its JSON errors,
//! the CLI branches on it (never on the text of a message), the pages pick
//! their translated message by it.

use kampung_store::{RecordError, Refusal, StoreError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The stable machine codes of errors. New codes may be added; existing ones
/// keep their meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// The NIK in the path or the body breaks a rule (the message names it).
    InvalidNik,
    /// The `village` given is not one of Banyuwangi's villages.
    InvalidVillage,
    /// A query parameter is malformed, out of range or unknown (`parameter` names it).
    InvalidParameter,
    /// The request body is not the JSON this route takes.
    InvalidBody,
    /// The request body is larger than the node accepts.
    BodyTooLarge,
    /// The request body is not declared as `application/json`.
    UnsupportedMediaType,
    /// No such route.
    NotFound,
    /// The route exists but not with this method.
    MethodNotAllowed,
    /// The NIK has no record in the registry (or in that village).
    NotRegistered,
    /// Only a village node writes residents.
    NotAVillageNode,
    /// This node's role may not do this (e.g. an auditor writing a case, a
    /// village logging a crossing); the message says which role may.
    RoleNotAllowed,
    /// No isolation case with this id is held here.
    CaseNotFound,
    /// No document of this name is held here (`GET /v1/status` lists those held).
    DocumentNotHeld,
    /// The person already has an open isolation case (the message names it).
    CaseOpen,
    /// A case with this id exists already.
    CaseExists,
    /// The body is not a signed statement file from `kampung admin`.
    InvalidStatement,
    /// The statement is not signed by this mesh's root key.
    NotSignedByRoot,
    /// This node has no root key configured, so it cannot verify statements.
    NoRoot,
    /// The store refused the write (the message says which record and why).
    Refused,
    /// The node's store failed.
    Store,
    /// The request took longer than the node allows.
    Timeout,
    /// The node is shutting down.
    ShuttingDown,
    /// Nobody is signed in: a session cookie or a bearer token is needed.
    Unauthenticated,
    /// The one signed in may not do this (the message names the role).
    Forbidden,
    /// A sign-in with a wrong user name or password (never says which).
    WrongCredentials,
    /// The account is locked after repeated failed sign-ins: the operator unlocks it.
    AccountLocked,
    /// Too many failed sign-ins from this device or for this account: wait.
    TooManyAttempts,
    /// Something with this name exists already (the message names it).
    Conflict,
    /// The request named a host this node does not answer for.
    MisdirectedHost,
    /// A form posted from another site (or without its form token).
    CrossSite,
    /// No account with this login name on this node.
    NoSuchAccount,
    /// No token with this id on this node.
    NoSuchToken,
    /// This node's clock is known to be wrong (off from most of its peers,
    /// or before its certificate starts): it signs nothing until it is set
    /// right; the message says by how much.
    ClockOff,
}

impl ErrorCode {
    /// The code as it appears in JSON (`invalid_nik`).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidNik => "invalid_nik",
            ErrorCode::InvalidVillage => "invalid_village",
            ErrorCode::InvalidParameter => "invalid_parameter",
            ErrorCode::InvalidBody => "invalid_body",
            ErrorCode::BodyTooLarge => "body_too_large",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::NotRegistered => "not_registered",
            ErrorCode::NotAVillageNode => "not_a_village_node",
            ErrorCode::RoleNotAllowed => "role_not_allowed",
            ErrorCode::CaseNotFound => "case_not_found",
            ErrorCode::DocumentNotHeld => "document_not_held",
            ErrorCode::CaseOpen => "case_open",
            ErrorCode::CaseExists => "case_exists",
            ErrorCode::InvalidStatement => "invalid_statement",
            ErrorCode::NotSignedByRoot => "not_signed_by_root",
            ErrorCode::NoRoot => "no_root",
            ErrorCode::Refused => "refused",
            ErrorCode::Store => "store",
            ErrorCode::Timeout => "timeout",
            ErrorCode::ShuttingDown => "shutting_down",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::WrongCredentials => "wrong_credentials",
            ErrorCode::AccountLocked => "account_locked",
            ErrorCode::TooManyAttempts => "too_many_attempts",
            ErrorCode::Conflict => "conflict",
            ErrorCode::MisdirectedHost => "misdirected_host",
            ErrorCode::CrossSite => "cross_site",
            ErrorCode::NoSuchAccount => "no_such_account",
            ErrorCode::NoSuchToken => "no_such_token",
            ErrorCode::ClockOff => "clock_off",
        }
    }
}

/// Why one record of a write is refused: a stable code with the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RefusalCode {
    /// The record names another village than this node's.
    WrongVillage,
    /// The NIK is an active resident of another village, which must record
    /// the move out first.
    RegisteredElsewhere,
    /// A field breaks a rule (the message names it).
    InvalidRecord,
    /// The record would make a registered NIK another person (another
    /// sex, another name, or a new name and birth date together): written
    /// only when confirmed for that NIK.
    IdentityChange,
    /// The record would take a person back to an older state (a recorded
    /// move out or death undone by an older file).
    OlderState,
    /// A date after today.
    FutureDate,
}

impl RefusalCode {
    pub fn of(r: &Refusal) -> RefusalCode {
        match r {
            Refusal::WrongVillage { .. } => RefusalCode::WrongVillage,
            Refusal::RegisteredElsewhere { .. } => RefusalCode::RegisteredElsewhere,
            _ => RefusalCode::InvalidRecord,
        }
    }

    /// The record's field at fault, for a clerk's report.
    pub fn field(self) -> &'static str {
        match self {
            RefusalCode::WrongVillage => "village_code",
            RefusalCode::RegisteredElsewhere | RefusalCode::InvalidRecord => "nik",
            RefusalCode::IdentityChange => "full_name",
            RefusalCode::OlderState => "status",
            RefusalCode::FutureDate => "birth_date",
        }
    }
}

/// A workflow refused or failed: what and why, for people, with a stable code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct NodeError {
    pub code: ErrorCode,
    /// For people: what was wrong and what to do.
    pub message: String,
    /// The input field at fault, where there is one.
    pub field: Option<String>,
}

impl NodeError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> NodeError {
        NodeError {
            code,
            message: message.into(),
            field: None,
        }
    }

    /// An error about one input field; the message starts with its name.
    pub fn field(code: ErrorCode, field: &str, message: impl std::fmt::Display) -> NodeError {
        NodeError {
            code,
            message: format!("{field}: {message}"),
            field: Some(field.to_string()),
        }
    }

    /// The store task has stopped: the node is shutting down.
    pub fn stopped() -> NodeError {
        NodeError::new(ErrorCode::ShuttingDown, "the node is shutting down")
    }

    pub fn store(e: impl std::fmt::Display) -> NodeError {
        NodeError::new(ErrorCode::Store, e.to_string())
    }

    /// A request body field that is missing, malformed or does not fit.
    pub fn body(message: impl Into<String>) -> NodeError {
        NodeError::new(ErrorCode::InvalidBody, message)
    }
}

impl From<kampung_runtime::store::Stopped> for NodeError {
    fn from(_: kampung_runtime::store::Stopped) -> NodeError {
        NodeError::stopped()
    }
}

impl From<StoreError> for NodeError {
    fn from(e: StoreError) -> NodeError {
        match e {
            StoreError::Refused(r) => NodeError::new(ErrorCode::Refused, r.to_string()),
            StoreError::UnknownVillage(v) => NodeError::new(
                ErrorCode::InvalidVillage,
                format!("{v} is not one of Banyuwangi's villages"),
            ),
            e => NodeError::store(e),
        }
    }
}

/// A refused crossing or case write: the domain's refusals are `refused`
/// (the message says what and why), an unknown case `case_not_found`, damage
/// or IO in the store `store`.
impl From<RecordError> for NodeError {
    fn from(e: RecordError) -> NodeError {
        use kampung_store::case::CaseError;
        use kampung_store::crossing::CrossingError;
        match e {
            RecordError::NoSuchCase(id) => case_not_found(&id),
            RecordError::CaseExists(id) => NodeError::new(
                ErrorCode::CaseExists,
                format!("isolation case {id} already exists; send the request again for a new id"),
            ),
            RecordError::Case(c) => match *c {
                e @ (CaseError::Automerge(_)
                | CaseError::NotACase { .. }
                | CaseError::WrongCase { .. }
                | CaseError::BadRecord { .. }
                | CaseError::EmptyChange) => NodeError::store(e),
                e => NodeError::new(ErrorCode::Refused, e.to_string()),
            },
            RecordError::Crossing(c) => match *c {
                e @ CrossingError::Refused { .. } => {
                    NodeError::new(ErrorCode::Refused, e.to_string())
                }
                e => NodeError::store(e),
            },
            e => NodeError::store(e),
        }
    }
}

pub(crate) fn case_not_found(id: &str) -> NodeError {
    NodeError::new(
        ErrorCode::CaseNotFound,
        format!("there is no isolation case {id} on this node: GET /v1/cases lists the cases it holds (a case opened at another node appears once it has arrived)"),
    )
}
