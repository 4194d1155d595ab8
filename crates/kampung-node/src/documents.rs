//! Documents out, in the open: a document this node holds as the raw
//! Automerge file any Automerge implementation loads (`kampung export
//! --automerge`, `GET /v1/documents/{id}`), and the check of such a file
//! against this node's signatures (`kampung audit verify --file`, `POST
//! /v1/documents/verify`). `docs/documents.md` describes the documents
//! field by field.
//!
//! A raw document carries every value its records ever had (Automerge
//! keeps the history), so both are the auditor's, like the rest of the
//! audit, and an export goes to the access log.

use kampung_core::{DocId, VillageCode};
use kampung_store::audit::file::{self, FileReport};
use kampung_store::storage::StoredDoc;
use kampung_sync::Replica;

use crate::access::Access;
use crate::actor::Permission;
use crate::error::{ErrorCode, NodeError};
use crate::{Actor, Node};

/// A document id as a person writes it: `v/35.10.15.2012` (a village's
/// residents in full, or a bare village code), `k/35.10.15.2012` (its
/// verdict cards), `x/<peer id>` (a checkpoint's crossing log), `c/<case id>`
/// (an isolation case).
pub fn parse_document_id(text: &str) -> Result<DocId, NodeError> {
    let text = text.trim();
    if let Some(id) = DocId::parse(text) {
        return Ok(id);
    }
    if let Ok(village) = VillageCode::parse(text) {
        return Ok(DocId::village(village));
    }
    Err(NodeError::field(
        ErrorCode::InvalidParameter,
        "document",
        format!(
            "'{text}' is not a document id: write v/35.10.15.2012 (or just 35.10.15.2012) for a \
             village's residents in full, k/35.10.15.2012 for its verdict cards, x/<peer id>/2026-12 for a checkpoint's crossings of a month (x/<peer \
             id> for its single log of nodes before monthly logs), c/<16 hex digits> \
             for an isolation case (`kampung status` on a running node lists the documents it \
             holds)"
        ),
    ))
}

/// The file name a document is exported under: its id with `/` as `_`
/// and every other character but letters, digits, `.` and `-` as `_`
/// (`v_35.10.15.2012.automerge`), so no id can name a path.
pub fn document_file_name(id: &DocId) -> String {
    let stem: String = id
        .as_str()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{stem}.automerge")
}

/// A document this node does not hold.
fn not_held(id: &DocId) -> NodeError {
    NodeError::new(
        ErrorCode::DocumentNotHeld,
        format!(
            "this node holds no document {id} (a node that has not synced yet holds only its \
             own): `kampung export --automerge --all --out DIR` exports every document it holds, \
             each file named after its document"
        ),
    )
}

impl Node {
    /// Every document this node holds, by name.
    pub async fn documents(&self, by: &Actor) -> Result<Vec<DocId>, NodeError> {
        by.require(Permission::Audit, "list the documents to export")?;
        let mut ids: Vec<DocId> = self
            .store()
            .doc_heads()
            .await?
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        ids.sort();
        Ok(ids)
    }

    /// The whole document `id` as one Automerge document (its `save()`),
    /// made from the bytes the store keeps (the same bytes a peer is sent
    /// to bootstrap), not from sled's files. For an auditor; logged.
    pub async fn document_bytes(&self, by: &Actor, id: &DocId) -> Result<Vec<u8>, NodeError> {
        by.require(Permission::Audit, "export a raw document")?;
        let (stored, _) = self
            .store()
            .document(id.as_str())
            .await
            .map_err(NodeError::store)?
            .ok_or_else(|| not_held(id))?;
        let bytes = tokio::task::spawn_blocking(move || file::whole_document(&stored))
            .await
            .map_err(NodeError::store)?
            .map_err(|e| {
                NodeError::store(format!(
                    "document {id} as stored does not load ({e}): run `kampung audit verify`"
                ))
            })?;
        self.log_access(
            by,
            Access::History,
            id.as_str(),
            &format!("export bytes={}", bytes.len()),
        );
        Ok(bytes)
    }

    /// Check an exported document file (see [`file`]): that Automerge
    /// loads it, which document it is, that its records read, and that
    /// every change in it is covered by a signature this node holds, of a
    /// writer allowed to make it. Problems are in the report, not errors.
    pub async fn check_document_file(
        &self,
        by: &Actor,
        bytes: Vec<u8>,
    ) -> Result<FileReport, NodeError> {
        by.require(Permission::Audit, "check an exported document")?;
        let opened = tokio::task::spawn_blocking(move || file::open_file(bytes))
            .await
            .map_err(NodeError::store)?;
        let held = match opened.doc_id() {
            Some(id) => self
                .store()
                .document(id.as_str())
                .await
                .map_err(NodeError::store)?
                .map(|(snapshot, signatures)| StoredDoc {
                    snapshot: Some(snapshot),
                    signatures: signatures
                        .into_iter()
                        .filter_map(|s| {
                            let change = kampung_trust::WriteSignature::decode(&s).ok()?.change;
                            Some((change, s))
                        })
                        .collect(),
                    ..StoredDoc::default()
                }),
            None => None,
        };
        let roster = self.roster().map(|r| {
            r.read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone()
        });
        let now_ms = self.now_ms();
        tokio::task::spawn_blocking(move || opened.check(held.as_ref(), roster.as_ref(), now_ms))
            .await
            .map_err(NodeError::store)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_ids_as_people_write_them() {
        assert_eq!(
            parse_document_id("v/35.10.15.2012").unwrap().as_str(),
            "v/35.10.15.2012"
        );
        assert_eq!(
            parse_document_id(" 35.10.15.2012 ").unwrap().as_str(),
            "v/35.10.15.2012"
        );
        assert_eq!(
            parse_document_id("c/0123456789abcdef").unwrap().as_str(),
            "c/0123456789abcdef"
        );
        assert_eq!(
            document_file_name(&parse_document_id("35.10.15.2012").unwrap()),
            "v_35.10.15.2012.automerge"
        );
        for bad in ["", "v/35.10.15", "q/abc", "c/XYZ", "35.10.15.9999x"] {
            let e = parse_document_id(bad).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidParameter, "{bad}");
            assert!(e.message.contains("is not a document id"), "{bad}: {e}");
        }
    }
}
