//! Validated domain values. Each has a `parse` that refuses what the API must refuse, so a
//! value of these types is valid by construction and the store never sees bad input.

use std::fmt;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

/// A value that failed validation: which field, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The name of the field as the client sent it (`title`, `ends_at`, `limit`, …).
    pub field: &'static str,
    /// What is wrong, in lowercase words.
    pub problem: String,
}

impl FieldError {
    pub(crate) fn new(field: &'static str, problem: impl Into<String>) -> Self {
        Self {
            field,
            problem: problem.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.problem)
    }
}

// The rules below are written twice: as code (the `parse` functions) and as the ECMA-262
// regular expressions and bounds of the OpenAPI document (the `PATTERN`, `MAX_*` and
// `*_YEAR` constants, which openapi.rs puts in the document). The document is built from
// these constants only, and the tests of openapi.rs check each pattern against its
// parser on generated strings, so a rule changed on one side only fails a test.

/// A user id: 1 to 64 characters of `[A-Za-z0-9._-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserId(String);

impl UserId {
    /// The longest id accepted.
    pub const MAX_LEN: usize = 64;

    /// What [`UserId::parse`] accepts, as a regular expression.
    pub const PATTERN: &str = "^[A-Za-z0-9._-]{1,64}$";

    /// Accepts 1 to 64 characters of ASCII letters, digits, `.`, `_` and `-`.
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        if raw.is_empty() || raw.len() > Self::MAX_LEN {
            return Err(FieldError::new("user_id", "must be 1 to 64 characters"));
        }
        if !raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            return Err(FieldError::new(
                "user_id",
                "may contain only ASCII letters, digits, '.', '_' and '-'",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The id as it appears in the URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An event id: a UUID, written in its lowercase hyphenated form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId(Uuid);

impl EventId {
    /// What [`EventId::parse`] accepts, as a regular expression: the hyphenated form.
    pub const PATTERN: &str =
        "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$";

    /// Accepts a UUID in its hyphenated form (either case), the form the API writes and
    /// the document's `format: uuid` names; the simple, braced and URN forms are refused.
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        // 36 characters is the hyphenated form only: the other forms have 32, 38 and 45.
        Some(raw)
            .filter(|raw| raw.len() == 36)
            .and_then(|raw| Uuid::try_parse(raw).ok())
            .map(Self)
            .ok_or_else(|| FieldError::new("event_id", "must be a UUID"))
    }

    /// A version 4 UUID made from 16 random bytes.
    pub fn from_random_bytes(bytes: [u8; 16]) -> Self {
        Self(uuid::Builder::from_random_bytes(bytes).into_uuid())
    }

    /// The UUID.
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl From<Uuid> for EventId {
    fn from(id: Uuid) -> Self {
        Self(id)
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

/// An event title: 1 to 200 characters, not only whitespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Title(String);

impl Title {
    /// The longest title accepted, in characters (Unicode scalar values).
    pub const MAX_CHARS: usize = 200;

    /// What [`Title::parse`] accepts besides its length, as a regular expression: no
    /// control character, and at least one character that is not whitespace (Unicode's
    /// `White_Space`, what `str::trim` removes, spelled out so that every regex dialect
    /// reads it alike).
    pub const PATTERN: &str = concat!(
        r"^[^\u0000-\u001F\u007F-\u009F]*",
        r"[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]",
        r"[^\u0000-\u001F\u007F-\u009F]*$"
    );

    /// Accepts 1 to 200 characters that are not all whitespace and contain no control
    /// characters. The title is kept exactly as sent.
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let count = raw.chars().count();
        if count == 0 || count > Self::MAX_CHARS {
            return Err(FieldError::new(
                "title",
                format!("must be 1 to 200 characters, got {count}"),
            ));
        }
        if raw.trim().is_empty() {
            return Err(FieldError::new("title", "must not be only whitespace"));
        }
        if raw.chars().any(char::is_control) {
            return Err(FieldError::new(
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

/// Free-text notes on an event: at most 4000 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notes(String);

impl Notes {
    /// The longest notes accepted, in characters.
    pub const MAX_CHARS: usize = 4000;

    /// Accepts up to 4000 characters (line breaks and tabs allowed).
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let count = raw.chars().count();
        if count > Self::MAX_CHARS {
            return Err(FieldError::new(
                "notes",
                format!("must be at most 4000 characters, got {count}"),
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The notes.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A point in time, kept in UTC with nanosecond precision, between the years 1678 and
/// 2261 (the range of a signed 64-bit count of nanoseconds since the Unix epoch, which is
/// how the stores keep it so both backends sort and compare times exactly alike).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The earliest year a client may write.
    pub const MIN_YEAR: i32 = 1678;
    /// The latest year a client may write.
    pub const MAX_YEAR: i32 = 2261;
    /// What [`Timestamp::parse`] accepts, as a regular expression: the shape of an
    /// RFC 3339 date-time (no leap second) whose year is from 1678 to 2261 (the document
    /// adds `format: date-time`, which also rules out days a month does not have).
    pub const PATTERN: &str = concat!(
        "^(167[89]|16[89][0-9]|1[7-9][0-9]{2}|2[01][0-9]{2}|22[0-5][0-9]|226[01])",
        r"-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]([.][0-9]+)?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"
    );

    /// Parses an RFC 3339 date-time (any offset; it is converted to UTC) whose year, as
    /// written, is from 1678 to 2261: whatever its offset, such a time fits the stores'
    /// range, and a rule on the text is one the OpenAPI document can state exactly.
    pub fn parse(field: &'static str, raw: &str) -> Result<Self, FieldError> {
        let bad = || {
            FieldError::new(
                field,
                "must be an RFC 3339 date-time such as 2026-01-31T09:00:00Z",
            )
        };
        // The `time` crate takes any separator and leap seconds; RFC 3339's `T` (or `t`)
        // and no leap second is what the document can state.
        if !matches!(raw.as_bytes().get(10), Some(b'T' | b't')) || raw.get(17..19) == Some("60") {
            return Err(bad());
        }
        let parsed = OffsetDateTime::parse(raw, &Rfc3339).map_err(|_| bad())?;
        Some(parsed)
            .filter(|at| (Self::MIN_YEAR..=Self::MAX_YEAR).contains(&at.year()))
            .and_then(Self::from_datetime)
            .ok_or_else(|| FieldError::new(field, "must be between the years 1678 and 2261"))
    }

    /// From a date-time, if it is in the supported range.
    pub fn from_datetime(at: OffsetDateTime) -> Option<Self> {
        i64::try_from(at.unix_timestamp_nanos()).ok().map(Self)
    }

    /// From a wall-clock time, if it is in the supported range.
    pub fn from_system_time(at: std::time::SystemTime) -> Option<Self> {
        Self::from_datetime(OffsetDateTime::from(at))
    }

    /// From nanoseconds since the Unix epoch (the stores' representation).
    pub fn from_unix_nanos(nanos: i64) -> Self {
        Self(nanos)
    }

    /// Nanoseconds since the Unix epoch.
    pub fn unix_nanos(self) -> i64 {
        self.0
    }

    /// The date-time in UTC.
    pub fn to_datetime(self) -> OffsetDateTime {
        // Every i64 of nanoseconds is within `time`'s range, so this cannot fail; fall back
        // to the epoch rather than panic.
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0))
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339 in UTC (`Z`), with as many fractional digits as needed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_datetime().format(&Rfc3339) {
            Ok(text) => f.write_str(&text),
            Err(_) => Err(fmt::Error),
        }
    }
}

/// The client-editable part of an event, validated: what `POST` creates and `PUT`
/// replaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventDraft {
    /// The title.
    pub title: Title,
    /// When the event starts.
    pub starts_at: Timestamp,
    /// When the event ends: always after `starts_at`.
    pub ends_at: Timestamp,
    /// Optional notes.
    pub notes: Option<Notes>,
}

impl EventDraft {
    /// Validates a JSON object sent by a client, reporting every bad field at once.
    ///
    /// Read-only fields a client may echo back from a `GET` (`id`, `created_by`,
    /// `created_at`, `updated_at`) are ignored; any other unknown field is refused so a
    /// typo (`start_at`) is not silently dropped.
    pub fn from_json(
        object: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Self, Vec<FieldError>> {
        use serde_json::Value;
        let mut errors = Vec::new();

        for key in object.keys() {
            if !matches!(
                key.as_str(),
                "title"
                    | "starts_at"
                    | "ends_at"
                    | "notes"
                    | "id"
                    | "created_by"
                    | "created_at"
                    | "updated_at"
            ) {
                errors.push(FieldError {
                    field: "body",
                    problem: format!("unknown field {:?}", truncate(key, 64)),
                });
            }
        }

        let mut string_field = |name: &'static str, required: bool| -> Option<String> {
            match object.get(name) {
                Some(Value::String(s)) => Some(s.clone()),
                None | Some(Value::Null) if !required => None,
                None | Some(Value::Null) => {
                    errors.push(FieldError::new(name, "is required"));
                    None
                }
                Some(_) => {
                    errors.push(FieldError::new(name, "must be a string"));
                    None
                }
            }
        };
        let title = string_field("title", true);
        let starts_at = string_field("starts_at", true);
        let ends_at = string_field("ends_at", true);
        let notes = string_field("notes", false);

        let title = title.and_then(|t| Title::parse(&t).map_err(|e| errors.push(e)).ok());
        let starts_at = starts_at.and_then(|t| {
            Timestamp::parse("starts_at", &t)
                .map_err(|e| errors.push(e))
                .ok()
        });
        let ends_at = ends_at.and_then(|t| {
            Timestamp::parse("ends_at", &t)
                .map_err(|e| errors.push(e))
                .ok()
        });
        let notes = match notes {
            Some(n) => match Notes::parse(&n) {
                Ok(n) => Some(n),
                Err(e) => {
                    errors.push(e);
                    None
                }
            },
            None => None,
        };
        if let (Some(start), Some(end)) = (starts_at, ends_at)
            && end <= start
        {
            errors.push(FieldError::new("ends_at", "must be after starts_at"));
        }
        // Report in the order of the document, whatever check found the problem.
        let order = ["body", "title", "starts_at", "ends_at", "notes"];
        errors.sort_by_key(|e| order.iter().position(|f| *f == e.field));
        match (title, starts_at, ends_at) {
            (Some(title), Some(starts_at), Some(ends_at)) if errors.is_empty() => Ok(Self {
                title,
                starts_at,
                ends_at,
                notes,
            }),
            _ => Err(errors),
        }
    }
}

/// A stored event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The event's id.
    pub id: EventId,
    /// Whose schedule it is in.
    pub user_id: UserId,
    /// The client-editable fields.
    pub draft: EventDraft,
    /// The client id of the caller that created the event.
    pub created_by: String,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it was last replaced (equal to `created_at` until then).
    pub updated_at: Timestamp,
    /// Starts at 1 and grows by one with each replacement; the `ETag` is made from it.
    pub version: i64,
}

impl Event {
    /// The strong entity tag of this version of the event, quotes included.
    pub fn etag(&self) -> String {
        format!("\"{}\"", self.version)
    }
}

pub(crate) fn truncate(raw: &str, max_chars: usize) -> String {
    raw.chars().take(max_chars).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
        match v {
            serde_json::Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    #[test]
    fn user_ids() {
        assert!(UserId::parse("alice").is_ok());
        assert!(UserId::parse("a.b_c-9").is_ok());
        assert!(UserId::parse(&"a".repeat(64)).is_ok());
        assert!(UserId::parse(&"a".repeat(65)).is_err());
        assert!(UserId::parse("").is_err());
        assert!(UserId::parse("a b").is_err());
        assert!(UserId::parse("é").is_err());
        assert!(UserId::parse("a/b").is_err());
    }

    #[test]
    fn titles_count_characters_not_bytes() {
        assert!(Title::parse(&"é".repeat(200)).is_ok());
        assert!(Title::parse(&"é".repeat(201)).is_err());
        assert!(Title::parse("").is_err());
        assert!(Title::parse("   ").is_err());
        assert!(Title::parse("a\nb").is_err());
    }

    #[test]
    fn timestamps_normalise_to_utc() {
        let t = Timestamp::parse("starts_at", "2026-01-31T10:00:00+01:00").unwrap();
        assert_eq!(t.to_string(), "2026-01-31T09:00:00Z");
        let t = Timestamp::parse("starts_at", "2026-01-31T09:00:00.123456789Z").unwrap();
        assert_eq!(t.to_string(), "2026-01-31T09:00:00.123456789Z");
        assert_eq!(Timestamp::from_unix_nanos(t.unix_nanos()), t);
        assert!(Timestamp::parse("starts_at", "2026-01-31").is_err());
        assert!(Timestamp::parse("starts_at", "9999-01-01T00:00:00Z").is_err());
    }

    #[test]
    fn drafts_report_every_bad_field() {
        let errors = EventDraft::from_json(&object(json!({
            "title": "",
            "starts_at": 5,
            "notes": "x".repeat(4001),
            "start_at": "typo"
        })))
        .unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field).collect();
        assert_eq!(fields, ["body", "title", "starts_at", "ends_at", "notes"]);
    }

    #[test]
    fn drafts_need_end_after_start() {
        let errors = EventDraft::from_json(&object(json!({
            "title": "standup",
            "starts_at": "2026-01-31T09:00:00Z",
            "ends_at": "2026-01-31T09:00:00Z",
        })))
        .unwrap_err();
        assert_eq!(
            errors,
            [FieldError::new("ends_at", "must be after starts_at")]
        );
        let ok = EventDraft::from_json(&object(json!({
            "title": "standup",
            "starts_at": "2026-01-31T09:00:00Z",
            "ends_at": "2026-01-31T09:15:00Z",
            "notes": null,
            "id": "ignored",
        })))
        .unwrap();
        assert_eq!(ok.title.as_str(), "standup");
        assert_eq!(ok.notes, None);
    }

    proptest::proptest! {
        #[test]
        fn parsers_never_panic(raw in ".*") {
            let _ = UserId::parse(&raw);
            let _ = EventId::parse(&raw);
            let _ = Title::parse(&raw);
            let _ = Notes::parse(&raw);
            let _ = Timestamp::parse("starts_at", &raw);
        }

        #[test]
        fn valid_user_ids_round_trip(raw in "[A-Za-z0-9._-]{1,64}") {
            let id = UserId::parse(&raw).unwrap();
            proptest::prop_assert_eq!(id.as_str(), raw.as_str());
        }

        // Every time of the years a client may write (1678-01-01 to 2261-12-31, UTC).
        #[test]
        fn timestamps_round_trip_through_text(nanos in -9_214_560_000_000_000_000i64..9_214_646_400_000_000_000) {
            let t = Timestamp::from_unix_nanos(nanos);
            proptest::prop_assert_eq!(Timestamp::parse("from", &t.to_string()).unwrap(), t);
        }
    }
}
