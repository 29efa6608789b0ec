//! The document and the validators agree: each rule is read from the generated document
//! (pattern, lengths, bounds) and checked against the parser the handlers call, on fixed
//! edge cases and on generated strings. A rule changed on one side only fails here.

use std::collections::HashMap;

use axum::http::{HeaderMap, HeaderValue, header};
use proptest::prelude::*;
use serde_json::{Value, json};

use super::json_document;
use crate::domain::{Event, EventDraft, EventId, FieldError, Timestamp, Title, UserId};
use crate::routes::schedule::{encode_cursor, if_match, parse_list_query};

fn doc() -> Value {
    json_document("user-schedule-service")
}

/// The schema of parameter `name` of `method` on `path`.
fn parameter(doc: &Value, path: &str, method: &str, name: &str) -> Value {
    doc["paths"][path][method]["parameters"]
        .as_array()
        .unwrap_or_else(|| panic!("{method} {path} has no parameters"))
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("{method} {path} has no parameter {name}"))["schema"]
        .clone()
}

fn event_input(doc: &Value) -> Value {
    doc["components"]["schemas"]["EventInput"].clone()
}

/// What a JSON Schema string rule says of `value`: its pattern and its lengths (counted in
/// characters, as JSON Schema counts them).
struct StringRule {
    pattern: Option<regex::Regex>,
    min: usize,
    max: usize,
}

impl StringRule {
    fn of(schema: &Value) -> Self {
        let length = |key: &str| schema[key].as_u64().map(|n| n as usize);
        Self {
            pattern: schema["pattern"]
                .as_str()
                .map(|p| regex::Regex::new(p).expect("the document's pattern compiles")),
            min: length("minLength").unwrap_or(0),
            max: length("maxLength").unwrap_or(usize::MAX),
        }
    }

    fn allows(&self, value: &str) -> bool {
        let count = value.chars().count();
        (self.min..=self.max).contains(&count)
            && self.pattern.as_ref().is_none_or(|p| p.is_match(value))
    }
}

const USER_PATHS: [(&str, &str); 5] = [
    ("/users/{user_id}/schedule", "get"),
    ("/users/{user_id}/schedule/events", "post"),
    ("/users/{user_id}/schedule/events/{event_id}", "get"),
    ("/users/{user_id}/schedule/events/{event_id}", "put"),
    ("/users/{user_id}/schedule/events/{event_id}", "delete"),
];

#[test]
fn user_id_in_the_document_is_the_parser() {
    let doc = doc();
    let rule = StringRule::of(&parameter(&doc, USER_PATHS[0].0, "get", "user_id"));
    for (path, method) in USER_PATHS {
        assert_eq!(
            parameter(&doc, path, method, "user_id"),
            parameter(&doc, USER_PATHS[0].0, "get", "user_id"),
            "{method} {path}"
        );
    }
    let long = "a".repeat(64);
    let too_long = "a".repeat(65);
    for raw in [
        "alice",
        "a.b_c-9",
        ".",
        "",
        "a b",
        "é",
        "a/b",
        "\u{85}\u{8c}",
        &long,
        &too_long,
    ] {
        assert_eq!(rule.allows(raw), UserId::parse(raw).is_ok(), "{raw:?}");
    }
    proptest!(|(raw in "[A-Za-z0-9._/ %é\u{85}-]{0,70}")| {
        prop_assert_eq!(rule.allows(&raw), UserId::parse(&raw).is_ok(), "{:?}", raw);
    });
}

#[test]
fn event_id_in_the_document_is_the_parser() {
    let doc = doc();
    let path = "/users/{user_id}/schedule/events/{event_id}";
    let schema = parameter(&doc, path, "get", "event_id");
    assert_eq!(schema["format"], "uuid");
    for method in ["put", "delete"] {
        assert_eq!(parameter(&doc, path, method, "event_id"), schema);
    }
    let rule = StringRule::of(&schema);
    let id = "67e55044-10b1-426f-9247-bb680e5fe0c8";
    for raw in [
        id.to_owned(),
        id.to_uppercase(),
        id.replace('-', ""),
        format!("{{{id}}}"),
        format!("urn:uuid:{id}"),
        "not-a-uuid".to_owned(),
        String::new(),
    ] {
        assert_eq!(rule.allows(&raw), EventId::parse(&raw).is_ok(), "{raw:?}");
    }
    proptest!(|(raw in "[0-9a-fA-Fg{}:-]{30,40}")| {
        prop_assert_eq!(rule.allows(&raw), EventId::parse(&raw).is_ok(), "{:?}", raw);
    });
}

