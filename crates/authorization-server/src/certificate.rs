//! The pool's signing certificate (`GetSigningCertificate`): a self-signed X.509 v3
//! certificate over the pool's first access-token key, written in DER by hand (a dozen
//! fixed fields do not justify an X.509 crate).
//!
//! It is the same on every call and after every restart without being stored: every field
//! comes from the pool (id, creation time) and its first key, and RSASSA-PKCS1-v1_5
//! signatures are deterministic. Subject and issuer are `CN=<user pool id>`; it is valid
//! from the pool's creation for ten years; the serial number is taken from the key's
//! SHA-256.

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeyPair;
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};

use crate::error::StoreError;
use crate::store::SigningKeyRecord;

/// `sha256WithRSAEncryption` (1.2.840.113549.1.1.11) with NULL parameters.
const SHA256_WITH_RSA: &[u8] = &[
    0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00,
];
/// `id-at-commonName` (2.5.4.3).
const COMMON_NAME: &[u8] = &[0x06, 0x03, 0x55, 0x04, 0x03];
const VALIDITY_YEARS: i64 = 10;

fn failed(what: &str) -> StoreError {
    StoreError::Internal(format!("signing certificate {what} failed"))
}

/// One DER TLV.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    match u8::try_from(content.len()) {
        Ok(short) if short < 0x80 => out.push(short),
        _ => {
            let bytes: Vec<u8> = content
                .len()
                .to_be_bytes()
                .into_iter()
                .skip_while(|b| *b == 0)
                .collect();
            // At most 8 length bytes: the count always fits.
            out.push(0x80 | u8::try_from(bytes.len()).unwrap_or(8));
            out.extend(bytes);
        }
    }
    out.extend_from_slice(content);
    out
}

fn sequence(parts: &[&[u8]]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

/// `CN=<name>` as an X.501 Name.
fn name(common_name: &str) -> Vec<u8> {
    let attribute = sequence(&[COMMON_NAME, &tlv(0x0c, common_name.as_bytes())]);
    sequence(&[&tlv(0x31, &attribute)])
}

/// (year, month, day) of a day count since 1970-01-01 (H. Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// UTCTime until 2049, GeneralizedTime from 2050 (RFC 5280 §4.1.2.5).
fn time(unix_seconds: i64) -> Vec<u8> {
    let (year, month, day) = civil_from_days(unix_seconds.div_euclid(86_400));
    let secs = unix_seconds.rem_euclid(86_400);
    let clock = format!(
        "{month:02}{day:02}{:02}{:02}{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    );
    if (1950..2050).contains(&year) {
        tlv(0x17, format!("{:02}{clock}", year % 100).as_bytes())
    } else {
        tlv(0x18, format!("{year:04}{clock}").as_bytes())
    }
}

/// The DER certificate of `pool_id`, created at `created_ms`, signed by `key`.
pub(crate) fn signing_certificate(
    pool_id: &str,
    created_ms: i64,
    key: &SigningKeyRecord,
) -> Result<Vec<u8>, StoreError> {
    let pair = KeyPair::from_pkcs8(&key.pkcs8).map_err(|_| failed("key parsing"))?;
    let spki = pair
        .public_key()
        .as_der()
        .map_err(|_| failed("key encoding"))?;
    // 16 bytes of the key's hash, positive and without a leading zero byte.
    let mut serial = digest(&SHA256, spki.as_ref()).as_ref()[..16].to_vec();
    serial[0] = (serial[0] & 0x7f) | 0x40;
    let not_before = created_ms.div_euclid(1000);
    let not_after = not_before + VALIDITY_YEARS * 365 * 86_400;
    let subject = name(pool_id);
    let tbs = sequence(&[
        &tlv(0xa0, &tlv(0x02, &[2])), // version v3
        &tlv(0x02, &serial),
        SHA256_WITH_RSA,
        &subject,
        &sequence(&[&time(not_before), &time(not_after)]),
        &subject,
        spki.as_ref(),
    ]);
    let mut signature = vec![0u8; pair.public_modulus_len()];
    pair.sign(
        &RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        &tbs,
        &mut signature,
    )
    .map_err(|_| failed("signing"))?;
    let mut bits = vec![0u8]; // no unused bits
    bits.extend(signature);
    Ok(sequence(&[&tbs, SHA256_WITH_RSA, &tlv(0x03, &bits)]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_civil() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(time(0), tlv(0x17, b"700101000000Z"));
        assert_eq!(time(2_556_143_999), tlv(0x18, b"20501231235959Z"));
    }

    #[test]
    fn long_lengths_use_the_long_form() {
        assert_eq!(&tlv(0x04, &[0; 200])[..3], &[0x04, 0x81, 200]);
        assert_eq!(&tlv(0x04, &[0; 300])[..4], &[0x04, 0x82, 0x01, 0x2c]);
    }
}
