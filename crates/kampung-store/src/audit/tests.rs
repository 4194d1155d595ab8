use std::sync::Arc;

use kampung_core::VillageCode;
use kampung_trust::{Revocation, Signed};
use libp2p_identity::Keypair;

use super::*;
use crate::storage::MemoryStorage;
use crate::trust::add_statement;

/// When the writes happen.
const NOW: i64 = 1_760_000_000_000;

fn village_a() -> VillageCode {
    VillageCode::parse("35.10.15.2012").unwrap()
}

fn village_b() -> VillageCode {
    kampung_core::banyuwangi::villages()
        .iter()
        .map(|v| v.code)
        .find(|c| *c != village_a())
        .unwrap()
}

fn key_of(k: &Keypair) -> NodeKey {
    NodeKey::from_public(&k.public()).unwrap()
}

/// A root, a store, and the roster kept in that store.
struct Mesh {
    root: Keypair,
    storage: Arc<MemoryStorage>,
    roster: Roster,
}

impl Mesh {
    fn new() -> Mesh {
        let root = Keypair::generate_ed25519();
        Mesh {
            roster: Roster::new(key_of(&root)),
            root,
            storage: Arc::new(MemoryStorage::new()),
        }
    }

    fn add(&mut self, statement: Statement) {
        let signed = Signed::sign(statement, &self.root).unwrap();
        add_statement(&self.storage, &mut self.roster, signed)
            .unwrap()
            .unwrap();
    }

    /// A new node key, certified from a year before `NOW` to a year after.
    fn certified(&mut self, role: RoleKind, village: Option<VillageCode>) -> Keypair {
        let key = Keypair::generate_ed25519();
        let year = 365 * 86_400_000;
        self.add(Statement::Certificate(Certificate {
            node: key_of(&key),
            role,
            village,
            label: format!("test {}", role.as_str()),
            not_before_ms: NOW - year,
            until_ms: NOW + year,
        }));
        key
    }

    /// A registry on the shared store, signing with `signer` (or unsigned,
    /// writing as `actor`).
    fn registry(&self, signer: Option<&Keypair>, actor: &Keypair) -> Registry<Arc<MemoryStorage>> {
        let actor = ActorId::from(key_of(actor).0.to_vec());
        let mut reg = Registry::open(self.storage.clone(), actor, 2026).unwrap();
        if let Some(s) = signer {
            reg.set_signer(Arc::new(s.clone()));
        }
        reg
    }

    /// `n` generated residents of `village`, written by `actor` (seeded by `n`).
    fn write(&self, signer: Option<&Keypair>, actor: &Keypair, village: VillageCode, n: usize) {
        let mut reg = self.registry(signer, actor);
        let people = kampung_gen::village_residents(village, n, n as u64);
        reg.write(village, &people, NOW, &mut |_| {}).unwrap();
    }

    fn audit(&self) -> AuditReport {
        audit(&self.storage, Some(self.roster.root()), NOW + 60_000, 2026).unwrap()
    }
}

fn kinds(report: &AuditReport) -> Vec<FailureKind> {
    report.all_failures().map(|f| f.kind).collect()
}

