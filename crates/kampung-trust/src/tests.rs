use kampung_core::{Policy, Region, VillageCode};
use libp2p_identity::Keypair;

use super::*;

fn key(k: &Keypair) -> NodeKey {
    NodeKey::from_public(&k.public()).unwrap()
}

fn village() -> VillageCode {
    "35.10.15.2012".parse().unwrap()
}

fn cert(root: &Keypair, node: &Keypair, role: RoleKind, v: Option<VillageCode>) -> Signed {
    Signed::sign(
        Statement::Certificate(Certificate {
            node: key(node),
            role,
            village: v,
            label: "test".into(),
            not_before_ms: 1_000,
            until_ms: 2_000,
        }),
        root,
    )
    .unwrap()
}

#[test]
fn statements_verify_only_against_their_root() {
    let root = Keypair::generate_ed25519();
    let other = Keypair::generate_ed25519();
    let node = Keypair::generate_ed25519();
    let c = cert(&root, &node, RoleKind::Checkpoint, None);
    assert!(c.verify(&key(&root)).is_ok());
    assert!(matches!(
        c.verify(&key(&other)),
        Err(TrustError::NotSignedByRoot {
            what: "certificate"
        })
    ));
    let mut roster = Roster::new(key(&root));
    assert!(roster
        .add(cert(&other, &node, RoleKind::Checkpoint, None))
        .is_err());
    assert!(roster.is_empty());
    assert!(roster.add(c.clone()).unwrap());
    assert!(
        !roster.add(c).unwrap(),
        "the same statement twice is not new"
    );
}

#[test]
fn altered_statements_fail() {
    let root = Keypair::generate_ed25519();
    let node = Keypair::generate_ed25519();
    let mut c = cert(&root, &node, RoleKind::Village, Some(village()));
    if let Statement::Certificate(inner) = &mut c.statement {
        inner.until_ms = i64::MAX;
    }
    assert!(c.verify(&key(&root)).is_err());
    let mut c = cert(&root, &node, RoleKind::Village, Some(village()));
    c.signature.0[5] ^= 1;
    assert!(c.verify(&key(&root)).is_err());
}

#[test]
fn wire_and_file_forms_round_trip() {
    let root = Keypair::generate_ed25519();
    let node = Keypair::generate_ed25519();
    let c = cert(&root, &node, RoleKind::Village, Some(village()));
    assert_eq!(Signed::decode(&c.encode()).unwrap(), c);
    let text = c.to_file_text();
    assert!(text.contains(&key(&node).to_string()), "{text}");
    assert!(text.contains("35.10.15.2012"));
    let back = Signed::from_file_text(&text).unwrap();
    assert_eq!(back, c);
    assert!(back.verify(&key(&root)).is_ok());
    assert!(Signed::decode(&[0xff; 10]).is_err());
    assert!(Signed::decode(&vec![0; MAX_STATEMENT_BYTES + 1]).is_err());
}

#[test]
fn certificates_must_fit_their_role() {
    let root = Keypair::generate_ed25519();
    let node = Keypair::generate_ed25519();
    let bad = Statement::Certificate(Certificate {
        node: key(&node),
        role: RoleKind::Village,
        village: None,
        label: String::new(),
        not_before_ms: 0,
        until_ms: 1,
    });
    assert!(Signed::sign(bad, &root).is_err());
    let bad = Statement::Certificate(Certificate {
        node: key(&node),
        role: RoleKind::Checkpoint,
        village: Some(village()),
        label: String::new(),
        not_before_ms: 0,
        until_ms: 1,
    });
    assert!(Signed::sign(bad, &root).is_err());
}

#[test]
fn a_renewal_that_starts_before_the_end_carries_the_certificate_on() {
    let root = Keypair::generate_ed25519();
    let node = Keypair::generate_ed25519();
    let mut roster = Roster::new(key(&root));
    roster
        .add(cert(&root, &node, RoleKind::Checkpoint, None))
        .unwrap();
    assert_eq!(roster.certified_until(&key(&node), 1_500), Some(2_000));
    assert_eq!(roster.certified_until(&key(&node), 2_500), None);
    let renewal = |from, until| {
        Signed::sign(
            Statement::Certificate(Certificate {
                node: key(&node),
                role: RoleKind::Checkpoint,
                village: None,
                label: "test".into(),
                not_before_ms: from,
                until_ms: until,
            }),
            &root,
        )
        .unwrap()
    };
    // A renewal after a gap does not carry it on; one that overlaps does.
    roster.add(renewal(2_100, 9_000)).unwrap();
    assert_eq!(roster.certified_until(&key(&node), 1_500), Some(2_000));
    roster.add(renewal(1_900, 3_000)).unwrap();
    assert_eq!(roster.certified_until(&key(&node), 1_500), Some(9_000));
}

