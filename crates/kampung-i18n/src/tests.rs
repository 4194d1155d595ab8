use std::collections::BTreeSet;
use std::time::Duration;

use kampung_core::{CheckVerdict, Nik, Policy};

use super::*;

/// Every message id, and the arguments it uses, of a catalogue's source.
fn messages(source: &str) -> Vec<(String, BTreeSet<String>)> {
    let mut out: Vec<(String, BTreeSet<String>)> = Vec::new();
    for line in source.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        if !line.starts_with(' ') {
            if let Some((id, _)) = line.split_once(" =") {
                out.push((id.trim().to_string(), BTreeSet::new()));
            }
        }
        if let Some((_, args)) = out.last_mut() {
            for part in line.split("{ $").skip(1) {
                let name: String = part
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                args.insert(name);
            }
        }
    }
    out
}

#[test]
fn both_catalogues_parse_and_hold_the_same_messages_with_the_same_arguments() {
    for (name, source) in [("id", ID_FTL), ("en", EN_FTL)] {
        assert!(
            fluent_bundle::FluentResource::try_new(source.to_string()).is_ok(),
            "{name}.ftl does not parse"
        );
    }
    let id = messages(ID_FTL);
    let en = messages(EN_FTL);
    for (name, list) in [("id", &id), ("en", &en)] {
        let mut seen = BTreeSet::new();
        for (m, _) in list {
            assert!(
                seen.insert(m),
                "{name}.ftl defines {m} twice (the second would override the first)"
            );
        }
    }
    let ids: Vec<&String> = id.iter().map(|m| &m.0).collect();
    let ens: Vec<&String> = en.iter().map(|m| &m.0).collect();
    assert_eq!(
        ids.len(),
        ens.len(),
        "the catalogues hold different numbers of messages"
    );
    for (i, e) in id.iter().zip(&en) {
        assert_eq!(
            i.0, e.0,
            "the catalogues list their messages in the same order"
        );
        assert_eq!(
            i.1, e.1,
            "message {} takes other arguments in id and en",
            i.0
        );
    }
}

#[test]
fn dates_times_numbers_as_indonesians_write_them() {
    let d = time::macros::date!(2026 - 12 - 01);
    assert_eq!(date(Lang::Id, d), "1 Desember 2026");
    assert_eq!(short_date(d), "01-12-2026");
    assert_eq!(number(0), "0");
    assert_eq!(number(999), "999");
    assert_eq!(number(1_000), "1.000");
    assert_eq!(number(1_708_114), "1.708.114");
    assert_eq!(
        ago(Lang::Id, Some(Duration::from_secs(180))),
        "3 menit lalu"
    );
    assert_eq!(ago(Lang::En, Some(Duration::from_secs(7200))), "2 h ago");
    assert_eq!(ago(Lang::Id, None), "belum pernah");
}

#[test]
fn accept_language_picks_the_preferred_known_language() {
    assert_eq!(
        Lang::from_accept_language("id-ID,id;q=0.9,en;q=0.8"),
        Some(Lang::Id)
    );
    assert_eq!(Lang::from_accept_language("en-US,en;q=0.9"), Some(Lang::En));
    assert_eq!(
        Lang::from_accept_language("fr;q=0.9, en;q=0.5"),
        Some(Lang::En)
    );
    assert_eq!(
        Lang::from_accept_language("en;q=0.3, id;q=0.8"),
        Some(Lang::Id)
    );
    assert_eq!(Lang::from_accept_language("fr"), None);
}

fn decide(nik: &str, policy: &Policy) -> CheckVerdict {
    CheckVerdict::decide(Nik::parse(nik, 2026), None, None, policy, None)
}