#[test]
fn signed_authorised_writes_pass_and_name_their_writer() {
    let mut mesh = Mesh::new();
    let clerk = mesh.certified(RoleKind::Village, Some(village_a()));
    mesh.write(Some(&clerk), &clerk, village_a(), 20);
    let report = mesh.audit();
    assert!(
        report.ok,
        "{:#?}",
        report.all_failures().collect::<Vec<_>>()
    );
    assert!(report.authorisation_checked);
    assert_eq!(report.statements, 1);
    // The village's cards and its details, each written and signed alike.
    assert_eq!(report.documents.len(), 2);
    assert_eq!(report.documents[0].doc, format!("k/{}", village_a()));
    assert_eq!(report.documents[1].doc, format!("v/{}", village_a()));
    for doc in &report.documents {
        assert!(doc.ok && doc.genesis);
        assert_eq!(doc.changes, 21);
        assert_eq!((doc.signatures, doc.signatures_valid), (1, 1));
        assert_eq!(doc.writers.len(), 1);
        assert_eq!(doc.writers[0], report.documents[0].writers[0]);
    }
    let w = &report.documents[1].writers[0];
    assert_eq!(w.writer, key_of(&clerk).to_string());
    assert_eq!(w.role, Some(RoleKind::Village));
    assert_eq!(w.village, Some(village_a().to_string()));
    assert_eq!(w.changes, 20);
    assert_eq!((w.first_s, w.last_s), (NOW / 1000, NOW / 1000));
    assert_eq!(
        report.writers,
        vec![Writer {
            documents: 2,
            changes: 40,
            ..w.clone()
        }]
    );
    assert!(report.index.ok);
    assert_eq!(report.index.niks, 20);
    assert_eq!(report.summary.changes, 42);
}

#[test]
fn an_unsigned_change_fails_naming_its_writer() {
    let mut mesh = Mesh::new();
    let clerk = mesh.certified(RoleKind::Village, Some(village_a()));
    mesh.write(Some(&clerk), &clerk, village_a(), 10);
    // Another program writes with the clerk's key as actor, but signs nothing.
    let mut reg = mesh.registry(None, &clerk);
    let mut person = kampung_gen::village_residents(village_a(), 10, 10).remove(0);
    person.full_name.push_str(" Forged");
    reg.write(village_a(), &[person], NOW, &mut |_| {}).unwrap();
    drop(reg);

    let report = mesh.audit();
    assert!(!report.ok);
    // In the cards and in the details.
    assert_eq!(kinds(&report), vec![FailureKind::Unsigned; 2]);
    for (f, doc) in report.all_failures().zip(["k", "v"]) {
        assert_eq!(
            f.doc.as_deref(),
            Some(format!("{doc}/{}", village_a()).as_str())
        );
        assert_eq!(f.writer, Some(key_of(&clerk).to_string()));
        assert_eq!(f.count, 1);
    }
    assert_eq!(report.documents[0].writers[0].changes, 11);
}

#[test]
fn a_writer_not_allowed_for_the_village_fails() {
    let mut mesh = Mesh::new();
    let clerk = mesh.certified(RoleKind::Village, Some(village_a()));
    let other = mesh.certified(RoleKind::Village, Some(village_b()));
    mesh.write(Some(&other), &other, village_b(), 5);
    // A's clerk writes B's residents: signed, but not allowed.
    mesh.write(Some(&clerk), &clerk, village_b(), 7);

    let report = mesh.audit();
    assert!(!report.ok);
    let doc = &report.documents[1];
    assert_eq!(doc.doc, format!("v/{}", village_b()));
    let mut k = kinds(&report);
    k.sort();
    // In the cards and in the details.
    assert_eq!(
        k,
        vec![
            FailureKind::NotAuthorised,
            FailureKind::NotAuthorised,
            FailureKind::Unsigned,
            FailureKind::Unsigned
        ]
    );
    for f in &doc.failures {
        assert_eq!(f.writer, Some(key_of(&clerk).to_string()), "{f:?}");
    }
    let denied = doc
        .failures
        .iter()
        .find(|f| f.kind == FailureKind::NotAuthorised)
        .unwrap();
    assert!(
        denied.message.contains("may not write"),
        "{}",
        denied.message
    );
    // Both writers are listed with what their certificates say.
    assert_eq!(doc.writers.len(), 2);
    assert!(doc
        .writers
        .iter()
        .any(|w| w.writer == key_of(&clerk).to_string()
            && w.village == Some(village_a().to_string())));
}

