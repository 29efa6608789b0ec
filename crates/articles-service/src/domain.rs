//! Validated domain values. Every value that reaches the store went through one of the
//! `parse` functions here, so the store never sees an invalid title or author id.

use std::fmt;
use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// A value that failed validation: which field, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema, thiserror::Error)]
#[error("invalid {field}: {problem}")]
pub struct InvalidField {
    /// The name of the field as it appears on the wire, e.g. `title`.
    pub field: String,
    /// What is wrong with it, in words.
    pub problem: String,
}

impl InvalidField {
    /// A problem with `field`.
    pub fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            problem: problem.into(),
        }
    }
}

// The rules below are written twice: as code (the `parse` functions) and as the ECMA-262
// regular expressions and bounds of the OpenAPI document (the `PATTERN` and `MAX_*`
// constants, which openapi.rs puts in the document). The document is built from these
// constants only, and the tests of openapi.rs check each pattern against its parser on
// generated strings, so a rule changed on one side only fails a test.

// === ArticleId ===

/// An article's id: a random (v4) UUID, assigned by the service.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ArticleId(Uuid);

impl ArticleId {
    /// A new random id.
    pub fn random() -> Self {
        Self(Uuid::new_v4())
    }

    /// What [`ArticleId::parse`] accepts, as a regular expression: the hyphenated form.
    pub const PATTERN: &str =
        "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$";

    /// Parses the hyphenated form (either case), e.g.
    /// `3f0c2b9e-2f6a-4a51-9d43-0c3a3b4f8b11`: the form the API writes and the document's
    /// `format: uuid` names; the simple, braced and URN forms are refused.
    pub fn parse(raw: &str) -> Result<Self, InvalidField> {
        // 36 characters is the hyphenated form only: the other forms have 32, 38 and 45.
        Some(raw)
            .filter(|raw| raw.len() == 36)
            .and_then(|raw| Uuid::try_parse(raw).ok())
            .map(Self)
            .ok_or_else(|| InvalidField::new("id", format!("{:?} is not a UUID", truncate(raw))))
    }

    /// The UUID.
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl From<Uuid> for ArticleId {
    fn from(id: Uuid) -> Self {
        Self(id)
    }
}

impl fmt::Display for ArticleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

impl fmt::Debug for ArticleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ArticleId({self})")
    }
}

// === Title ===

/// An article title: 1 to 200 characters, not only whitespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Title(String);

impl Title {
    /// The longest title accepted, in characters.
    pub const MAX_CHARS: usize = 200;

    /// What [`Title::parse`] accepts besides its length, as a regular expression: no
    /// control character (Unicode's Cc, what `char::is_control` tests), and at least one
    /// character that is not whitespace (Unicode's `White_Space`, what `str::trim`
    /// removes, spelled out so that every regex dialect reads it alike).
    pub const PATTERN: &str = concat!(
        r"^[^\u0000-\u001F\u007F-\u009F]*",
        r"[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]",
        r"[^\u0000-\u001F\u007F-\u009F]*$"
    );

