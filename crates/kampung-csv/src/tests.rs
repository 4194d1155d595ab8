use super::*;

const HEADER: &str =
    "nik,full_name,sex,birth_date,family_card,dusun,rt,rw,village_code,status,moved_to,died_on";
const GOOD: &str =
    "3510155203850001,Sri Wahyuni,P,1985-03-12,3510150101100001,Krajan,1,2,35.10.15.2012,active,,";

fn file(rows: &[&str]) -> String {
    let mut s = String::from(HEADER);
    for r in rows {
        s.push('\n');
        s.push_str(r);
    }
    s.push('\n');
    s
}

#[test]
fn reads_a_good_file_and_round_trips() {
    let text = file(&[
        GOOD,
        "3510151203850002,Slamet Riyadi,L,12-03-1985,3510150101100001,Krajan,1,2,35.10.15.2012,moved_out,Kota Surabaya,",
        "3510150101300001,Misnadi,L,1930-01-01,3510150101100002,Krajan,3,2,35.10.15.2012,deceased,,2020-05-01",
    ]);
    let report = read(text.as_bytes(), 2026).unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.rows.len(), 3);
    assert_eq!(report.rows[1].line, 3);
    assert!(
        matches!(report.rows[1].resident.status, Status::MovedOut { ref destination } if destination == "Kota Surabaya")
    );
    let mut out = Vec::new();
    write(&mut out, report.rows.iter().map(|r| &r.resident)).unwrap();
    let again = read(out.as_slice(), 2026).unwrap();
    let a: Vec<_> = report.rows.iter().map(|r| &r.resident).collect();
    let b: Vec<_> = again.rows.iter().map(|r| &r.resident).collect();
    assert_eq!(a, b);
}

#[test]
fn header_problems_are_file_errors() {
    assert!(matches!(read("".as_bytes(), 2026), Err(FileError::Empty)));
    let missing = "nik,full_name\n1,2\n";
    match read(missing.as_bytes(), 2026) {
        Err(FileError::MissingColumns { missing, .. }) => assert!(missing.contains("birth_date")),
        other => panic!("{other:?}"),
    }
    let unknown = format!("{HEADER},agama\n");
    assert!(
        matches!(read(unknown.as_bytes(), 2026), Err(FileError::UnknownColumns { unknown }) if unknown == "agama")
    );
}

#[test]
fn every_bad_row_is_reported_with_line_and_field() {
    let text = file(&[
        GOOD,
        "3510153203850001,Bad Day,P,1985-03-12,3510150101100001,Krajan,1,2,35.10.15.2012,active,,",
        "3510155203850003,Unknown Village,P,1985-03-12,3510150101100001,Krajan,1,2,35.10.15.2999,active,,",
        "3510155203850001,Duplicate,P,1985-03-12,3510150101100001,Krajan,1,2,35.10.15.2012,active,,",
        "3510155203850004,\"Unclosed quote,P,1985-03-12,3510150101100001,Krajan,1,2,35.10.15.2012,active,,",
    ]);
    let report = read(text.as_bytes(), 2026).unwrap();
    assert_eq!(report.rows.len(), 1);
    let e = &report.errors;
    assert_eq!(e.len(), 4, "{e:?}");
    assert_eq!((e[0].line, e[0].field), (3, Some("nik")));
    assert!(e[0].reason.contains("birth day 32"), "{}", e[0]);
    assert_eq!((e[1].line, e[1].field), (4, Some("village_code")));
    assert_eq!((e[2].line, e[2].field), (5, Some("nik")));
    assert!(e[2].reason.contains("first on line 2"));
    assert_eq!(e[3].line, 6);
    assert!(e[3].to_string().starts_with("line 6"));
}

#[test]
fn wrong_field_count_and_bad_values() {
    let text = file(&[
        "3510155203850001,Sri,P,1985-03-12",
        "3510155203850002,Sri,X,1985-03-12,3510150101100001,Krajan,1,2,35.10.15.2012,active,,",
        "3510155203850003,Sri,P,1985-13-12,3510150101100001,Krajan,1,2,35.10.15.2012,active,,",
        "3510155203850004,Sri,P,1985-03-12,351015,Krajan,1,2,35.10.15.2012,active,,",
        "3510155203850005,Sri,P,1985-03-12,3510150101100001,Krajan,RT1,2,35.10.15.2012,active,,",
        "3510155203850006,Sri,P,1985-03-12,3510150101100001,Krajan,1,2,35.10.15.2012,gone,,",
        "3510155203850007,,P,1985-03-12,3510150101100001,Krajan,1,2,35.10.15.2012,active,,",
        "3510155203850008,Sri,P,1985-03-12,3510150101100001,Krajan,1,2,35.10.15.2012,moved_out,,",
    ]);
    let report = read(text.as_bytes(), 2026).unwrap();
    let fields: Vec<_> = report.errors.iter().map(|e| e.field).collect();
    assert_eq!(
        fields,
        [
            None,
            Some("sex"),
            Some("birth_date"),
            Some("family_card"),
            Some("rt"),
            Some("status"),
            Some("full_name"),
            Some("moved_to")
        ]
    );
    assert!(report.rows.is_empty());
}

#[test]
fn excel_semicolons_and_bom_are_accepted() {
    let text = format!(
        "\u{feff}{}\n{}\n",
        HEADER.replace(',', ";"),
        GOOD.replace(',', ";")
    );
    let report = read(text.as_bytes(), 2026).unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.rows.len(), 1);
}

#[test]
fn warnings_do_not_reject() {
    // The registry says born on the 13th; the NIK says the 12th.
    let row = GOOD.replace("1985-03-12", "1985-03-13");
    let report = read(file(&[&row]).as_bytes(), 2026).unwrap();
    assert!(report.errors.is_empty());
    assert_eq!(report.rows[0].warnings.len(), 1);
}