#[test]
fn a_revocation_from_before_the_writes_fails_them() {
    let mut mesh = Mesh::new();
    let clerk = mesh.certified(RoleKind::Village, Some(village_a()));
    mesh.write(Some(&clerk), &clerk, village_a(), 5);
    assert!(mesh.audit().ok);
    mesh.add(Statement::Revocation(Revocation {
        node: key_of(&clerk),
        from_ms: NOW - 1000,
        reason: "laptop stolen".into(),
    }));
    let report = mesh.audit();
    assert!(!report.ok);
    let f = report
        .all_failures()
        .find(|f| f.kind == FailureKind::NotAuthorised)
        .unwrap();
    assert!(
        f.message.contains("revoked") && f.message.contains("laptop stolen"),
        "{}",
        f.message
    );
}

#[test]
fn an_altered_signature_or_a_lost_chunk_fails() {
    let mut mesh = Mesh::new();
    let clerk = mesh.certified(RoleKind::Village, Some(village_a()));
    for n in [3, 6, 9] {
        mesh.write(Some(&clerk), &clerk, village_a(), n);
    }
    let id = DocId::village(village_a());
    let stored = mesh.storage.load(&id).unwrap().unwrap();
    assert_eq!(stored.chunks.len(), 3);
    assert!(audit_doc(&id, &stored, Some(&mesh.roster), NOW).ok);

    let mut altered = stored.clone();
    let sig = &mut altered.signatures[0].1;
    let last = sig.len() - 1;
    sig[last] ^= 1;
    let report = audit_doc(&id, &altered, Some(&mesh.roster), NOW);
    let k: Vec<_> = report.failures.iter().map(|f| f.kind).collect();
    assert_eq!(k, vec![FailureKind::BadSignature]);
    assert_eq!(report.signatures_valid, 2);

    let mut lost = stored.clone();
    lost.chunks.remove(1);
    let report = audit_doc(&id, &lost, Some(&mesh.roster), NOW);
    let k: Vec<_> = report.failures.iter().map(|f| f.kind).collect();
    assert!(k.contains(&FailureKind::IncompleteGraph), "{k:?}");
    assert!(k.contains(&FailureKind::HeadsMismatch), "{k:?}");
}

#[test]
fn without_a_root_signatures_are_checked_but_the_audit_fails() {
    let mut mesh = Mesh::new();
    let clerk = mesh.certified(RoleKind::Village, Some(village_a()));
    mesh.write(Some(&clerk), &clerk, village_a(), 4);
    let report = audit(&mesh.storage, None, NOW, 2026).unwrap();
    assert!(!report.ok && !report.authorisation_checked);
    assert!(report.documents[0].ok);
    assert_eq!(kinds(&report), vec![FailureKind::NoRoot]);
    assert!(report.failures[0]
        .message
        .contains("cannot check authorisation: no root key configured"));
}

#[test]
fn an_index_that_differs_from_the_documents_fails() {
    let mut mesh = Mesh::new();
    let clerk = mesh.certified(RoleKind::Village, Some(village_a()));
    mesh.write(Some(&clerk), &clerk, village_a(), 4);
    let id = DocId::card(village_a());
    let heads = heads_from_bytes(&mesh.storage.heads(&id).unwrap().unwrap()).unwrap();
    // An index that claims to be up to date but holds nobody.
    mesh.storage
        .put_index(&id, &crate::index::encode(&heads, Vec::new()))
        .unwrap();
    let report = mesh.audit();
    assert!(!report.ok && !report.index.ok);
    assert_eq!(report.index.problems.len(), 4);
    assert_eq!(kinds(&report), vec![FailureKind::Index]);
}