    /// Accepts 1 to 200 characters that are not all whitespace and contain no control
    /// characters.
    pub fn parse(raw: &str) -> Result<Self, InvalidField> {
        let count = raw.chars().count();
        if raw.trim().is_empty() {
            return Err(InvalidField::new("title", "must not be empty"));
        }
        if count > Self::MAX_CHARS {
            return Err(InvalidField::new(
                "title",
                format!("must be at most 200 characters, got {count}"),
            ));
        }
        if raw.chars().any(char::is_control) {
            return Err(InvalidField::new(
                "title",
                "must not contain control characters",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The title.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

// === Body ===

/// An article body: any text up to 100,000 characters (it may be empty).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Body(String);

impl Body {
    /// The longest body accepted, in characters.
    pub const MAX_CHARS: usize = 100_000;

    /// Accepts up to 100,000 characters.
    pub fn parse(raw: &str) -> Result<Self, InvalidField> {
        let count = raw.chars().count();
        if count > Self::MAX_CHARS {
            return Err(InvalidField::new(
                "body",
                format!("must be at most 100000 characters, got {count}"),
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The body.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

// === AuthorId ===

/// The author's user id in user-schedule-service: 1 to 64 characters of
/// `[A-Za-z0-9._-]`, and not `.` or `..` (which a URL path would swallow).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct AuthorId(String);

impl AuthorId {
    /// The longest id accepted.
    pub const MAX_LEN: usize = 64;

    /// What [`AuthorId::parse`] accepts, as a regular expression without look-around
    /// (which not every dialect has): a first character other than `.`, or `.` and then
    /// another, or `..` and at least one more.
    pub const PATTERN: &str = concat!(
        "^([A-Za-z0-9_-][A-Za-z0-9._-]{0,63}",
        "|[.][A-Za-z0-9_-][A-Za-z0-9._-]{0,62}",
        "|[.][.][A-Za-z0-9._-]{1,62})$"
    );

    /// Accepts 1 to 64 characters of `[A-Za-z0-9._-]`, other than `.` and `..`.
    pub fn parse(raw: &str) -> Result<Self, InvalidField> {
        if raw.is_empty() || raw.len() > Self::MAX_LEN {
            return Err(InvalidField::new(
                "author_id",
                format!("must be 1 to 64 characters, got {}", raw.chars().count()),
            ));
        }
        if !raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            return Err(InvalidField::new(
                "author_id",
                format!(
                    "{:?} may contain only letters, digits, '.', '_' and '-'",
                    truncate(raw)
                ),
            ));
        }
        if raw == "." || raw == ".." {
            return Err(InvalidField::new(
                "author_id",
                format!("{raw:?} is not a user id"),
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AuthorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

// === Status ===

/// Where an article stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Being written (the default).
    Draft,
    /// Its publication is booked in the author's schedule.
    Scheduled,
    /// Out.
    Published,
}

impl Status {
    /// Accepts `draft`, `scheduled` or `published`; `field` names the field in the error.
    pub fn parse(raw: &str, field: &str) -> Result<Self, InvalidField> {
        match raw {
            "draft" => Ok(Self::Draft),
            "scheduled" => Ok(Self::Scheduled),
            "published" => Ok(Self::Published),
            other => Err(InvalidField::new(
                field,
                format!(
                    "{:?} is not one of draft, scheduled, published",
                    truncate(other)
                ),
            )),
        }
    }

    /// The wire and storage form.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Scheduled => "scheduled",
            Self::Published => "published",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// === Article ===

/// An article as stored and as served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Article {
    /// Assigned by the service.
    #[schema(value_type = uuid::Uuid)]
    pub id: ArticleId,
    /// 1 to 200 characters, not only whitespace, no control characters.
    #[schema(value_type = String)]
    pub title: Title,
    /// Up to 100,000 characters.
    #[schema(value_type = String)]
    pub body: Body,
    /// The author's user id in user-schedule-service: 1 to 64 of `[A-Za-z0-9._-]`, not
    /// `.` or `..`.
    #[schema(value_type = String)]
    pub author_id: AuthorId,
    /// When the article is to be published (RFC 3339).
    #[serde(
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub publish_at: Option<OffsetDateTime>,
    /// Where the article stands.
    pub status: Status,
    /// The id of the publication event booked in the author's schedule, once booked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule_event_id: Option<String>,
    /// When the article was created (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// When the article last changed (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
}

/// The fields a client writes: the body of `POST /articles` and `PUT /articles/{id}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArticleInput {
    /// The title.
    pub title: Title,
    /// The body.
    pub body: Body,
    /// The author.
    pub author_id: AuthorId,
    /// When to publish, if known.
    pub publish_at: Option<OffsetDateTime>,
    /// The status (`draft` when not given).
    pub status: Status,
}

impl ArticleInput {
    /// A new article made of this input, created `now`.
    pub fn into_article(self, id: ArticleId, now: OffsetDateTime) -> Article {
        Article {
            id,
            title: self.title,
            body: self.body,
            author_id: self.author_id,
            publish_at: self.publish_at,
            status: self.status,
            schedule_event_id: None,
            created_at: now,
            updated_at: now,
        }
    }
}

/// The earliest year a timestamp may be written with. user-schedule-service holds the
/// years 1678 to 2261 as written; a year of margin on each side keeps the publication
/// event and the author-schedule window around `publish_at` (computed in UTC) inside them.
pub const TIMESTAMP_MIN_YEAR: i32 = 1679;
/// The latest year a timestamp may be written with (see [`TIMESTAMP_MIN_YEAR`]).
pub const TIMESTAMP_MAX_YEAR: i32 = 2260;
/// What [`parse_timestamp`] accepts, as a regular expression: the shape of an RFC 3339
/// date-time (no leap second) whose year is from 1679 to 2260 (the document adds `format:
/// date-time`, which also rules out days a month does not have).
pub const TIMESTAMP_PATTERN: &str = concat!(
    "^(1679|16[89][0-9]|1[7-9][0-9]{2}|2[01][0-9]{2}|22[0-5][0-9]|2260)",
    r"-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]([.][0-9]+)?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"
);

/// Parses an RFC 3339 timestamp whose year, as written, is from 1679 to 2260 into UTC
/// with microsecond precision (what both stores keep), naming `field` in the error.
pub fn parse_timestamp(raw: &str, field: &str) -> Result<OffsetDateTime, InvalidField> {
    let bad = || {
        InvalidField::new(
            field,
            format!(
                "{:?} is not an RFC 3339 timestamp such as 2026-05-01T09:00:00Z",
                truncate(raw)
            ),
        )
    };
    // The `time` crate takes any separator and leap seconds; RFC 3339's `T` (or `t`) and
    // no leap second is what the document can state.
    if !matches!(raw.as_bytes().get(10), Some(b'T' | b't')) || raw.get(17..19) == Some("60") {
        return Err(bad());
    }
    let parsed = OffsetDateTime::parse(raw, &time::format_description::well_known::Rfc3339)
        .map_err(|_| bad())?;
    if !(TIMESTAMP_MIN_YEAR..=TIMESTAMP_MAX_YEAR).contains(&parsed.year()) {
        return Err(InvalidField::new(
            field,
            "must be between the years 1679 and 2260",
        ));
    }
    Ok(truncate_to_micros(parsed.to_offset(time::UtcOffset::UTC)))
}

/// A clock reading as a UTC timestamp with microsecond precision.
pub fn timestamp(now: SystemTime) -> OffsetDateTime {
    truncate_to_micros(OffsetDateTime::from(now))
}

/// Drops sub-microsecond digits, so a value reads back from either store exactly as written.
pub fn truncate_to_micros(t: OffsetDateTime) -> OffsetDateTime {
    let micros = t.nanosecond() / 1_000;
    t.replace_nanosecond(micros * 1_000).unwrap_or(t)
}

// === Cursor ===

/// A position in the article list: the last article of a page, by `(created_at, id)`.
///
/// On the wire it is opaque (base64url of `<unix microseconds>.<uuid>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// `created_at` of the last article seen.
    pub created_at: OffsetDateTime,
    /// `id` of the last article seen.
    pub id: ArticleId,
}

impl Cursor {
    /// The cursor that continues after `article`.
    pub fn after(article: &Article) -> Self {
        Self {
            created_at: article.created_at,
            id: article.id,
        }
    }

    /// The opaque wire form.
    pub fn encode(&self) -> String {
        let micros = self.created_at.unix_timestamp_nanos() / 1_000;
        URL_SAFE_NO_PAD.encode(format!("{micros}.{}", self.id))
    }

    /// Parses the opaque wire form.
    pub fn parse(raw: &str) -> Result<Self, InvalidField> {
        let bad = || InvalidField::new("cursor", "is not a cursor this service returned");
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| bad())?;
        let text = String::from_utf8(bytes).map_err(|_| bad())?;
        let (micros, id) = text.split_once('.').ok_or_else(bad)?;
        let micros: i128 = micros.parse().map_err(|_| bad())?;
        let created_at =
            OffsetDateTime::from_unix_timestamp_nanos(micros * 1_000).map_err(|_| bad())?;
        let id = ArticleId::parse(id).map_err(|_| bad())?;
        Ok(Self { created_at, id })
    }
}

/// One page of the article list: what to fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// At most this many articles (1 to 100).
    pub limit: u32,
    /// Start after this position; `None` for the first page.
    pub after: Option<Cursor>,
    /// Only articles with this status.
    pub status: Option<Status>,
}

/// One page of the article list: what was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The articles, oldest first.
    pub articles: Vec<Article>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<Cursor>,
}

/// Caps a value echoed in an error message, so a client cannot make us log megabytes.
fn truncate(raw: &str) -> String {
    raw.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_bounds() {
        assert!(Title::parse("A").is_ok());
        assert!(Title::parse(&"é".repeat(200)).is_ok());
        assert_eq!(Title::parse(&"é".repeat(201)).unwrap_err().field, "title");
        assert!(Title::parse("").is_err());
        assert!(Title::parse("   ").is_err());
        assert!(Title::parse("a\nb").is_err());
    }

    #[test]
    fn author_id_pattern() {
        assert!(AuthorId::parse("alice.smith-01_x").is_ok());
        assert!(AuthorId::parse(&"a".repeat(64)).is_ok());
        assert!(AuthorId::parse(&"a".repeat(65)).is_err());
        assert!(AuthorId::parse("").is_err());
        assert!(AuthorId::parse("a/b").is_err());
        assert!(AuthorId::parse("a b").is_err());
        assert!(AuthorId::parse("é").is_err());
        assert!(AuthorId::parse(".").is_err());
        assert!(AuthorId::parse("..").is_err());
        assert!(AuthorId::parse("...").is_ok());
    }

    #[test]
    fn status_round_trips() {
        for status in [Status::Draft, Status::Scheduled, Status::Published] {
            assert_eq!(Status::parse(status.as_str(), "status").unwrap(), status);
        }
        assert_eq!(
            Status::parse("Draft", "status").unwrap_err().field,
            "status"
        );
    }

    #[test]
    fn timestamps_are_utc_micros() {
        let t = parse_timestamp("2026-05-01T11:00:00.123456789+02:00", "publish_at").unwrap();
        assert_eq!(t.offset(), time::UtcOffset::UTC);
        assert_eq!(t.hour(), 9);
        assert_eq!(t.nanosecond(), 123_456_000);
        assert!(parse_timestamp("2026-05-01 09:00", "publish_at").is_err());
    }

    #[test]
    fn cursor_round_trips() {
        let cursor = Cursor {
            created_at: parse_timestamp("2026-05-01T09:00:00.000001Z", "x").unwrap(),
            id: ArticleId::random(),
        };
        assert_eq!(Cursor::parse(&cursor.encode()).unwrap(), cursor);
        assert!(Cursor::parse("garbage!").is_err());
        assert!(Cursor::parse(&URL_SAFE_NO_PAD.encode("12.not-a-uuid")).is_err());
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn parsers_never_panic(raw in ".*") {
                let _ = Title::parse(&raw);
                let _ = Body::parse(&raw);
                let _ = AuthorId::parse(&raw);
                let _ = ArticleId::parse(&raw);
                let _ = Cursor::parse(&raw);
                let _ = parse_timestamp(&raw, "publish_at");
            }

            #[test]
            fn valid_author_ids_are_kept(raw in "[A-Za-z0-9._-]{1,64}") {
                prop_assume!(raw != "." && raw != "..");
                let parsed = AuthorId::parse(&raw).unwrap();
                prop_assert_eq!(parsed.as_str(), raw.as_str());
            }

            #[test]
            fn cursors_round_trip(micros in 0i64..253_402_300_799_000_000, id: u128) {
                let created_at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000).unwrap();
                let cursor = Cursor { created_at, id: ArticleId::from(Uuid::from_u128(id)) };
                prop_assert_eq!(Cursor::parse(&cursor.encode()).unwrap(), cursor);
            }

            #[test]
            fn titles_count_characters(raw in "[^\\p{Cc}]{1,250}") {
                prop_assume!(!raw.trim().is_empty());
                prop_assert_eq!(Title::parse(&raw).is_ok(), raw.chars().count() <= 200);
            }
        }
    }
}
