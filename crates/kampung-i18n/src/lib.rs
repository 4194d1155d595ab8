//! What people read, from message catalogues: Bahasa Indonesia first,
//! English second (`locales/id.ftl`, `locales/en.ftl`, embedded at build
//! time). Verdicts, NIK rules, errors, places, dates and ages are rendered
//! here and nowhere else, for every front door (the pages, the API when a
//! client asks for `Accept-Language: id`, the CLI, the crossing log).
//!
//! ```
//! use kampung_i18n::{date_time, number, Lang};
//!
//! // 1 December 2026, 21:05 in Banyuwangi (14:05 UTC).
//! let ms = 1_796_133_900_000;
//! assert_eq!(date_time(Lang::Id, ms), "1 Desember 2026, 21.05 WIB");
//! assert_eq!(date_time(Lang::En, ms), "1 December 2026, 21:05 WIB");
//! assert_eq!(number(1_695_102), "1.695.102");
//! ```

mod record;
mod verdict;

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use kampung_core::checkpoint::WIB;
use time::{Date, OffsetDateTime};

pub use record::{field_problem, record_error, status, village_code_error};
pub use verdict::{
    access_answer, crossing_line, double_registration, explain, headline, nik_error, nik_warning,
    place, sex, Headline,
};

/// A language people read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Lang {
    /// Bahasa Indonesia, the default.
    #[default]
    Id,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Id => "id",
            Lang::En => "en",
        }
    }

    pub fn parse(code: &str) -> Option<Lang> {
        match code.trim().to_ascii_lowercase().as_str() {
            "id" | "id-id" | "in" => Some(Lang::Id),
            "en" | "en-us" | "en-gb" => Some(Lang::En),
            _ => None,
        }
    }

    /// The first language of an `Accept-Language` header this node speaks
    /// (by the order of preference the header gives); `None` if none.
    pub fn from_accept_language(header: &str) -> Option<Lang> {
        let mut choices: Vec<(f32, Lang)> = header
            .split(',')
            .filter_map(|part| {
                let mut it = part.split(';');
                let tag = it.next()?.trim();
                let q = it
                    .find_map(|p| p.trim().strip_prefix("q="))
                    .and_then(|q| q.parse::<f32>().ok())
                    .unwrap_or(1.0);
                let primary = tag.split('-').next()?;
                Some((q, Lang::parse(primary)?))
            })
            .collect();
        choices.sort_by(|a, b| b.0.total_cmp(&a.0));
        choices.first().map(|c| c.1)
    }

    fn bundle(self) -> &'static FluentBundle<FluentResource> {
        static ID: OnceLock<FluentBundle<FluentResource>> = OnceLock::new();
        static EN: OnceLock<FluentBundle<FluentResource>> = OnceLock::new();
        match self {
            Lang::Id => ID.get_or_init(|| bundle(unic_langid::langid!("id"), ID_FTL)),
            Lang::En => EN.get_or_init(|| bundle(unic_langid::langid!("en-US"), EN_FTL)),
        }
    }

    /// Every message of the catalogue formatted without arguments, once:
    /// the bundle is fixed at build time, so `t` is a pure function of the
    /// language and the key (verdict titles are read on every verdict).
    fn plain(self) -> &'static HashMap<String, String> {
        static ID: OnceLock<HashMap<String, String>> = OnceLock::new();
        static EN: OnceLock<HashMap<String, String>> = OnceLock::new();
        let (cell, source) = match self {
            Lang::Id => (&ID, ID_FTL),
            Lang::En => (&EN, EN_FTL),
        };
        cell.get_or_init(|| {
            let resource = FluentResource::try_new(source.to_string()).unwrap_or_else(|(r, _)| r);
            resource
                .entries()
                .filter_map(|e| match e {
                    fluent_syntax::ast::Entry::Message(m) if m.value.is_some() => {
                        Some(m.id.name.to_string())
                    }
                    _ => None,
                })
                .map(|key| {
                    let text = tr(self, &key, &[]);
                    (key, text)
                })
                .collect()
        })
    }
}

const ID_FTL: &str = include_str!("../locales/id.ftl");
const EN_FTL: &str = include_str!("../locales/en.ftl");

fn bundle(lang: unic_langid::LanguageIdentifier, source: &str) -> FluentBundle<FluentResource> {
    // The catalogues are part of the binary and checked by tests: a syntax
    // error there is a build defect, shown in the messages it breaks.
    let resource = FluentResource::try_new(source.to_string()).unwrap_or_else(|(r, _)| r);
    let mut b = FluentBundle::new_concurrent(vec![lang]);
    // No Unicode isolation marks around arguments: the text goes to
    // terminals, logs and JSON as well as to pages.
    b.set_use_isolating(false);
    if let Err(errors) = b.add_resource(resource) {
        debug_assert!(errors.is_empty(), "{errors:?}");
    }
    b
}

/// Arguments of a message: names and values (text or numbers).
pub type Args<'a> = &'a [(&'a str, Arg<'a>)];

/// One argument's value.
#[derive(Debug, Clone)]
pub enum Arg<'a> {
    Text(Cow<'a, str>),
    Number(f64),
}