/// The forged-village case: a node certified for village A wrote residents
/// of village B (its `node.toml` claimed B). `repair` takes those writes,
/// and what was built on them, out of its store; B's own writes stay; the
/// audit then passes and the index is rebuilt from what remains.
#[test]
fn repair_takes_out_what_the_audit_refuses_and_keeps_the_rest() {
    let mut mesh = Mesh::new();
    let a_office = mesh.certified(RoleKind::Village, Some(village_a()));
    let b_office = mesh.certified(RoleKind::Village, Some(village_b()));
    mesh.write(Some(&a_office), &a_office, village_a(), 10);
    mesh.write(Some(&b_office), &b_office, village_b(), 6);
    // A's node, claiming to be B, corrects B's people and adds its own.
    {
        let mut reg = mesh.registry(Some(&a_office), &a_office);
        let mut people = kampung_gen::village_residents(village_b(), 6, 6);
        for p in &mut people {
            p.full_name.push_str(" Palsu");
        }
        reg.write(village_b(), &people, NOW, &mut |_| {}).unwrap();
        let more = kampung_gen::village_residents(village_b(), 9, 9);
        reg.write(village_b(), &more[6..], NOW, &mut |_| {})
            .unwrap();
    }
    let before = mesh.audit();
    assert!(!before.ok);
    assert!(
        kinds(&before).contains(&FailureKind::NotAuthorised),
        "{:?}",
        kinds(&before)
    );

    let repaired = repair(&mesh.storage, mesh.roster.root(), NOW + 60_000).unwrap();
    assert_eq!(
        repaired.len(),
        2,
        "only B's cards and details needed it: {repaired:?}"
    );
    for (r, doc) in repaired.iter().zip(["k", "v"]) {
        assert_eq!(r.doc, format!("{doc}/{}", village_b()));
        assert!(!r.removed);
        assert_eq!(r.writers, vec![key_of(&a_office).to_string()]);
        assert!(r.changes_removed >= 6, "{r:?}");
        assert_eq!(r.signatures_removed, 2, "the forger's two signatures");
    }

    let mut reg = mesh.registry(None, &a_office);
    reg.rebuild_index().unwrap();
    let b_people = kampung_gen::village_residents(village_b(), 6, 6);
    for p in &b_people {
        let now = reg.get(p.nik).unwrap().unwrap();
        assert!(!now.full_name.ends_with(" Palsu"), "{}", now.full_name);
    }
    drop(reg);
    let after = mesh.audit();
    assert!(after.ok, "{:#?}", after.all_failures().collect::<Vec<_>>());
    assert_eq!(after.index.niks, 16, "A's 10 and B's own 6");
    // A second repair finds nothing to do.
    assert!(repair(&mesh.storage, mesh.roster.root(), NOW + 60_000)
        .unwrap()
        .is_empty());
}

#[test]
fn a_signature_from_a_fast_clock_covers_nothing_until_a_right_one_covers_its_change() {
    let mut mesh = Mesh::new();
    let clerk = mesh.certified(RoleKind::Village, Some(village_a()));
    let people = kampung_gen::village_residents(village_a(), 3, 3);
    // The office PC's clock is 20 minutes fast: its signature claims a time
    // after the audit's (as receivers judge it, too far ahead).
    let mut reg = mesh.registry(Some(&clerk), &clerk);
    reg.write(village_a(), &people[..2], NOW + 20 * 60_000, &mut |_| {})
        .unwrap();
    let report = mesh.audit();
    assert_eq!(
        kinds(&report),
        vec![FailureKind::Unsigned; 2],
        "{report:#?}"
    );
    assert_eq!(report.documents[0].signatures_clock_off, 1);
    assert_eq!(report.documents[1].signatures_clock_off, 1);
    // The clock is set right: the next write's signature covers the
    // early change too, and the audit passes, still counting the early one.
    reg.write(village_a(), &people[2..], NOW, &mut |_| {})
        .unwrap();
    drop(reg);
    let report = mesh.audit();
    assert!(
        report.ok,
        "{:#?}",
        report.all_failures().collect::<Vec<_>>()
    );
    assert_eq!(report.documents[0].signatures_clock_off, 1);
    assert_eq!(report.documents[0].signatures_valid, 1);
}
