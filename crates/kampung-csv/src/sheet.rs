//! Workbooks as village offices keep them: `.xlsx` and `.xls` from Excel,
//! `.ods` from LibreOffice, read with the same checks and the same report
//! as a CSV (the first sheet; rows numbered as the spreadsheet shows them);
//! and the export as `.xlsx` with NIK and KK stored as text, so that
//! opening it does not turn them into numbers.

use std::io::Cursor;

use calamine::{Data, Reader};
use kampung_core::Resident;

use crate::{excel_number_reason, Checker, FileError, ReadReport, RowError, COLUMNS};

/// Rows above the header that may hold a title.
const TITLE_ROWS: usize = 10;

/// Does `bytes` start like a workbook (a zip: `.xlsx`, `.ods`; or an OLE
/// compound file: `.xls`) rather than text?
pub fn is_workbook(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0])
}

/// Read the first sheet of a workbook, checking every row as [`crate::read`]
/// does a CSV. `this_year` is the century pivot of NIK birth years.
pub fn read_workbook(bytes: &[u8], this_year: i32) -> Result<ReadReport, FileError> {
    read_workbook_for(bytes, this_year, None)
}

/// [`read_workbook`] for the office of `village`: a file without a village
/// code column is of that village (see [`crate::read_file_for`]).
pub(crate) fn read_workbook_for(
    bytes: &[u8],
    this_year: i32,
    village: Option<kampung_core::VillageCode>,
) -> Result<ReadReport, FileError> {
    let mut book = calamine::open_workbook_auto_from_rs(Cursor::new(bytes))
        .map_err(|e| FileError::Workbook(e.to_string()))?;
    let sheet = book
        .sheet_names()
        .first()
        .cloned()
        .ok_or(FileError::Empty)?;
    let range = book
        .worksheet_range(&sheet)
        .map_err(|e| FileError::Workbook(format!("sheet '{sheet}': {e}")))?;
    // The sheet's first used row may be below row 1, and a title may stand
    // above the header: the header is the first row with a NIK column.
    let first_row = range.start().map_or(0, |(row, _)| row);
    let mut rows = range.rows().enumerate();
    let header = loop {
        let Some((i, cells)) = rows.next() else {
            return Err(FileError::Empty);
        };
        let header: csv::StringRecord = cells.iter().map(|c| text(c, None)).collect();
        if header.iter().any(|h| crate::column_of(h) == Some("nik")) || i >= TITLE_ROWS {
            break header;
        }
    };
    let columns: Vec<Option<&'static str>> = header.iter().map(crate::column_of).collect();
    let mut checker = Checker::new(&header, this_year, village)?;
    for (i, cells) in rows {
        let line = u64::from(first_row) + i as u64 + 1;
        let mut record = csv::StringRecord::new();
        let mut numeric_id = None;
        for (cell, column) in cells.iter().zip(&columns) {
            if let (Some(field @ ("nik" | "family_card")), Data::Float(_) | Data::Int(_)) =
                (column, cell)
            {
                numeric_id.get_or_insert((*field, text(cell, None)));
            }
            record.push_field(&text(cell, *column));
        }
        match numeric_id {
            Some((field, shown)) => checker.report.errors.push(RowError {
                line,
                field: Some(field),
                reason: excel_number_reason(field, &shown),
            }),
            None => checker.row(line, &record),
        }
    }
    Ok(checker.report)
}

/// A cell as the text a CSV would hold: dates as `YYYY-MM-DD`, whole
/// numbers without `.0`.
fn text(cell: &Data, column: Option<&str>) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.trim().to_string(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{f:.0}"),
        // A NIK typed as a number: Excel shows it like this.
        Data::Float(f) if matches!(column, Some("nik" | "family_card")) => {
            format!("{f:.5E}")
        }
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(d) => {
            let (y, m, day, ..) = d.to_ymd_hms_milli();
            format!("{y:04}-{m:02}-{day:02}")
        }
        Data::Error(e) => format!("#{e:?}"),
    }
}

/// Residents as an `.xlsx` workbook with the import's columns; NIK and KK
/// (and RT/RW) stored as text, so that Excel keeps every digit.
pub fn write_xlsx<'a>(
    residents: impl IntoIterator<Item = &'a Resident>,
) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    use rust_xlsxwriter::{Format, Workbook};
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("warga")?;
    let text_cell = Format::new().set_num_format("@");
    let bold = Format::new().set_bold();
    for (col, name) in COLUMNS.iter().enumerate() {
        let col = u16::try_from(col).unwrap_or(u16::MAX);
        sheet.write_string_with_format(0, col, *name, &bold)?;
        sheet.set_column_format(col, &text_cell)?;
    }
    for (i, r) in residents.into_iter().enumerate() {
        let row = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let cells = crate::cells(r);
        for (col, value) in cells.iter().enumerate() {
            let col = u16::try_from(col).unwrap_or(u16::MAX);
            sheet.write_string_with_format(row, col, value, &text_cell)?;
        }
    }
    sheet.set_column_width(0, 20)?;
    sheet.set_column_width(1, 28)?;
    sheet.set_column_width(4, 20)?;
    book.save_to_buffer()
}