#[test]
fn limit_bounds_in_the_document_are_the_parser() {
    let doc = doc();
    let schema = parameter(&doc, USER_PATHS[0].0, "get", "limit");
    assert_eq!(schema["type"], "integer");
    let min = schema["minimum"].as_i64().expect("limit has a minimum");
    let max = schema["maximum"].as_i64().expect("limit has a maximum");
    let default = schema["default"].as_u64().expect("limit has a default");
    for n in [
        min - 1,
        min,
        min + 1,
        max - 1,
        max,
        max + 1,
        i64::from(u32::MAX) + 1,
    ] {
        let query = HashMap::from([("limit".to_owned(), n.to_string())]);
        assert_eq!(
            parse_list_query(&query).is_ok(),
            (min..=max).contains(&n),
            "limit={n}"
        );
    }
    assert_eq!(
        u64::from(parse_list_query(&HashMap::new()).unwrap().limit),
        default
    );
}

#[test]
fn the_cursor_is_opaque_and_a_foreign_one_is_a_documented_400() {
    let doc = doc();
    let schema = parameter(&doc, USER_PATHS[0].0, "get", "cursor");
    assert_eq!(schema, json!({"type": "string"}));
    assert_eq!(
        doc["paths"][USER_PATHS[0].0]["get"]["responses"]["400"]["content"]["application/problem+json"]
            ["schema"]["$ref"],
        "#/components/schemas/Problem"
    );
    let query = |cursor: &str| HashMap::from([("cursor".to_owned(), cursor.to_owned())]);
    let errors = parse_list_query(&query("not a cursor")).unwrap_err();
    assert_eq!(errors[0].field, "cursor");
    let draft = EventDraft::from_json(
        json!({"title": "t", "starts_at": "2026-01-31T09:00:00Z", "ends_at": "2026-01-31T10:00:00Z"})
            .as_object()
            .unwrap(),
    )
    .unwrap();
    let now = Timestamp::from_unix_nanos(0);
    let event = Event {
        id: EventId::from_random_bytes([1; 16]),
        user_id: UserId::parse("alice").unwrap(),
        draft,
        created_by: "client".to_owned(),
        created_at: now,
        updated_at: now,
        version: 1,
    };
    assert!(parse_list_query(&query(&encode_cursor(&event))).is_ok());
}

/// Date-times around the edges of the accepted years, with any offset.
fn date_time() -> impl Strategy<Value = String> {
    (
        prop_oneof![1670..1690i32, 2250..2270i32, 0..10000i32],
        1..=12u8,
        1..=28u8,
        0..24u8,
        prop::sample::select(vec!["T", "t", " ", "x"]),
        prop::sample::select(vec!["00", "59", "60"]),
        prop::sample::select(vec!["", ".5", ".123456789123"]),
        prop_oneof![
            Just("Z".to_owned()),
            Just("z".to_owned()),
            "[+-](0[0-9]|1[0-9]|2[0-4]):[0-5][0-9]"
        ],
    )
        .prop_map(
            |(year, month, day, hour, separator, second, fraction, offset)| {
                format!(
                    "{year:04}-{month:02}-{day:02}{separator}{hour:02}:30:{second}{fraction}{offset}"
                )
            },
        )
}

#[test]
fn timestamps_in_the_document_are_the_parser() {
    let doc = doc();
    let from = parameter(&doc, USER_PATHS[0].0, "get", "from");
    assert_eq!(from["format"], "date-time");
    assert_eq!(parameter(&doc, USER_PATHS[0].0, "get", "to"), from);
    let input = event_input(&doc);
    for field in ["starts_at", "ends_at"] {
        assert_eq!(input["properties"][field]["format"], "date-time");
        assert_eq!(input["properties"][field]["pattern"], from["pattern"]);
    }
    let rule = StringRule::of(&from);
    for raw in [
        "1678-01-01T00:00:00+14:00",
        "1677-12-31T23:59:59-02:00",
        "2261-12-31T23:59:59-23:59",
        "2262-01-01T00:00:00Z",
        "2026-01-31T09:00:00Z",
    ] {
        assert_eq!(
            rule.allows(raw),
            Timestamp::parse("from", raw).is_ok(),
            "{raw:?}"
        );
    }
    proptest!(|(raw in date_time())| {
        prop_assert_eq!(rule.allows(&raw), Timestamp::parse("from", &raw).is_ok(), "{:?}", raw);
    });
}