impl<'a> From<&'a str> for Arg<'a> {
    fn from(s: &'a str) -> Self {
        Arg::Text(Cow::Borrowed(s))
    }
}

impl From<String> for Arg<'_> {
    fn from(s: String) -> Self {
        Arg::Text(Cow::Owned(s))
    }
}

impl From<u32> for Arg<'_> {
    fn from(n: u32) -> Self {
        Arg::Number(f64::from(n))
    }
}

/// The message `key` in `lang`, without arguments. An unknown key is shown
/// as itself (and fails the catalogue tests).
pub fn t(lang: Lang, key: &str) -> String {
    match lang.plain().get(key) {
        Some(text) => text.clone(),
        None => tr(lang, key, &[]),
    }
}

/// The message `key` in `lang` with `args`.
pub fn tr(lang: Lang, key: &str, args: Args<'_>) -> String {
    let bundle = lang.bundle();
    let Some(pattern) = bundle.get_message(key).and_then(|m| m.value()) else {
        return key.to_string();
    };
    if let Some(text) = plain_pattern(pattern, args) {
        return text;
    }
    let mut fa = FluentArgs::new();
    for (name, value) in args {
        match value {
            Arg::Text(s) => fa.set(*name, FluentValue::from(s.as_ref())),
            Arg::Number(n) => fa.set(*name, FluentValue::from(*n)),
        }
    }
    let mut errors = Vec::new();
    bundle
        .format_pattern(pattern, Some(&fa), &mut errors)
        .into_owned()
}

/// `pattern` written with `args` when it is only text and `{ $name }`
/// placeables of text arguments: what Fluent writes for it (isolation
/// marks are off), without its resolver, which took a tenth of a verdict's
/// CPU (`scripts/bench-verdict`). `None` for anything else (a selector, a
/// term, a function, a number, a missing argument): Fluent formats it.
fn plain_pattern(pattern: &fluent_syntax::ast::Pattern<&str>, args: Args<'_>) -> Option<String> {
    use fluent_syntax::ast::{Expression, InlineExpression, PatternElement};
    let mut out = String::with_capacity(160);
    for element in &pattern.elements {
        match element {
            PatternElement::TextElement { value } => out.push_str(value),
            PatternElement::Placeable {
                expression: Expression::Inline(InlineExpression::VariableReference { id }),
            } => match args.iter().find(|(name, _)| *name == id.name)? {
                (_, Arg::Text(text)) => out.push_str(text),
                (_, Arg::Number(_)) => return None,
            },
            _ => return None,
        }
    }
    Some(out)
}

/// Does the catalogue of `lang` have `key`?
pub fn has(lang: Lang, key: &str) -> bool {
    lang.bundle().has_message(key)
}

/// The message for an error code (`invalid_nik`, ...).
pub fn error(lang: Lang, code: &str) -> String {
    let key = format!("error-{code}");
    if has(lang, &key) {
        t(lang, &key)
    } else {
        t(lang, "error-other")
    }
}

/// Thousands with a full stop, as Indonesians write them: `1.695.102`.
pub fn number(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push('.');
        }
        out.push(c);
    }
    out
}

/// A day: `1 Desember 2026`.
pub fn date(lang: Lang, d: Date) -> String {
    let month = t(lang, &format!("month-{}", u8::from(d.month())));
    tr(
        lang,
        "date-long",
        &[
            ("day", d.day().to_string().into()),
            ("month", month.into()),
            ("year", d.year().to_string().into()),
        ],
    )
}

/// A moment in Banyuwangi: `1 Desember 2026, 21.05 WIB`.
pub fn date_time(lang: Lang, unix_ms: i64) -> String {
    let Ok(t) = OffsetDateTime::from_unix_timestamp(unix_ms.div_euclid(1000)) else {
        return String::new();
    };
    let t = t.to_offset(WIB);
    tr(
        lang,
        "date-time",
        &[
            ("date", date(lang, t.date()).into()),
            ("hour", format!("{:02}", t.hour()).into()),
            ("minute", format!("{:02}", t.minute()).into()),
        ],
    )
}

/// A day written short: `01-12-2026`.
pub fn short_date(d: Date) -> String {
    format!("{:02}-{:02}-{}", d.day(), u8::from(d.month()), d.year())
}

/// How long, in the largest whole unit: `3 menit`, `2 jam`.
pub fn age(lang: Lang, d: Duration) -> String {
    let secs = d.as_secs();
    let (key, n) = match secs {
        0..60 => ("age-seconds", secs),
        60..3600 => ("age-minutes", secs / 60),
        3600..172_800 => ("age-hours", secs / 3600),
        _ => ("age-days", secs / 86_400),
    };
    tr(lang, key, &[("n", n.to_string().into())])
}

/// How long ago: `3 menit lalu`, or `belum pernah` for `None`.
pub fn ago(lang: Lang, d: Option<Duration>) -> String {
    match d {
        Some(d) => tr(lang, "ago", &[("age", age(lang, d).into())]),
        None => t(lang, "never"),
    }
}

#[cfg(test)]
mod checkpoint_tests;
#[cfg(test)]
mod tests;