#[test]
fn admission_needs_a_certificate_in_force_and_no_revocation() {
    let root = Keypair::generate_ed25519();
    let node = Keypair::generate_ed25519();
    let stranger = Keypair::generate_ed25519();
    let mut roster = Roster::new(key(&root));
    roster
        .add(cert(&root, &node, RoleKind::Checkpoint, None))
        .unwrap();
    assert!(roster.admit(&key(&node), 1_500).is_ok());
    assert!(matches!(
        roster.admit(&key(&node), 2_001),
        Err(Denial::NotInForce { .. })
    ));
    assert!(matches!(
        roster.admit(&key(&node), 999),
        Err(Denial::NotInForce { .. })
    ));
    assert!(matches!(
        roster.admit(&key(&stranger), 1_500),
        Err(Denial::NoCertificate { .. })
    ));
    let revoke = Signed::sign(
        Statement::Revocation(Revocation {
            node: key(&node),
            from_ms: 1_600,
            reason: "laptop stolen".into(),
        }),
        &root,
    )
    .unwrap();
    roster.add(revoke).unwrap();
    assert!(roster.admit(&key(&node), 1_500).is_ok());
    assert!(matches!(
        roster.admit(&key(&node), 1_700),
        Err(Denial::Revoked { .. })
    ));
}

#[test]
fn roles_write_only_their_documents() {
    let root = Keypair::generate_ed25519();
    let v = Keypair::generate_ed25519();
    let cp = Keypair::generate_ed25519();
    let gor = Keypair::generate_ed25519();
    let aud = Keypair::generate_ed25519();
    let mut roster = Roster::new(key(&root));
    roster
        .add(cert(&root, &v, RoleKind::Village, Some(village())))
        .unwrap();
    roster
        .add(cert(&root, &cp, RoleKind::Checkpoint, None))
        .unwrap();
    roster
        .add(cert(&root, &gor, RoleKind::Facility, None))
        .unwrap();
    roster
        .add(cert(&root, &aud, RoleKind::Auditor, None))
        .unwrap();
    let other_village: VillageCode = "35.10.15.2001".parse().unwrap();
    let cp_peer = cp.public().to_peer_id().to_string();
    let v_peer = v.public().to_peer_id().to_string();
    let t = 1_500;
    assert!(roster
        .may_write(&key(&v), &WriteTarget::Residents(village()), t)
        .is_ok());
    assert!(roster
        .may_write(&key(&v), &WriteTarget::Residents(other_village), t)
        .is_err());
    assert!(roster
        .may_write(&key(&v), &WriteTarget::CrossingLog(&v_peer), t)
        .is_err());
    assert!(roster
        .may_write(&key(&cp), &WriteTarget::CrossingLog(&cp_peer), t)
        .is_ok());
    assert!(roster
        .may_write(&key(&gor), &WriteTarget::CrossingLog(&cp_peer), t)
        .is_err());
    assert!(roster
        .may_write(&key(&cp), &WriteTarget::Residents(village()), t)
        .is_err());
    for k in [&v, &cp, &gor] {
        assert!(roster.may_write(&key(k), &WriteTarget::Case, t).is_ok());
    }
    assert!(roster.may_write(&key(&aud), &WriteTarget::Case, t).is_err());
    assert!(roster
        .may_write(&key(&aud), &WriteTarget::Residents(village()), t)
        .is_err());
    // Expired at signing time.
    assert!(roster
        .may_write(&key(&v), &WriteTarget::Residents(village()), 2_500)
        .is_err());
}

#[test]
fn newest_policy_wins_in_any_order() {
    let root = Keypair::generate_ed25519();
    let p = |version, barred: Vec<Region>| {
        Signed::sign(
            Statement::Policy(IssuedPolicy {
                policy: Policy {
                    version,
                    barred,
                    isolation_days: 14,
                    ..Default::default()
                },
                issued_ms: 5,
            }),
            &root,
        )
        .unwrap()
    };
    let v1 = p(1, vec![]);
    let v2 = p(2, vec![Region::Province(51)]);
    let mut a = Roster::new(key(&root));
    let mut b = Roster::new(key(&root));
    assert_eq!(a.policy(), Policy::default());
    a.add(v1.clone()).unwrap();
    a.add(v2.clone()).unwrap();
    b.add(v2).unwrap();
    b.add(v1).unwrap();
    assert_eq!(a.policy().version, 2);
    assert_eq!(a.policy(), b.policy());
    assert_eq!(a.digest(), b.digest());
}

