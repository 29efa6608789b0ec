//! The console's record of recent token requests: the last [`CAPACITY`] outcomes of
//! `POST /oauth2/token` (who, when, issued which scopes or refused with which error) and
//! per-minute counts for the chart. In memory only, per server: it is a window for the
//! operator watching the walkthrough, not an audit trail (nothing survives a restart).
//!
//! [`record`] is the token endpoint's one call; it keeps no token and no secret: the client
//! id and scopes of an issued token are those it was signed with, the client id of a
//! refusal is read from the `Authorization: Basic` header (a refusal of credentials sent in
//! the body has no client shown).

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::{Mutex, PoisonError};

use axum::http::{HeaderMap, header};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::AppState;
use crate::token::{Issued, Refusal};

/// Events kept.
pub(crate) const CAPACITY: usize = 200;
/// Minutes shown in the chart.
pub(crate) const CHART_MINUTES: usize = 30;

/// One outcome of the token endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TokenEvent {
    pub(crate) at_ms: i64,
    /// The client, when known.
    pub(crate) client_id: Option<String>,
    pub(crate) outcome: Outcome,
}

/// Issued (with the token's scopes) or refused (with the OAuth error and its description).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    Issued { scopes: String },
    Refused { error: String, description: String },
}

#[derive(Debug, Default)]
struct Window {
    events: VecDeque<TokenEvent>,
    /// `(minute since the epoch, issued, refused)`, oldest first, at most
    /// [`CHART_MINUTES`] minutes.
    minutes: VecDeque<(i64, u32, u32)>,
}

/// The ring and the per-minute counts.
#[derive(Debug, Default)]
pub(crate) struct Activity {
    window: Mutex<Window>,
}

impl Activity {
    pub(crate) fn push(&self, event: TokenEvent) {
        let minute = event.at_ms.div_euclid(60_000);
        let issued = matches!(event.outcome, Outcome::Issued { .. });
        let mut window = self.window.lock().unwrap_or_else(PoisonError::into_inner);
        match window.minutes.back_mut() {
            Some((last, i, r)) if *last == minute => {
                *i += u32::from(issued);
                *r += u32::from(!issued);
            }
            // A clock that went back counts into the newest minute rather than reorder.
            Some((last, i, r)) if *last > minute => {
                *i += u32::from(issued);
                *r += u32::from(!issued);
            }
            _ => window
                .minutes
                .push_back((minute, u32::from(issued), u32::from(!issued))),
        }
        while window
            .minutes
            .front()
            .is_some_and(|(first, _, _)| *first <= minute - CHART_MINUTES as i64)
        {
            window.minutes.pop_front();
        }
        if window.events.len() == CAPACITY {
            window.events.pop_front();
        }
        window.events.push_back(event);
    }

    /// The events, newest first.
    pub(crate) fn recent(&self) -> Vec<TokenEvent> {
        let window = self.window.lock().unwrap_or_else(PoisonError::into_inner);
        window.events.iter().rev().cloned().collect()
    }

    /// `(issued, refused)` for each of the [`CHART_MINUTES`] minutes up to the one of
    /// `now_ms`, oldest first (zero for minutes without requests).
    pub(crate) fn per_minute(&self, now_ms: i64) -> Vec<(u32, u32)> {
        let now = now_ms.div_euclid(60_000);
        let window = self.window.lock().unwrap_or_else(PoisonError::into_inner);
        (0..CHART_MINUTES as i64)
            .rev()
            .map(|back| {
                let minute = now - back;
                window
                    .minutes
                    .iter()
                    .find(|(m, _, _)| *m == minute)
                    .map_or((0, 0), |(_, i, r)| (*i, *r))
            })
            .collect()
    }
}

/// The token endpoint's outcome, recorded for the console.
pub(crate) fn record(state: &AppState, headers: &HeaderMap, outcome: &Result<Issued, Refusal>) {
    let (client_id, outcome) = match outcome {
        Ok(issued) => (
            Some(issued.client_id.clone()),
            Outcome::Issued {
                scopes: issued.scope.clone(),
            },
        ),
        Err(refusal) => (
            basic_client_id(headers),
            Outcome::Refused {
                error: refusal.code.as_str().to_owned(),
                description: refusal.description.chars().take(200).collect(),
            },
        ),
    };
    state.console().activity.push(TokenEvent {
        at_ms: state.now_ms(),
        client_id,
        outcome,
    });
}

/// The client id of `Authorization: Basic`, without the secret.
fn basic_client_id(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(encoded.trim()).ok()?;
    let id = decoded.split(|b| *b == b':').next()?;
    let id = std::str::from_utf8(id).ok()?;
    (!id.is_empty()).then(|| id.chars().take(128).collect())
}