#[test]
fn titles_in_the_document_are_the_parser() {
    let doc = doc();
    let rule = StringRule::of(&event_input(&doc)["properties"]["title"]);
    let max = "é".repeat(Title::MAX_CHARS);
    let over = "é".repeat(Title::MAX_CHARS + 1);
    for raw in [
        "standup",
        "",
        " ",
        "a\nb",
        "\u{85}",
        "\u{feff}",
        "\u{3000}x",
        &max,
        &over,
    ] {
        assert_eq!(rule.allows(raw), Title::parse(raw).is_ok(), "{raw:?}");
    }
    // Letters, every kind of whitespace and control character, and any character.
    let character = prop_oneof![
        3 => prop::sample::select(vec![
            'a', 'é', ' ', '\t', '\n', '\r', '\u{0}', '\u{7f}', '\u{85}', '\u{9f}', '\u{a0}',
            '\u{1680}', '\u{2000}', '\u{200a}', '\u{200b}', '\u{2028}', '\u{2029}', '\u{202f}',
            '\u{205f}', '\u{3000}', '\u{feff}', '\u{180e}',
        ]),
        1 => any::<char>(),
    ];
    proptest!(|(chars in prop::collection::vec(character, 0..4))| {
        let raw: String = chars.into_iter().collect();
        prop_assert_eq!(rule.allows(&raw), Title::parse(&raw).is_ok(), "{:?}", raw);
    });
}

#[test]
fn event_input_lists_every_member_the_parser_takes_and_refuses_others() {
    let doc = doc();
    let input = event_input(&doc);
    assert_eq!(input["additionalProperties"], false);
    let valid = json!({
        "title": "standup",
        "starts_at": "2026-01-31T09:00:00Z",
        "ends_at": "2026-01-31T09:15:00Z",
    });
    let properties = input["properties"].as_object().unwrap();
    for name in properties.keys() {
        let mut body = valid.as_object().unwrap().clone();
        body.entry(name.clone()).or_insert(json!(null));
        assert!(EventDraft::from_json(&body).is_ok(), "member {name}");
    }
    let mut body = valid.as_object().unwrap().clone();
    body.insert("start_at".to_owned(), json!("typo"));
    assert_eq!(
        EventDraft::from_json(&body).unwrap_err(),
        [FieldError::new("body", "unknown field \"start_at\"")]
    );
    let notes = StringRule::of(&properties["notes"]);
    assert_eq!(notes.max, crate::domain::Notes::MAX_CHARS);
}

#[test]
fn if_match_in_the_document_is_the_parser() {
    let doc = doc();
    let path = "/users/{user_id}/schedule/events/{event_id}";
    let schema = parameter(&doc, path, "put", "If-Match");
    assert_eq!(parameter(&doc, path, "delete", "If-Match"), schema);
    let rule = StringRule::of(&schema);
    let parses = |raw: &str| {
        let mut headers = HeaderMap::new();
        headers.insert(header::IF_MATCH, HeaderValue::from_str(raw).unwrap());
        if_match(&headers).is_ok()
    };
    for raw in [
        "*",
        "\"3\"",
        "\"3\", W/\"4\"",
        "",
        " , ",
        "3",
        "\"",
        "**",
        "\"a\" b",
    ] {
        assert_eq!(rule.allows(raw), parses(raw), "{raw:?}");
    }
    proptest!(|(raw in "[*\"W/, \t3a~]{0,8}")| {
        prop_assert_eq!(rule.allows(&raw), parses(&raw), "{:?}", raw);
    });
}

#[test]
fn every_api_route_documents_its_refusals() {
    let doc = doc();
    for (path, method) in USER_PATHS {
        let responses = &doc["paths"][path][method]["responses"];
        for status in ["400", "401", "403", "500", "503"] {
            assert_eq!(
                responses[status]["content"]["application/problem+json"]["schema"]["$ref"],
                "#/components/schemas/Problem",
                "{method} {path} {status}"
            );
        }
        for status in ["401", "403"] {
            assert!(
                responses[status]["headers"]["WWW-Authenticate"].is_object(),
                "{method} {path} {status}"
            );
        }
        assert!(responses["503"]["headers"]["Retry-After"].is_object());
        let has_body = doc["paths"][path][method]["requestBody"].is_object();
        for status in ["413", "415"] {
            assert_eq!(
                responses[status].is_object(),
                has_body,
                "{method} {path} {status}"
            );
        }
    }
}
