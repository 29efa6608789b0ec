//! The document and the validators agree: each rule is read from the generated document
//! (pattern, lengths, bounds) and checked against the parser the handlers call, on fixed
//! edge cases and on generated strings. A rule changed on one side only fails here.

use axum::http::StatusCode;
use proptest::prelude::*;
use serde_json::{Value, json};

use super::json_document;
use crate::domain::{ArticleId, AuthorId, Body, Status, Title, parse_timestamp};
use crate::routes::QueryPairs;
use crate::routes::articles::{READ_ONLY, WRITABLE, parse_input, parse_page};

fn doc() -> Value {
    json_document()
}

/// Every operation on an `/articles…` path: (path, method, operation).
fn api_operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut found = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        if !path.starts_with("/articles") {
            continue;
        }
        for (method, operation) in item.as_object().unwrap() {
            found.push((path.clone(), method.clone(), operation.clone()));
        }
    }
    assert_eq!(found.len(), 7, "the seven API operations");
    found
}

/// The schema of parameter `name` of `operation`.
fn parameter(operation: &Value, name: &str) -> Value {
    operation["parameters"]
        .as_array()
        .and_then(|parameters| parameters.iter().find(|p| p["name"] == name))
        .unwrap_or_else(|| panic!("no parameter {name}"))["schema"]
        .clone()
}

fn write_schema(doc: &Value) -> Value {
    doc["components"]["schemas"]["ArticleWrite"].clone()
}

/// What a JSON Schema string rule says of a value: its pattern and its lengths (counted in
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

#[test]
fn article_id_in_the_document_is_the_parser() {
    let doc = doc();
    let get = &doc["paths"]["/articles/{id}"]["get"];
    let schema = parameter(get, "id");
    assert_eq!(schema["format"], "uuid");
    for (path, method, operation) in api_operations(&doc) {
        if path.contains("{id}") {
            assert_eq!(parameter(&operation, "id"), schema, "{method} {path}");
        }
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
    ] {
        assert_eq!(rule.allows(&raw), ArticleId::parse(&raw).is_ok(), "{raw:?}");
    }
    proptest!(|(raw in "[0-9a-fA-Fg{}:-]{30,40}")| {
        prop_assert_eq!(rule.allows(&raw), ArticleId::parse(&raw).is_ok(), "{:?}", raw);
    });
}

#[test]
fn author_id_in_the_document_is_the_parser() {
    let doc = doc();
    let rule = StringRule::of(&write_schema(&doc)["properties"]["author_id"]);
    for key in ["pattern", "minLength", "maxLength"] {
        assert_eq!(
            doc["components"]["schemas"]["Article"]["properties"]["author_id"][key],
            write_schema(&doc)["properties"]["author_id"][key]
        );
    }
    let long = "a".repeat(64);
    let too_long = "a".repeat(65);
    for raw in [
        "alice", ".", "..", "...", ".a", "..a", "a..", "", "a/b", "é", &long, &too_long,
    ] {
        assert_eq!(rule.allows(raw), AuthorId::parse(raw).is_ok(), "{raw:?}");
    }
    proptest!(|(raw in "[a._/é-]{0,66}")| {
        prop_assert_eq!(rule.allows(&raw), AuthorId::parse(&raw).is_ok(), "{:?}", raw);
    });
}

