//! `oauth_proto::bearer`: `WWW-Authenticate` challenges read and written.
//!
//! Invariants:
//! - `parse_challenges`, `BearerChallenge::parse` and `from_header_values` never panic,
//!   whatever the header values;
//! - every `Bearer` challenge read from an input renders to a value that reads back as
//!   the same challenge, alone and among other challenges;
//! - any challenge built with values a quoted-string can carry (tab, space, visible
//!   ASCII, non-ASCII) reads back equal after rendering.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use oauth_proto::bearer::parse_challenges;
use oauth_proto::{BearerChallenge, BearerErrorCode};

#[derive(Debug, Arbitrary)]
enum Input {
    /// Header values as they may arrive.
    Values(Vec<String>),
    /// A challenge to render.
    Built {
        realm: Option<String>,
        error: Option<Code>,
        error_description: Option<String>,
        error_uri: Option<String>,
        scope: Option<String>,
    },
}

#[derive(Debug, Arbitrary)]
enum Code {
    InvalidRequest,
    InvalidToken,
    InsufficientScope,
    Other(String),
}

fn quotable(c: char) -> bool {
    c == '\t' || c == ' ' || c.is_ascii_graphic() || !c.is_ascii()
}

/// The value with the characters a quoted-string cannot carry removed.
fn clean(value: Option<String>) -> Option<String> {
    value.map(|v| v.chars().filter(|c| quotable(*c)).collect())
}

fn reads_back(challenge: &BearerChallenge) {
    let rendered = challenge.to_string();
    assert_eq!(
        BearerChallenge::parse(&rendered).as_ref(),
        Some(challenge),
        "{rendered:?}"
    );
    let among = format!("Basic realm=\"x\", {rendered}, Negotiate abc==");
    assert_eq!(
        BearerChallenge::from_header_values([among.as_str()]),
        [challenge.clone()],
        "{among:?}"
    );
}

fuzz_target!(|input: Input| {
    match input {
        Input::Values(values) => {
            for value in &values {
                for challenge in parse_challenges(value) {
                    if let Some(bearer) = BearerChallenge::from_challenge(&challenge) {
                        reads_back(&bearer);
                    }
                }
                let _ = BearerChallenge::parse(value);
            }
            let _ = BearerChallenge::from_header_values(values.iter().map(String::as_str));
        }
        Input::Built {
            realm,
            error,
            error_description,
            error_uri,
            scope,
        } => {
            let error = error.map(|code| match code {
                Code::InvalidRequest => BearerErrorCode::InvalidRequest,
                Code::InvalidToken => BearerErrorCode::InvalidToken,
                Code::InsufficientScope => BearerErrorCode::InsufficientScope,
                Code::Other(code) => {
                    BearerErrorCode::from(clean(Some(code)).unwrap_or_default().as_str())
                }
            });
            let challenge = BearerChallenge {
                realm: clean(realm),
                error,
                error_description: clean(error_description),
                error_uri: clean(error_uri),
                scope: clean(scope),
            };
            reads_back(&challenge);
        }
    }
});
