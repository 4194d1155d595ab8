//! Records as one value: every status reads back as written, a record is
//! one operation, a record written as a map of fields (before format 2) is
//! still read, its history spans the change of form, and a value that is not
//! a record is refused by name.

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, ObjType, ReadDoc, ScalarValue};
use kampung_core::{Status, VillageCode};
use time::macros::date;

use super::*;
use crate::doc::tests::resident;
use crate::doc::{Upsert, VillageDoc};

fn village() -> VillageCode {
    VillageCode::parse("35.10.15.2012").unwrap()
}

fn statuses() -> Vec<Status> {
    vec![
        Status::Active,
        Status::MovedOut {
            destination: "Kota Surabaya".into(),
            date: Some(date!(2026 - 11 - 01)),
        },
        Status::MovedOut {
            destination: "Kab. \"Jember\", Jawa Timur".into(),
            date: None,
        },
        Status::Deceased {
            date: Some(date!(2026 - 02 - 28)),
        },
        Status::Deceased { date: None },
    ]
}

#[test]
fn every_status_reads_back_as_written() {
    for status in statuses() {
        let mut r = resident("3510155203850001", "Sri Wahyuni \u{2019}Ayu");
        r.status = status;
        let value = encode(&r, 1_777_600_000_123);
        let back = decode(r.nik, village(), &value).unwrap();
        assert!(back.same_content(&r), "{value}");
        assert_eq!(back.updated_at_ms, 1_777_600_000_123);
    }
}

#[test]
fn a_record_is_one_operation_and_one_change() {
    let mut d = VillageDoc::genesis(village());
    let actor = ActorId::from(vec![7u8; 32]);
    let mut r = resident("3510155203850001", "Sri Wahyuni");
    d.upsert(&actor, &r, 1_000).unwrap();
    r.address.rt = 9;
    d.upsert(&actor, &r, 2_000).unwrap();
    let changes = d.automerge().get_changes(&[]);
    assert_eq!(changes.len(), 3, "genesis, add, correct");
    for c in &changes[1..] {
        assert_eq!(c.len(), 1, "one operation: {:?}", c.message());
    }
    assert_eq!(d.get(r.nik).unwrap().unwrap().address.rt, 9);
}

/// A record as nodes wrote it before format 2: a map of fields.
fn put_as_map(d: &mut VillageDoc, actor: &ActorId, nik: &str, name: &str, at_ms: i64) {
    let residents = d.residents.clone();
    let am = d.automerge_mut();
    am.set_actor(actor.clone());
    let mut tx = am.transaction();
    let o = tx.put_object(&residents, nik, ObjType::Map).unwrap();
    tx.put(&o, "name", name).unwrap();
    tx.put(&o, "sex", "P").unwrap();
    tx.put(&o, "birth", 2_446_137i64).unwrap();
    tx.put(&o, "kk", "3510150101100001").unwrap();
    tx.put(&o, "dusun", "Krajan").unwrap();
    tx.put(&o, "rt", 1u64).unwrap();
    tx.put(&o, "rw", 2u64).unwrap();
    tx.put(&o, "status", "active").unwrap();
    tx.put(&o, "updated", ScalarValue::Timestamp(at_ms))
        .unwrap();
    tx.commit_with(
        CommitOptions::default()
            .with_message(format!("add {nik}"))
            .with_time(at_ms / 1000),
    );
}

#[test]
fn a_record_written_as_a_map_is_read_and_becomes_a_value_when_next_written() {
    let mut d = VillageDoc::genesis(village());
    let actor = ActorId::from(vec![7u8; 32]);
    put_as_map(&mut d, &actor, "3510155203850001", "Sri Wahyuni", 1_000);
    let old = d
        .get(resident("3510155203850001", "x").nik)
        .unwrap()
        .unwrap();
    assert_eq!(old.full_name, "Sri Wahyuni");
    assert_eq!(old.birth_date, date!(1985 - 03 - 12));
    assert_eq!(old.updated_at_ms, 1_000);
    // Unchanged content writes nothing, whatever the form.
    let mut r = resident("3510155203850001", "Sri Wahyuni");
    assert_eq!(d.upsert(&actor, &r, 2_000).unwrap(), Upsert::Unchanged);
    let before = d.heads();
    r.status = Status::Deceased {
        date: Some(date!(2026 - 10 - 02)),
    };
    assert!(matches!(
        d.upsert(&actor, &r, 3_000).unwrap(),
        Upsert::Changed(_)
    ));
    assert_eq!(
        d.touched_since(&before)
            .unwrap()
            .into_iter()
            .collect::<Vec<_>>(),
        vec![r.nik]
    );
    let key = r.nik.to_string();
    assert!(matches!(
        d.automerge().get(&d.residents, key.as_str()).unwrap(),
        Some((automerge::Value::Scalar(_), _))
    ));
    // The auditor's history spans both forms.
    let history = d.record_history(r.nik).unwrap();
    assert_eq!(history.len(), 2);
    assert!(history[0].before.is_none());
    assert_eq!(history[0].after.as_ref().unwrap().status, Status::Active);
    assert_eq!(history[1].before.as_ref().unwrap().status, Status::Active);
    assert!(history[1].after.as_ref().unwrap().same_content(&r));
    // As does reading the village as it stood before the edit.
    let then = d.residents_at(&before).unwrap();
    assert_eq!(then.len(), 1);
    assert_eq!(then[0].status, Status::Active);
    let loaded = VillageDoc::load(village(), Some(&d.save()), []).unwrap();
    let all: Vec<_> = loaded.residents().collect::<Result<_, _>>().unwrap();
    assert!(all[0].same_content(&r));
}

#[test]
fn a_later_format_with_more_fields_is_read() {
    let r = resident("3510155203850001", "Sri Wahyuni");
    let value = encode(&r, 5);
    let newer = format!("[3,{},\"a field added later\"]", &value[3..value.len() - 1]);
    let back = decode(r.nik, village(), &newer).unwrap();
    assert!(back.same_content(&r), "{newer}");
}

#[test]
fn a_value_that_is_not_a_record_is_refused_naming_the_field() {
    let r = resident("3510155203850001", "Sri Wahyuni");
    let good = encode(&r, 5);
    let cases = [
        ("not json".to_string(), "record"),
        ("{\"name\": \"Sri\"}".to_string(), "record"),
        ("[2, \"Sri\"]".to_string(), "record"),
        (good.replacen("[2,", "[1,", 1), "format"),
        (good.replacen("\"P\"", "\"X\"", 1), "sex"),
        (good.replacen("\"active\"", "\"lost\"", 1), "status"),
        (good.replacen(",1,2,", ",70000,2,", 1), "rt"),
        (good.replacen("\"Krajan\"", "7", 1), "dusun"),
    ];
    for (value, field) in cases {
        match decode(r.nik, village(), &value) {
            Err(crate::doc::DocError::BadRecord { field: f, .. }) => {
                assert_eq!(f, field, "{value}")
            }
            other => panic!("{value}: {other:?}"),
        }
    }
    // A value of another type under a NIK is refused too.
    let mut d = VillageDoc::genesis(village());
    let residents = d.residents.clone();
    let mut tx = d.automerge_mut().transaction();
    tx.put(&residents, r.nik.to_string(), 42i64).unwrap();
    tx.commit();
    assert!(matches!(
        d.get(r.nik),
        Err(crate::doc::DocError::BadRecord {
            field: "record",
            ..
        })
    ));
}
