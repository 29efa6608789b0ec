//! Identifiers in Cognito's formats, drawn from the operating system's CSPRNG
//! (`aws_lc_rs::rand::SystemRandom`).

use aws_lc_rs::rand::{SecureRandom, SystemRandom};

use crate::error::StoreError;

/// Lowercase base32hex (RFC 4648 §7), the alphabet of Cognito's client ids and secrets.
const BASE32HEX: &[u8; 32] = b"0123456789abcdefghijklmnopqrstuv";
const ALPHANUMERIC: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn random_bytes<const N: usize>() -> Result<[u8; N], StoreError> {
    let mut bytes = [0u8; N];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| StoreError::Internal("the system random generator failed".to_owned()))?;
    Ok(bytes)
}

/// Base32hex without padding, lowercase.
pub(crate) fn base32hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 8 / 5 + 1);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(BASE32HEX[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(
            BASE32HEX[((buffer << (5 - bits)) & 31) as usize],
        ));
    }
    out
}

/// A user pool id: `<region>_<9 alphanumerics>` (e.g. `us-east-1_4ygzD9mcV`).
pub(crate) fn user_pool_id(region: &str) -> Result<String, StoreError> {
    let mut suffix = String::with_capacity(9);
    while suffix.len() < 9 {
        for byte in random_bytes::<16>()? {
            // Rejection sampling keeps every character equally likely: 248 = 4 * 62.
            if byte < 248 && suffix.len() < 9 {
                suffix.push(char::from(ALPHANUMERIC[usize::from(byte % 62)]));
            }
        }
    }
    Ok(format!("{region}_{suffix}"))
}

/// An app client id: base32hex of 128 random bits, 26 characters of `[0-9a-v]`.
pub(crate) fn client_id() -> Result<String, StoreError> {
    Ok(base32hex(&random_bytes::<16>()?))
}

/// A generated client secret: base32hex of 256 random bits, 52 characters of `[0-9a-v]`.
pub(crate) fn client_secret() -> Result<String, StoreError> {
    Ok(base32hex(&random_bytes::<32>()?))
}

/// A random UUID v4 (token `jti`, request ids).
pub(crate) fn uuid_v4() -> Result<String, StoreError> {
    Ok(uuid::Builder::from_random_bytes(random_bytes::<16>()?)
        .into_uuid()
        .hyphenated()
        .to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_match_cognito() {
        let pool = user_pool_id("eu-west-1").unwrap();
        let (region, suffix) = pool.split_once('_').unwrap();
        assert_eq!(region, "eu-west-1");
        assert_eq!(suffix.len(), 9);
        assert!(suffix.bytes().all(|b| b.is_ascii_alphanumeric()));

        let id = client_id().unwrap();
        assert_eq!(id.len(), 26);
        assert!(id.bytes().all(|b| BASE32HEX.contains(&b)));
        assert_ne!(id, client_id().unwrap());

        let secret = client_secret().unwrap();
        assert_eq!(secret.len(), 52);
        assert!(secret.bytes().all(|b| BASE32HEX.contains(&b)));

        let jti = uuid_v4().unwrap();
        assert_eq!(jti.len(), 36);
        assert_eq!(jti.as_bytes()[14], b'4');
    }

    #[test]
    fn base32hex_matches_rfc4648_vectors() {
        assert_eq!(base32hex(b"f"), "co");
        assert_eq!(base32hex(b"fo"), "cpng");
        assert_eq!(base32hex(b"foobar"), "cpnmuoj1e8");
    }
}