/// A bar chart of tokens per minute (issued and refused side by side), as inline SVG with
/// a text alternative; colours come from the stylesheet's classes.
pub(crate) fn chart(per_minute: &[(u32, u32)]) -> String {
    const WIDTH: usize = 600;
    const HEIGHT: u32 = 160;
    const BASE: u32 = 140;
    let slot = WIDTH / per_minute.len().max(1);
    let bar = (slot.saturating_sub(4) / 2).max(1);
    let peak = per_minute
        .iter()
        .map(|(i, r)| (*i).max(*r))
        .max()
        .unwrap_or(0)
        .max(1);
    let total_issued: u32 = per_minute.iter().map(|(i, _)| i).sum();
    let total_refused: u32 = per_minute.iter().map(|(_, r)| r).sum();
    let mut out = String::new();
    let _ = write!(
        out,
        "<figure class=\"chart\"><svg viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" \
         aria-labelledby=\"chart-title\" preserveAspectRatio=\"none\">\
         <title id=\"chart-title\">Tokens per minute over the last {CHART_MINUTES} minutes: \
         {total_issued} issued, {total_refused} refused; at most {peak} in a minute</title>\
         <line class=\"axis\" x1=\"0\" y1=\"{BASE}\" x2=\"{WIDTH}\" y2=\"{BASE}\"/>"
    );
    for (index, (issued, refused)) in per_minute.iter().enumerate() {
        let x = index * slot + 2;
        for (offset, count, class) in [(0, issued, "issued"), (bar, refused, "refused")] {
            if *count == 0 {
                continue;
            }
            let height = (count * (BASE - 10)).div_ceil(peak);
            let _ = write!(
                out,
                "<rect class=\"{class}\" x=\"{}\" y=\"{}\" width=\"{bar}\" height=\"{height}\"/>",
                x + offset,
                BASE - height
            );
        }
    }
    let _ = write!(
        out,
        "<text x=\"2\" y=\"{}\">−{CHART_MINUTES} min</text>\
         <text x=\"{}\" y=\"{}\" text-anchor=\"end\">now</text>\
         <text x=\"2\" y=\"12\">{peak}/min</text></svg>\
         <figcaption><span class=\"key issued\"></span> issued \
         <span class=\"key refused\"></span> refused, per minute \
         ({total_issued} issued, {total_refused} refused)</figcaption></figure>",
        HEIGHT - 4,
        WIDTH - 2,
        HEIGHT - 4
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(at_ms: i64, issued: bool) -> TokenEvent {
        TokenEvent {
            at_ms,
            client_id: Some("c".to_owned()),
            outcome: if issued {
                Outcome::Issued {
                    scopes: "a/b".to_owned(),
                }
            } else {
                Outcome::Refused {
                    error: "invalid_scope".to_owned(),
                    description: String::new(),
                }
            },
        }
    }

    #[test]
    fn keeps_the_last_events_and_counts_per_minute() {
        let activity = Activity::default();
        for n in 0..(CAPACITY + 5) {
            activity.push(event(n as i64, n % 2 == 0));
        }
        let recent = activity.recent();
        assert_eq!(recent.len(), CAPACITY);
        assert_eq!(recent[0].at_ms, (CAPACITY + 4) as i64, "newest first");
        activity.push(event(3 * 60_000, false));
        let minutes = activity.per_minute(3 * 60_000 + 5);
        assert_eq!(minutes.len(), CHART_MINUTES);
        assert_eq!(minutes[CHART_MINUTES - 1], (0, 1));
        assert_eq!(minutes[CHART_MINUTES - 4], (103, 102));
        // An hour later the old minutes have left the chart.
        activity.push(event(63 * 60_000, true));
        assert_eq!(
            activity
                .per_minute(63 * 60_000)
                .iter()
                .map(|(i, r)| i + r)
                .sum::<u32>(),
            1
        );
    }

    #[test]
    fn reads_the_client_but_never_the_secret() {
        let mut headers = HeaderMap::new();
        let basic = STANDARD.encode("client123:s3cret");
        headers.insert(
            header::AUTHORIZATION,
            format!("Basic {basic}").parse().unwrap(),
        );
        assert_eq!(basic_client_id(&headers).as_deref(), Some("client123"));
    }

    #[test]
    fn chart_draws_one_bar_per_nonzero_count() {
        let svg = chart(&[(0, 0), (4, 1), (2, 0)]);
        assert_eq!(svg.matches("<rect").count(), 3);
        assert!(svg.contains("6 issued, 1 refused"));
    }
}