#[test]
fn a_policy_with_a_retention_travels_as_its_own_kind_and_earlier_policies_keep_their_bytes() {
    let root = Keypair::generate_ed25519();
    let mut policy = Policy {
        version: 3,
        barred: vec![Region::Province(51)],
        isolation_days: 14,
        ..Default::default()
    };
    let plain = IssuedPolicy {
        policy: policy.clone(),
        issued_ms: 5,
    };
    // Without a retention: the kind and bytes every node reads.
    assert!(matches!(
        plain.clone().into_statement(),
        Statement::Policy(_)
    ));
    let v1 = Signed::sign(Statement::Policy(plain), &root).unwrap();
    assert_eq!(
        hex(&postcard::to_stdvec(&v1.statement).unwrap()),
        "0203010235310e0a",
        "the signed bytes of a policy without retention must not change"
    );
    policy.version = 4;
    policy.retention.crossing_months = 3;
    policy.retention.closed_case_days = 30;
    let retained = Signed::sign(
        IssuedPolicy {
            policy: policy.clone(),
            issued_ms: 6,
        }
        .into_statement(),
        &root,
    )
    .unwrap();
    assert_eq!(retained.statement.kind(), "policy");
    let back = Signed::decode(&retained.encode()).unwrap();
    back.verify(&key(&root)).unwrap();
    let from_file = Signed::from_file_text(&retained.to_file_text()).unwrap();
    assert_eq!(from_file, back);
    let mut roster = Roster::new(key(&root));
    roster.add(v1).unwrap();
    roster.add(back).unwrap();
    assert_eq!(roster.policy(), policy);
    assert_eq!(roster.policy().retention.crossing_months, 3);
}

