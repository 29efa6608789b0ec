//! The spans a verification emits (`jwt.verify`, `jwt.jwks_fetch`): names and fields,
//! never the token.
//!
//! A binary of its own: tracing caches whether a callsite is enabled process-wide, so a
//! subscriber set for one test thread misses spans while other tests run in parallel.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt as _};

use jwt_verifier::test_util::TestIssuer;
use jwt_verifier::{Clock, ManualClock, Verifier};

const CLIENT: &str = "7m2k9q4r1t6v8b3n5c0d2f4g6h";
const READ: &str = "user-schedule-service/schedule.read";
const UPDATE: &str = "user-schedule-service/schedule.update";

/// Every span opened, in order, with its id (ids are reused once a span closes) and its
/// fields as `name=value` once recorded.
#[derive(Clone, Default)]
struct Spans(Arc<Mutex<Vec<Opened>>>);

/// A span's id, name and recorded fields.
type Opened = (u64, String, Vec<String>);

struct Fields<'a>(&'a mut Vec<String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push(format!("{}={value:?}", field.name()));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push(format!("{}={value}", field.name()));
    }
}

impl<S> tracing_subscriber::Layer<S> for Spans
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        _: Context<'_, S>,
    ) {
        let mut fields = Vec::new();
        attrs.record(&mut Fields(&mut fields));
        self.0
            .lock()
            .unwrap()
            .push((id.into_u64(), attrs.metadata().name().to_owned(), fields));
    }

    fn on_record(
        &self,
        id: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        _: Context<'_, S>,
    ) {
        let mut spans = self.0.lock().unwrap();
        if let Some(span) = spans.iter_mut().rev().find(|s| s.0 == id.into_u64()) {
            values.record(&mut Fields(&mut span.2));
        }
    }
}

impl Spans {
    fn named(&self, name: &str) -> Vec<Vec<String>> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, n, _)| n == name)
            .map(|(_, _, fields)| fields.clone())
            .collect()
    }
}

#[tokio::test]
async fn verification_spans_name_the_cache_hit_the_fetch_and_the_refusal() {
    let spans = Spans::default();
    let subscriber = tracing_subscriber::registry().with(spans.clone());
    let _default = tracing::subscriber::set_default(subscriber);
    let clock = ManualClock::at_unix(1_767_225_600);
    let issuer = TestIssuer::start_with_clock(Arc::new(clock.clone())).await;
    let verifier = Verifier::builder()
        .issuer(issuer.issuer())
        .client_id(CLIENT)
        .clock(Arc::new(clock) as Arc<dyn Clock>)
        .token_cache(16)
        .build()
        .unwrap();
    let token = issuer.access_token(CLIENT, [READ]);

    // The first verification fetches the key set, which empties the cache; the second
    // fills it, the third hits it.
    verifier.verify(&token).await.unwrap();
    verifier.verify(&token).await.unwrap();
    verifier.verify(&token).await.unwrap();
    let policy = jwt_verifier::ScopePolicy::all_of([UPDATE]);
    verifier.verify_with(&token, &policy).await.unwrap_err();

    let verify = spans.named("jwt.verify");
    assert_eq!(verify.len(), 4, "{verify:?}");
    assert_eq!(verify[0], ["cache_hit=false"]);
    assert_eq!(verify[1], ["cache_hit=false"]);
    assert_eq!(verify[2], ["cache_hit=true"]);
    assert_eq!(verify[3], ["cache_hit=true", "refusal=insufficient_scope"]);
    let fetch = spans.named("jwt.jwks_fetch");
    assert_eq!(fetch.len(), 1, "{fetch:?}");
    assert_eq!(
        fetch[0],
        [
            format!("issuer={}", issuer.issuer()),
            "outcome=ok".to_owned()
        ]
    );
    let all = format!("{:?}", spans.0.lock().unwrap());
    assert!(!all.contains(&token), "a span holds the token");
}
