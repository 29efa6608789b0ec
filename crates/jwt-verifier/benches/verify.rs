//! Single-thread `verify()` with a warm JWKS, through the verified-token cache, and the
//! bare aws-lc-rs RSA-2048 verification as a floor. `bench.sh` sets these next to
//! `openssl speed rsa2048`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, criterion_group, criterion_main};
use jwt_verifier::test_util::TestIssuer;
use jwt_verifier::{Claims, Verifier, VerifyError};

const CLIENT: &str = "7m2k9q4r1t6v8b3n5c0d2f4g6h";
const READ: &str = "user-schedule-service/schedule.read";

/// With a warm JWKS (and a warm cache) `verify` never waits: poll it once, with no
/// runtime in the measurement.
fn now_or_never(f: impl Future<Output = Result<Claims, VerifyError>>) -> Claims {
    match pin!(f).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(result) => result.unwrap(),
        Poll::Pending => panic!("verify() waited: the JWKS is not warm"),
    }
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (issuer, plain, cached) = runtime.block_on(async {
        let issuer = TestIssuer::start().await;
        let build = |cache: bool| {
            let b = Verifier::builder()
                .issuer(issuer.issuer())
                .client_id(CLIENT);
            if cache { b.token_cache(10_000) } else { b }
                .build()
                .unwrap()
        };
        let (plain, cached) = (build(false), build(true));
        plain.hydrate().await.unwrap();
        cached.hydrate().await.unwrap();
        (issuer, plain, cached)
    });
    let token = issuer.access_token(CLIENT, [READ]);

    let mut group = c.benchmark_group("verify");
    group.bench_function("warm_jwks", |b| {
        b.iter(|| now_or_never(plain.verify(black_box(&token))));
    });
    now_or_never(cached.verify(&token));
    group.bench_function("token_cache_hit", |b| {
        b.iter(|| now_or_never(cached.verify(black_box(&token))));
    });

    // The floor: aws-lc-rs RS256 verification of the same signing input, key pre-parsed.
    let jwk = issuer.public_jwk();
    let key = RsaPublicKeyComponents {
        n: URL_SAFE_NO_PAD.decode(&jwk.n).unwrap(),
        e: URL_SAFE_NO_PAD.decode(&jwk.e).unwrap(),
    }
    .to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256)
    .unwrap();
    let (input, signature) = token.rsplit_once('.').unwrap();
    let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
    group.bench_function("aws_lc_rs_rsa2048_only", |b| {
        b.iter(|| {
            key.verify_sig(black_box(input.as_bytes()), black_box(&signature))
                .unwrap();
        });
    });
    group.finish();
    drop(runtime);
}

criterion_group!(benches, bench);
criterion_main!(benches);