#[test]
fn titles_and_bodies_in_the_document_are_the_parsers() {
    let doc = doc();
    let properties = &write_schema(&doc)["properties"];
    let rule = StringRule::of(&properties["title"]);
    let max = "é".repeat(Title::MAX_CHARS);
    let over = "é".repeat(Title::MAX_CHARS + 1);
    for raw in [
        "Spring",
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

    let body = StringRule::of(&properties["body"]);
    for n in [0, Body::MAX_CHARS, Body::MAX_CHARS + 1] {
        let raw = "\u{0}é".repeat(n).chars().take(n).collect::<String>();
        assert_eq!(
            body.allows(&raw),
            Body::parse(&raw).is_ok(),
            "{n} characters"
        );
    }
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
fn publish_at_in_the_document_is_the_parser() {
    let doc = doc();
    let schema = &write_schema(&doc)["properties"]["publish_at"];
    assert_eq!(schema["format"], "date-time");
    assert_eq!(schema["type"], json!(["string", "null"]));
    let rule = StringRule::of(schema);
    for raw in [
        "1679-01-01T00:00:00+14:00",
        "1678-12-31T23:59:59Z",
        "2260-12-31T23:00:00-23:00",
        "2261-01-01T00:00:00Z",
    ] {
        assert_eq!(
            rule.allows(raw),
            parse_timestamp(raw, "publish_at").is_ok(),
            "{raw:?}"
        );
    }
    proptest!(|(raw in date_time())| {
        prop_assert_eq!(rule.allows(&raw), parse_timestamp(&raw, "publish_at").is_ok(), "{:?}", raw);
    });
}

fn query(pairs: &[(&str, &str)]) -> QueryPairs {
    QueryPairs(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    )
}

#[test]
fn limit_bounds_in_the_document_are_the_parser() {
    let doc = doc();
    let schema = parameter(&doc["paths"]["/articles"]["get"], "limit");
    assert_eq!(schema["type"], "integer");
    let min = schema["minimum"].as_i64().expect("limit has a minimum");
    let max = schema["maximum"].as_i64().expect("limit has a maximum");
    for n in [min - 1, min, min + 1, max - 1, max, max + 1] {
        let page = parse_page(&query(&[("limit", &n.to_string())]));
        assert_eq!(page.is_ok(), (min..=max).contains(&n), "limit={n}");
    }
    assert_eq!(
        Some(u64::from(parse_page(&query(&[])).unwrap().limit)),
        schema["default"].as_u64()
    );
}

#[test]
fn the_cursor_is_opaque_and_a_foreign_one_is_a_documented_400() {
    let doc = doc();
    let list = &doc["paths"]["/articles"]["get"];
    assert_eq!(parameter(list, "cursor"), json!({"type": "string"}));
    assert_eq!(
        list["responses"]["400"]["content"]["application/problem+json"]["schema"]["$ref"],
        "#/components/schemas/Problem"
    );
    let refused = parse_page(&query(&[("cursor", "not a cursor")])).unwrap_err();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(parse_page(&query(&[("cursor", "")])).is_ok());
}

#[test]
fn the_status_filter_in_the_document_is_the_parser() {
    let doc = doc();
    let schema = parameter(&doc["paths"]["/articles"]["get"], "status");
    let reference = schema["$ref"].as_str().or_else(|| {
        schema["oneOf"]
            .as_array()?
            .iter()
            .find_map(|s| s["$ref"].as_str())
    });
    assert_eq!(reference, Some("#/components/schemas/Status"));
    let values = doc["components"]["schemas"]["Status"]["enum"].clone();
    for value in values.as_array().unwrap() {
        let value = value.as_str().unwrap();
        assert_eq!(Status::parse(value, "status").unwrap().as_str(), value);
    }
    assert!(Status::parse("Draft", "status").is_err());
}

#[test]
fn article_write_lists_every_member_the_parser_takes_and_refuses_others() {
    let doc = doc();
    let schema = write_schema(&doc);
    assert_eq!(schema["additionalProperties"], false);
    let mut documented: Vec<&str> = schema["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    documented.sort_unstable();
    let mut parsed: Vec<&str> = WRITABLE.iter().chain(READ_ONLY).copied().collect();
    parsed.sort_unstable();
    assert_eq!(documented, parsed);
    let valid = json!({"title": "Spring", "body": "", "author_id": "alice"});
    for name in documented {
        let mut body = valid.as_object().unwrap().clone();
        body.entry(name.to_owned()).or_insert(json!(null));
        assert!(parse_input(&body).is_ok(), "member {name}");
    }
    let mut body = valid.as_object().unwrap().clone();
    body.insert("titel".to_owned(), json!("typo"));
    assert!(parse_input(&body).is_err());
}

#[test]
fn every_api_route_documents_its_refusals() {
    let doc = doc();
    for (path, method, operation) in api_operations(&doc) {
        let responses = &operation["responses"];
        for status in ["400", "404", "500", "503"] {
            if status == "404" && !path.contains("{id}") {
                continue;
            }
            assert_eq!(
                responses[status]["content"]["application/problem+json"]["schema"]["$ref"],
                "#/components/schemas/Problem",
                "{method} {path} {status}"
            );
        }
        assert!(responses["503"]["headers"]["Retry-After"].is_object());
        let write = method != "get";
        for status in ["401", "403"] {
            assert_eq!(
                responses[status]["headers"]["WWW-Authenticate"].is_object(),
                write,
                "{method} {path} {status}"
            );
        }
        if write {
            // Optional: none on loopback, a bearer token beyond it.
            assert_eq!(operation["security"], json!([{}, {"bearer": []}]));
        }
        let has_body = operation["requestBody"].is_object();
        for status in ["413", "415"] {
            assert_eq!(
                responses[status].is_object(),
                has_body,
                "{method} {path} {status}"
            );
        }
    }
}
