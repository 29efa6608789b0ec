//! A request's head in memory of its own, so that hyper's read buffer is free again as soon
//! as the request is dispatched.
//!
//! hyper parses the URI and the header values of a request as slices of the connection's
//! 8 KiB read buffer. While any of them is alive the buffer cannot be reused, and hyper —
//! which reads on at once, to notice a caller that hangs up — allocates a second one. So
//! every request in flight held two buffers, the first until the last layer, handler or
//! queue holding the request was done with it: under load, every connection. Copied into
//! one allocation the size of the head (about a kilobyte, most of it a bearer token) as the
//! request enters the router, the head no longer shares hyper's buffer, and hyper reuses
//! that buffer for its next read instead of allocating another (BENCHMARKS.md, "Overload").

use std::io::Write as _;

use axum::body::Bytes;
use axum::http::{HeaderValue, Request, Uri};

/// Replaces the URI and every header value of `request` with copies held together in one
/// new allocation. Names, method, version, extensions and body are left as they are (header
/// names and methods are never slices of the read buffer).
pub(crate) fn own_head<B>(request: &mut Request<B>) {
    let values: usize = request.headers().values().map(HeaderValue::len).sum();
    let mut copy = Vec::with_capacity(values + 64);
    // Writing to a `Vec` cannot fail.
    let _ = write!(copy, "{}", request.uri());
    let uri_end = copy.len();
    for value in request.headers().values() {
        copy.extend_from_slice(value.as_bytes());
    }
    let copy = Bytes::from(copy);
    // The URI came off the wire, so its text parses again; if it somehow did not, the
    // original stays (it only keeps the buffer alive longer).
    if let Ok(uri) = Uri::from_maybe_shared(copy.slice(..uri_end)) {
        *request.uri_mut() = uri;
    }
    // `values_mut` visits the values in the order `values` did.
    let mut start = uri_end;
    for value in request.headers_mut().values_mut() {
        let end = start + value.len();
        if let Ok(mut owned) = HeaderValue::from_maybe_shared(copy.slice(start..end)) {
            owned.set_sensitive(value.is_sensitive());
            *value = owned;
        }
        start = end;
    }
}

#[cfg(test)]
mod tests {
    use axum::http::header;

    use super::*;

    /// A request whose URI and header values are slices of `wire`, as hyper makes them.
    fn parsed(wire: &Bytes) -> Request<()> {
        let text = std::str::from_utf8(wire).unwrap();
        let slice = |s: &str| {
            let start = text.find(s).unwrap();
            wire.slice(start..start + s.len())
        };
        let mut request = Request::new(());
        *request.uri_mut() = Uri::from_maybe_shared(slice("/users/u1/schedule?from=2027")).unwrap();
        let headers = request.headers_mut();
        let mut token = HeaderValue::from_maybe_shared(slice("Bearer abc.def.ghi")).unwrap();
        token.set_sensitive(true);
        headers.insert(header::AUTHORIZATION, token);
        headers.append(
            "x-tag",
            HeaderValue::from_maybe_shared(slice("one")).unwrap(),
        );
        headers.append(
            "x-tag",
            HeaderValue::from_maybe_shared(slice("two")).unwrap(),
        );
        headers.insert(
            header::HOST,
            HeaderValue::from_maybe_shared(slice("localhost")).unwrap(),
        );
        request
    }

    const WIRE: &[u8] = b"GET /users/u1/schedule?from=2027 HTTP/1.1\r\nHost: localhost\r\n\
        Authorization: Bearer abc.def.ghi\r\nX-Tag: one\r\nX-Tag: two\r\n\r\n";

    #[test]
    fn the_head_keeps_its_values_and_lets_go_of_the_read_buffer() {
        let wire = Bytes::from(WIRE.to_vec());
        let mut request = parsed(&wire);
        // The request shares the buffer: it is not unique.
        let wire = wire.try_into_mut().unwrap_err();

        own_head(&mut request);

        assert_eq!(request.uri(), "/users/u1/schedule?from=2027");
        let headers = request.headers();
        assert_eq!(headers[header::AUTHORIZATION], "Bearer abc.def.ghi");
        assert!(headers[header::AUTHORIZATION].is_sensitive());
        assert!(!headers[header::HOST].is_sensitive());
        assert_eq!(headers[header::HOST], "localhost");
        let tags: Vec<_> = headers.get_all("x-tag").iter().collect();
        assert_eq!(tags, ["one", "two"]);
        assert_eq!(headers.len(), 4);
        // Nothing of the request points into the buffer any more: it is unique again, as
        // hyper needs it to be to reuse it.
        assert!(
            wire.try_into_mut().is_ok(),
            "the request still holds the read buffer"
        );
    }

    #[test]
    fn a_request_without_headers_keeps_its_uri() {
        let mut request = Request::new(());
        *request.uri_mut() = Uri::from_static("http://example.com:8080/a?b=c");
        own_head(&mut request);
        assert_eq!(request.uri(), "http://example.com:8080/a?b=c");
        assert!(request.headers().is_empty());
    }
}