#[test]
fn verdicts_read_as_officers_read_them() {
    let bali = Policy {
        barred: vec![kampung_core::Region::Province(51)],
        isolation_days: 14,
        ..Policy::default()
    };
    let barred = decide("5101015203850007", &bali);
    let h = headline(Lang::Id, &barred);
    assert_eq!(h.title, "DILARANG MASUK");
    assert!(h.detail.contains("Putar balik"), "{}", h.detail);
    assert!(explain(Lang::En, &barred).starts_with("BARRED: not a Banyuwangi resident"));
    let jember = decide("3509154203900002", &bali);
    assert_eq!(
        explain(Lang::Id, &jember),
        "BUKAN WARGA BANYUWANGI — Tidak ada dalam data kependudukan Banyuwangi; NIK diterbitkan di Kabupaten Jember, Jawa Timur (35.09). Wajib isolasi 14 hari: GOR, rumah isolasi desa, atau di rumah."
    );
    assert!(explain(Lang::En, &jember).contains("Policy: isolate 14 days"));
    let short = decide("351015520385001", &bali);
    assert_eq!(
        explain(Lang::Id, &short),
        "NIK TIDAK VALID — NIK harus 16 angka, ini 15 angka."
    );
    let feb = decide("3510153102900001", &bali);
    assert_eq!(
        headline(Lang::Id, &feb).detail,
        "tanggal lahir 31-02-1990 (angka 7-12) tidak ada."
    );
}

#[test]
fn access_log_answers_read_in_the_readers_language() {
    use crate::access_answer;
    assert_eq!(access_answer(Lang::Id, "resident"), "WARGA BANYUWANGI");
    assert_eq!(
        access_answer(Lang::Id, "resident_under_isolation"),
        "SEDANG ISOLASI"
    );
    assert_eq!(access_answer(Lang::Id, "not_found"), "tidak ditemukan");
    assert_eq!(access_answer(Lang::En, "found"), "found");
    assert_eq!(
        access_answer(Lang::Id, "35.10.15.2012"),
        "Desa Kampunganyar (35.10.15.2012)"
    );
    assert_eq!(
        access_answer(Lang::Id, "changes=2 crossings=1 cases=0"),
        "2 perubahan, 1 pemeriksaan di pos, 0 catatan kasus"
    );
    assert_eq!(
        access_answer(Lang::Id, "crossings=1250"),
        "1.250 pemeriksaan di pos"
    );
    assert_eq!(
        access_answer(Lang::En, "export bytes=1234"),
        "raw document exported (1234 bytes)"
    );
    // Entries logged before answers were codes, and anything unknown: as stored.
    for old in [
        "3 crossings",
        "raw document exported (12 bytes)",
        "crossings=x",
        "export",
    ] {
        assert_eq!(access_answer(Lang::Id, old), old);
    }
}

#[test]
fn the_plain_pattern_path_writes_what_fluent_writes_for_every_message() {
    for lang in [Lang::Id, Lang::En] {
        let source = match lang {
            Lang::Id => ID_FTL,
            Lang::En => EN_FTL,
        };
        let bundle = lang.bundle();
        let mut fast = 0;
        for (key, names) in messages(source) {
            let Some(pattern) = bundle.get_message(&key).and_then(|m| m.value()) else {
                continue;
            };
            // Text with characters JSON and pages escape, per argument.
            let values: Vec<String> = names.iter().map(|n| format!("<{n}> \"ü\"")).collect();
            let args: Vec<(&str, Arg<'_>)> = names
                .iter()
                .zip(&values)
                .map(|(n, v)| (n.as_str(), Arg::from(v.as_str())))
                .collect();
            let Some(ours) = plain_pattern(pattern, &args) else {
                continue;
            };
            fast += 1;
            let mut fa = FluentArgs::new();
            for (n, v) in names.iter().zip(&values) {
                fa.set(n.as_str(), FluentValue::from(v.as_str()));
            }
            let mut errors = Vec::new();
            let fluent = bundle.format_pattern(pattern, Some(&fa), &mut errors);
            assert!(errors.is_empty(), "{key}: {errors:?}");
            assert_eq!(ours, fluent, "{lang:?} {key}");
            // A missing argument goes to Fluent, which names it.
            if let Some((first, _)) = args.first() {
                let fewer: Vec<(&str, Arg<'_>)> =
                    args.iter().filter(|(n, _)| n != first).cloned().collect();
                assert!(plain_pattern(pattern, &fewer).is_none(), "{key}");
            }
        }
        assert!(
            fast > 50,
            "{lang:?}: only {fast} messages take the plain path"
        );
    }
}
