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
fn the_day_of_moving_out_is_read_written_and_checked() {
    let text = format!(
        "{}\n{}\n{}\n",
        "nik,full_name,sex,birth_date,family_card,dusun,rt,rw,village_code,status,moved_to,moved_on,died_on",
        "3510151203850002,Slamet Riyadi,L,1985-03-12,3510150101100001,Krajan,1,2,35.10.15.2012,moved_out,Kota Surabaya,1/11/2026,",
        "3510151203850003,Budi,L,1985-03-12,3510150101100001,Krajan,1,2,35.10.15.2012,moved_out,Kota Malang,1984-01-01,",
    );
    let report = read(text.as_bytes(), 2026).unwrap();
    assert_eq!(
        report.rows[0].resident.status,
        Status::MovedOut {
            destination: "Kota Surabaya".into(),
            date: Some(time::macros::date!(2026 - 11 - 01)),
        }
    );
    // Moving before being born: the field and the reason.
    assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
    assert_eq!(
        (report.errors[0].line, report.errors[0].field),
        (3, Some("moved_on"))
    );
    assert!(report.errors[0]
        .reason
        .message(Lang::Id)
        .contains("lebih awal dari tanggal lahir"));
    // Written back with the day, under the column of its name.
    let mut out = Vec::new();
    write(&mut out, [&report.rows[0].resident]).unwrap();
    let out = String::from_utf8(out).unwrap();
    assert!(out.starts_with(&COLUMNS.join(",")), "{out}");
    assert!(
        out.contains(",moved_out,Kota Surabaya,2026-11-01,\n"),
        "{out}"
    );
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
        matches!(report.rows[1].resident.status, Status::MovedOut { ref destination, date: None } if destination == "Kota Surabaya")
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
    let unknown = format!("{HEADER},suku\n");
    assert!(
        matches!(read(unknown.as_bytes(), 2026), Err(FileError::UnknownColumns { unknown }) if unknown == "suku")
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
    assert!(e[0].reason.to_string().contains("birth day 32"), "{}", e[0]);
    assert_eq!((e[1].line, e[1].field), (4, Some("village_code")));
    assert_eq!((e[2].line, e[2].field), (5, Some("nik")));
    assert!(e[2].reason.to_string().contains("first on row 2"));
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

/// A bad row is named by the row number a spreadsheet shows, whatever line
/// breaks the program that saved the file wrote.
#[test]
fn rows_are_numbered_as_a_spreadsheet_shows_them_for_every_line_break() {
    const BAD: &str =
        "3510153203850001,Bad Day,P,1985-03-12,3510150101100001,Krajan,1,2,35.10.15.2012,active,,";
    const OTHER: &str =
        "3510151203850002,Slamet Riyadi,L,1985-03-12,3510150101100001,Krajan,1,2,35.10.15.2012,active,,";
    for (name, eol) in [("LF", "\n"), ("CRLF", "\r\n"), ("CR", "\r")] {
        // Row 1 the header, 2 good, 3 good, 4 bad, 5 blank, 6 bad again.
        let text = [HEADER, GOOD, OTHER, BAD, "", BAD].join(eol) + eol;
        let report = read(text.as_bytes(), 2026).unwrap();
        let good: Vec<u64> = report.rows.iter().map(|r| r.line).collect();
        assert_eq!(good, [2, 3], "{name}: {:?}", report.errors);
        let bad: Vec<u64> = report.errors.iter().map(|e| e.line).collect();
        assert_eq!(bad, [4, 6], "{name}: {:?}", report.errors);
        assert_eq!(report.errors[0].field, Some("nik"), "{name}");
    }
    // A line break inside a quoted cell stays in its row, as in a spreadsheet.
    let text = format!(
        "{HEADER}\r\n3510155203850001,\"Sri\r\nWahyuni\",P,1985-03-12,3510150101100001,Krajan,1,2,35.10.15.2012,active,,\r\n{BAD}\r\n"
    );
    let report = read(text.as_bytes(), 2026).unwrap();
    // (A name with a line break in it is itself refused, on its own row.)
    let bad: Vec<(u64, Option<&str>)> = report.errors.iter().map(|e| (e.line, e.field)).collect();
    assert_eq!(
        bad,
        [(2, Some("full_name")), (3, Some("nik"))],
        "{:?}",
        report.errors
    );
    // A row with a field too many, after a byte order mark and CRLF.
    let text = format!("\u{feff}{HEADER}\r\n{GOOD}\r\n{GOOD},x\r\n");
    let report = read(text.as_bytes(), 2026).unwrap();
    assert_eq!(report.errors[0].line, 3, "{:?}", report.errors);
}

/// A workbook as a village office keeps it: SIAK's headers, a title row
/// above them, a date typed as a date, one unpadded `d/m/yyyy`, and a NIK
/// that Excel turned into a number.
#[test]
fn workbooks_read_with_siak_headers_dates_and_row_numbers() {
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    let headers = [
        "NIK",
        "NAMA LENGKAP",
        "JENIS KELAMIN",
        "TANGGAL LAHIR",
        "NO KK",
        "DUSUN",
        "RT",
        "RW",
        "KODE DESA",
    ];
    // Row 1: a title; row 2: the headers.
    sheet
        .write_string(0, 0, "DATA PENDUDUK DESA KAMPUNGANYAR")
        .unwrap();
    for (c, h) in headers.iter().enumerate() {
        sheet.write_string(1, c as u16, *h).unwrap();
    }
    let date = Format::new().set_num_format("dd/mm/yyyy");
    // Row 3: good, the birth date a real date cell, RT and RW numbers.
    sheet.write_string(2, 0, "3510155203850001").unwrap();
    sheet.write_string(2, 1, "SRI WAHYUNI").unwrap();
    sheet.write_string(2, 2, "PEREMPUAN").unwrap();
    sheet
        .write_datetime_with_format(2, 3, ExcelDateTime::from_ymd(1985, 3, 12).unwrap(), &date)
        .unwrap();
    sheet.write_string(2, 4, "3510150101100001").unwrap();
    sheet.write_string(2, 5, "Krajan").unwrap();
    sheet.write_number(2, 6, 1).unwrap();
    sheet.write_number(2, 7, 2).unwrap();
    sheet.write_string(2, 8, "35.10.15.2012").unwrap();
    // Row 4: good, the date as text without padding.
    let row4 = [
        "3510151203850002",
        "SLAMET RIYADI",
        "LAKI-LAKI",
        "12/3/1985",
        "3510150101100001",
        "Krajan",
        "1",
        "2",
        "35.10.15.2012",
    ];
    for (c, v) in row4.iter().enumerate() {
        sheet.write_string(3, c as u16, *v).unwrap();
    }
    // Row 5: the NIK as a number (Excel keeps 15 digits).
    sheet.write_number(4, 0, 3_510_150_101_300_001.0).unwrap();
    for (c, v) in row4.iter().enumerate().skip(1) {
        sheet.write_string(4, c as u16, *v).unwrap();
    }
    let bytes = book.save_to_buffer().unwrap();
    assert!(is_workbook(&bytes));

    let report = read_file(&bytes, 2026).unwrap();
    let lines: Vec<u64> = report.rows.iter().map(|r| r.line).collect();
    assert_eq!(lines, [3, 4], "{:?}", report.errors);
    let sri = &report.rows[0].resident;
    assert_eq!(sri.full_name, "SRI WAHYUNI");
    assert_eq!(sri.sex, Sex::Female);
    assert_eq!(sri.birth_date.to_string(), "1985-03-12");
    assert_eq!((sri.address.rt, sri.address.rw), (1, 2));
    assert_eq!(report.rows[1].resident.birth_date.to_string(), "1985-03-12");
    assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
    let e = &report.errors[0];
    assert_eq!((e.line, e.field), (5, Some("nik")));
    assert!(
        e.reason.to_string().contains("format the column as Text"),
        "{}",
        e.reason
    );
}

#[test]
fn an_xlsx_export_reads_back_the_same_with_every_digit() {
    let text = file(&[
        GOOD,
        "3510151203850002,Slamet Riyadi,L,1985-03-12,3510150101100001,Krajan,1,2,35.10.15.2012,moved_out,Kota Surabaya,",
        "3510150101300001,Misnadi,L,1930-01-01,3510150101100002,Krajan,3,2,35.10.15.2012,deceased,,2020-05-01",
    ]);
    let report = read(text.as_bytes(), 2026).unwrap();
    let people: Vec<Resident> = report.rows.iter().map(|r| r.resident.clone()).collect();
    let bytes = write_xlsx(&people).unwrap();
    let again = read_workbook(&bytes, 2026).unwrap();
    assert!(again.errors.is_empty(), "{:?}", again.errors);
    let back: Vec<Resident> = again.rows.into_iter().map(|r| r.resident).collect();
    assert_eq!(back, people);
    // Not a workbook: told, not a CSV parse error.
    let err = read_workbook(b"PK\x03\x04 not really a zip", 2026).unwrap_err();
    assert!(matches!(err, FileError::Workbook(_)), "{err}");
}

#[test]
fn a_nik_turned_into_a_number_by_excel_is_explained_in_a_csv_too() {
    // Excel in an Indonesian locale: `;` between cells, `,` as the decimal mark.
    let text = format!(
        "{}\n3,51015E+15;Sri Wahyuni;P;1985-03-12;3510150101100001;Krajan;1;2;35.10.15.2012;active;;\n",
        HEADER.replace(',', ";")
    );
    let report = read(text.as_bytes(), 2026).unwrap();
    assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
    assert_eq!(report.errors[0].field, Some("nik"));
    assert!(report.errors[0]
        .reason
        .to_string()
        .contains("Excel turned this NIK into a number"));
}

#[test]
fn headers_as_village_offices_write_them_are_understood() {
    for (header, column) in [
        ("NAMA LENGKAP", "full_name"),
        ("Nama_Lgkp", "full_name"),
        ("JENIS KELAMIN", "sex"),
        ("TGL_LHR", "birth_date"),
        ("Tanggal Lahir", "birth_date"),
        ("NO KK", "family_card"),
        ("No. KK", "family_card"),
        ("full_name", "full_name"),
        (" NIK ", "nik"),
    ] {
        assert_eq!(column_of(header), Some(column), "{header}");
    }
    assert_eq!(column_of("agama"), None);
    for (text, date) in [
        ("8/5/1987", "1987-05-08"),
        ("08-05-1987", "1987-05-08"),
        ("1987-05-08", "1987-05-08"),
        ("8.5.1987", "1987-05-08"),
    ] {
        assert_eq!(
            parse_date("birth_date", text).unwrap().to_string(),
            date,
            "{text}"
        );
    }
    for bad in ["1987-13-01", "31/2/1987", "8/5/87", "", "1987/5"] {
        assert!(parse_date("birth_date", bad).is_err(), "{bad}");
    }
}

#[test]
fn names_without_visible_letters_or_with_text_reordering_characters_are_refused() {
    let text = file(&[
        // zero-width spaces only
        "3510155203850001,\u{200B}\u{200B},P,1985-03-12,3510150101100001,Krajan,1,2,35.10.15.2012,active,,",
        // a right-to-left override inside the name
        "3510155203850002,Sri \u{202E}inuyhaW,P,1985-03-12,3510150101100001,Krajan,1,2,35.10.15.2012,active,,",
        // the same in the dusun
        "3510155203850003,Sri Wahyuni,P,1985-03-12,3510150101100001,\u{2067}Krajan,1,2,35.10.15.2012,active,,",
    ]);
    let report = read(text.as_bytes(), 2026).unwrap();
    assert!(report.rows.is_empty(), "{:?}", report.rows);
    let got: Vec<(u64, Option<&str>, String)> = report
        .errors
        .iter()
        .map(|e| (e.line, e.field, e.reason.message(Lang::En)))
        .collect();
    assert_eq!(got[0].0, 2);
    assert_eq!(got[0].1, Some("full_name"));
    assert!(got[0].2.contains("no visible character"), "{got:?}");
    assert_eq!((got[1].0, got[1].1), (3, Some("full_name")));
    assert!(got[1].2.contains("reorders text"), "{got:?}");
    assert_eq!((got[2].0, got[2].1), (4, Some("dusun")));
    assert!(report.errors[2]
        .reason
        .message(Lang::Id)
        .contains("membalik urutan teks"));
}

#[test]
fn a_cell_a_spreadsheet_would_run_as_a_formula_is_exported_defused_and_read_back_as_it_was() {
    let text = file(&[
        "3510151203850002,Slamet Riyadi,L,1985-03-12,3510150101100001,=HYPERLINK(\"http://x\"),1,2,35.10.15.2012,moved_out,@SUM(A1),",
    ]);
    let report = read(text.as_bytes(), 2026).unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let r = &report.rows[0].resident;
    let mut out = Vec::new();
    write(&mut out, [r]).unwrap();
    let out = String::from_utf8(out).unwrap();
    let row = out.lines().nth(1).unwrap();
    assert!(row.contains("\"'=HYPERLINK(\"\"http://x\"\")\""), "{row}");
    assert!(row.contains(",'@SUM(A1),"), "{row}");
    // Every cell of the export starts with something a spreadsheet shows as text.
    for cell in row.split(',') {
        assert!(!cell.starts_with(['=', '+', '-', '@']), "{cell} in {row}");
    }
    let again = read(out.as_bytes(), 2026).unwrap();
    assert_eq!(&again.rows[0].resident, r);
}

/// A village office's own list has no village code column: read for the
/// office, every row is of its village. A file with the column is read as
/// it says; read for nobody, the column is required.
#[test]
fn an_office_file_without_a_village_code_is_of_the_office_village() {
    let ours: VillageCode = "35.10.15.2012".parse().unwrap();
    let text = "NIK;Nama Lengkap;Jenis Kelamin;Tanggal Lahir;No KK;Dusun;RT;RW\n\
                3510155203850001;Sri Wahyuni;P;12/03/1985;3510150101100001;Krajan;1;2\n";
    let report = read_file_for(text.as_bytes(), 2026, Some(ours)).unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.rows[0].resident.village, ours);
    assert!(matches!(
        read_file(text.as_bytes(), 2026),
        Err(FileError::MissingColumns { .. })
    ));
    let other = file(&[&GOOD.replace("35.10.15.2012", "35.10.15.2001")]);
    let report = read_file_for(other.as_bytes(), 2026, Some(ours)).unwrap();
    assert_eq!(
        report.rows[0].resident.village,
        "35.10.15.2001".parse::<VillageCode>().unwrap(),
        "a village code in the file is kept (the import refuses it)"
    );
}

/// Columns an office's list has that the registry does not keep (its
/// running number, place of birth, religion...) are left out and named;
/// any other unknown column is still refused.
#[test]
fn columns_the_registry_does_not_keep_are_left_out_and_named() {
    let text = "No,NIK,Nama,L/P,Tempat Lahir,Tgl Lahir,No KK,Alamat,RT,RW,Dusun,Agama,Pekerjaan,Kode Desa\n\
                1,3510155203850001,Sri Wahyuni,P,Banyuwangi,12-03-1985,3510150101100001,Jl. Mawar 3,1,2,Krajan,Islam,Petani,35.10.15.2012\n";
    let report = read(text.as_bytes(), 2026).unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.rows[0].resident.full_name, "Sri Wahyuni");
    assert_eq!(
        report.ignored,
        ["No", "Tempat Lahir", "Alamat", "Agama", "Pekerjaan"]
    );
    let misspelt = format!("{HEADER},stats\n{GOOD},x\n");
    assert!(matches!(
        read(misspelt.as_bytes(), 2026),
        Err(FileError::UnknownColumns { unknown }) if unknown == "stats"
    ));
}