#[test]
fn a_policy_naming_holders_travels_as_its_own_kind_and_sets_the_rosters_rule() {
    let root = Keypair::generate_ed25519();
    let kampunganyar: VillageCode = "35.10.15.2012".parse().unwrap();
    let ketapang: VillageCode = "35.10.21.2003".parse().unwrap();
    let mut policy = Policy {
        version: 5,
        isolation_days: 14,
        ..Default::default()
    };
    policy.retention.crossing_months = 3;
    policy.holders = kampung_core::HolderRule::new(1, [(kampunganyar, vec![ketapang])]).unwrap();
    let statement = IssuedPolicy {
        policy: policy.clone(),
        issued_ms: 7,
    }
    .into_statement();
    assert!(
        matches!(statement, Statement::HeldPolicy(_)),
        "{statement:?}"
    );
    let held = Signed::sign(statement, &root).unwrap();
    let from_file = Signed::from_file_text(&held.to_file_text()).unwrap();
    from_file.verify(&key(&root)).unwrap();
    let back = Signed::decode(&held.encode()).unwrap();
    assert_eq!(back, from_file);
    let mut roster = Roster::new(key(&root));
    assert!(roster.holders().is_default());
    roster.add(back).unwrap();
    assert_eq!(roster.policy(), policy);
    assert!(roster.holders().keeps(ketapang, kampunganyar));
    assert_eq!(roster.holders().holders_of(kampunganyar), vec![ketapang]);

    // A rule naming every village's holders is longer than a statement
    // may be: refused when signed, not by every node that receives it.
    let villages: Vec<VillageCode> = kampung_core::banyuwangi::villages()
        .iter()
        .map(|v| v.code)
        .collect();
    let every = villages
        .iter()
        .zip(villages.iter().cycle().skip(1))
        .map(|(v, h)| (*v, vec![*h]));
    let mut long = policy.clone();
    long.holders = kampung_core::HolderRule::new(2, every).unwrap();
    let err = Signed::sign(
        IssuedPolicy {
            policy: long,
            issued_ms: 8,
        }
        .into_statement(),
        &root,
    )
    .unwrap_err();
    assert!(err.to_string().contains("at most 4096"), "{err}");

    // A file whose rule names a village as its own holder is refused
    // when read, whoever signed it.
    let text = held
        .to_file_text()
        .replace("35.10.21.2003", "35.10.15.2012");
    let err = Signed::from_file_text(&text).unwrap_err();
    assert!(err.to_string().contains("own holder"), "{err}");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn write_signatures_bind_doc_change_time_and_signer() {
    let root = Keypair::generate_ed25519();
    let v = Keypair::generate_ed25519();
    let mut roster = Roster::new(key(&root));
    roster
        .add(cert(&root, &v, RoleKind::Village, Some(village())))
        .unwrap();
    let target = WriteTarget::Residents(village());
    let sig = WriteSignature::create(&v, "v/35.10.15.2012", [7; 32], 1_500).unwrap();
    assert_eq!(WriteSignature::decode(&sig.encode()).unwrap(), sig);
    assert!(roster.check_write(&sig, &target, 1_500).is_ok());
    let mut altered = sig.clone();
    altered.change[0] ^= 1;
    assert!(matches!(
        roster.check_write(&altered, &target, 1_500),
        Err(Denial::BadSignature(_))
    ));
    let mut altered = sig.clone();
    altered.signed_ms = 1_400;
    assert!(roster.check_write(&altered, &target, 1_500).is_err());
    let mut altered = sig.clone();
    altered.doc = "v/35.10.15.2001".into();
    assert!(altered.verify_signature().is_err());
    let future = WriteSignature::create(&v, "v/35.10.15.2012", [7; 32], 1_900).unwrap();
    assert!(matches!(
        roster.check_write(&future, &target, 1_900 - MAX_CLOCK_SKEW_MS - 1),
        Err(Denial::FromTheFuture { .. })
    ));
    assert!(WriteSignature::decode(&[1, 2, 3]).is_err());
}

#[test]
fn one_signature_covers_its_writers_chain_only() {
    let a = [1u8; 32];
    let b = [2u8; 32];
    let ka = NodeKey(a);
    let kb = NodeKey(b);
    // a1 <- a2 <- b1 <- a3 ; forged x (actor a) depends on a1 but is not below a3.
    let h = |n: u8| [n; 32];
    let d1: Vec<[u8; 32]> = vec![];
    let d2 = vec![h(1)];
    let d3 = vec![h(2)];
    let d4 = vec![h(3)];
    let dx = vec![h(1)];
    let changes = [
        ChangeRef {
            hash: h(1),
            actor: &a,
            deps: &d1,
        },
        ChangeRef {
            hash: h(2),
            actor: &a,
            deps: &d2,
        },
        ChangeRef {
            hash: h(3),
            actor: &b,
            deps: &d3,
        },
        ChangeRef {
            hash: h(4),
            actor: &a,
            deps: &d4,
        },
        ChangeRef {
            hash: h(9),
            actor: &a,
            deps: &dx,
        },
    ];
    let none = |_: &[u8; 32], _: &[u8]| false;
    // a's signature on a3 covers a1, a2, a3 but neither b1 nor the forged change.
    assert_eq!(uncovered(&changes, &[(h(4), ka)], none), vec![h(3), h(9)]);
    assert_eq!(
        uncovered(&changes, &[(h(4), ka), (h(3), kb)], none),
        vec![h(9)]
    );
    // A signature by b on a's change covers nothing of a's.
    assert_eq!(
        uncovered(&changes[..2], &[(h(2), kb)], none),
        vec![h(1), h(2)]
    );
    // Exempt changes (already held) need nothing.
    let held = |x: &[u8; 32], _: &[u8]| *x == h(9);
    assert_eq!(
        uncovered(&changes, &[(h(4), ka), (h(3), kb)], held),
        Vec::<[u8; 32]>::new()
    );
}

#[test]
fn node_keys_parse_from_peer_ids_and_hex() {
    let k = Keypair::generate_ed25519();
    let nk = key(&k);
    let peer = k.public().to_peer_id();
    assert_eq!(NodeKey::from_peer_id(&peer), Some(nk));
    assert_eq!(peer.to_string().parse::<NodeKey>().unwrap(), nk);
    let hex: String = nk.0.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hex.parse::<NodeKey>().unwrap(), nk);
    assert!("not-a-key".parse::<NodeKey>().is_err());
}

#[test]
fn weak_keys_are_refused_and_sign_nothing() {
    // The identity point: a small-order key for which "signatures" verify
    // under a lax check without any secret.
    let mut weak = [0u8; 32];
    weak[0] = 1;
    assert_eq!(NodeKey::from_actor(&weak), None);
    assert!(!NodeKey(weak).verify(b"anything", &Signature(vec![0; 64])));
    let mut r_identity = vec![0u8; 64];
    r_identity[0] = 1;
    assert!(!NodeKey(weak).verify(b"anything", &Signature(r_identity)));
    // The input fuzzing found: a write signature "by" a weak key that
    // verified whatever its fields said. It no longer decodes (or verifies).
    let found = include_bytes!("../fuzz-regressions/write-signature-weak-key");
    if let Ok(sig) = WriteSignature::decode(found) {
        assert!(sig.verify_signature().is_err());
    }
}
