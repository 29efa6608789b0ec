//! HTML rendering without a template engine: [`Escaped`] escapes every interpolated value,
//! and [`page`] wraps a page's body in the one layout (skip link, breadcrumb, sign-out
//! button, stylesheet and the one script, both served from `/console/static/`, so the
//! `Content-Security-Policy` can forbid inline script and style).

use std::fmt::{self, Display, Write as _};

/// A value escaped for HTML text and double-quoted attribute values.
pub(crate) struct Escaped<'a>(pub(crate) &'a str);

impl Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..at])?;
            f.write_str(match rest.as_bytes()[at] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[at + 1..];
        }
        f.write_str(rest)
    }
}

/// Shorthand for [`Escaped`].
pub(crate) fn esc(value: &str) -> Escaped<'_> {
    Escaped(value)
}

/// A path segment percent-encoded for a URL inside an attribute (ids are `[\w-]` in
/// practice; anything else is encoded rather than trusted).
pub(crate) fn seg(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC)
        .to_string()
        .replace("%2D", "-")
        .replace("%5F", "_")
        .replace("%2E", ".")
}

/// What the layout needs besides the body.
pub(crate) struct Layout<'a> {
    /// The `<title>` and `<h1>`.
    pub(crate) title: &'a str,
    /// Breadcrumb links above the heading, `(href, label)`, outermost first.
    pub(crate) crumbs: &'a [(String, String)],
    /// The pool whose sub-navigation is shown, with the current tab's path suffix.
    pub(crate) pool_nav: Option<(&'a str, &'a str)>,
    /// The session's CSRF token, for the sign-out form; `None` when there is nothing to
    /// sign out of (no admin credentials configured, or the sign-in page).
    pub(crate) sign_out_csrf: Option<&'a str>,
    /// A one-line notice shown above the body (a change made), or an error (a change
    /// refused), announced to screen readers.
    pub(crate) notice: Option<Notice>,
}

/// The result of the last action, shown at the top of the page.
pub(crate) enum Notice {
    /// A change was made.
    Done(String),
    /// A change was refused: the admin API's exception name and message.
    Refused(String),
}

/// The whole document.
pub(crate) fn page(layout: &Layout<'_>, body: &str) -> String {
    let mut out = String::with_capacity(body.len() + 2048);
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · s2s console</title>\
         <link rel=\"stylesheet\" href=\"/console/static/console.css\">\
         <script src=\"/console/static/console.js\" defer></script></head><body>\
         <a class=\"skip\" href=\"#main\">Skip to content</a><header class=\"top\">\
         <a class=\"brand\" href=\"/console\">s2s console</a>\
         <nav aria-label=\"Console\" class=\"sections\"><a href=\"/console\">User pools</a> \
         <a href=\"/console/activity\">Token activity</a></nav>",
        esc(layout.title)
    );
    if let Some(csrf) = layout.sign_out_csrf {
        let _ = write!(
            out,
            "<form method=\"post\" action=\"/console/logout\" class=\"signout\">{}\
             <button type=\"submit\">Sign out</button></form>",
            csrf_field(csrf)
        );
    }
    out.push_str("</header>");
    if !layout.crumbs.is_empty() {
        out.push_str("<nav aria-label=\"Breadcrumb\" class=\"crumbs\"><ol>");
        for (href, label) in layout.crumbs {
            let _ = write!(out, "<li><a href=\"{}\">{}</a></li>", esc(href), esc(label));
        }
        out.push_str("</ol></nav>");
    }
    if let Some((pool_id, current)) = layout.pool_nav {
        out.push_str("<nav aria-label=\"User pool\" class=\"tabs\"><ul>");
        for (suffix, label) in [
            ("", "Overview"),
            ("/resource-servers", "Resource servers"),
            ("/clients", "App clients"),
        ] {
            let attr = if suffix == current {
                " aria-current=\"page\""
            } else {
                ""
            };
            let _ = write!(
                out,
                "<li><a href=\"/console/pools/{}{suffix}\"{attr}>{label}</a></li>",
                seg(pool_id)
            );
        }
        out.push_str("</ul></nav>");
    }
    let _ = write!(
        out,
        "<main id=\"main\" tabindex=\"-1\"><h1>{}</h1>",
        esc(layout.title)
    );
    match &layout.notice {
        Some(Notice::Done(message)) => {
            let _ = write!(
                out,
                "<p class=\"notice done\" role=\"status\" id=\"notice\">{}</p>",
                esc(message)
            );
        }
        Some(Notice::Refused(message)) => {
            let _ = write!(
                out,
                "<p class=\"notice refused\" role=\"alert\" id=\"notice\">{}</p>",
                esc(message)
            );
        }
        None => {}
    }
    out.push_str(body);
    out.push_str("</main></body></html>\n");
    out
}

/// The hidden CSRF field every form carries.
pub(crate) fn csrf_field(token: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        esc(token)
    )
}

/// `YYYY-MM-DD HH:MM:SS UTC` of Unix milliseconds (proleptic Gregorian calendar).
pub(crate) fn utc(ms: i64) -> String {
    let seconds = ms.div_euclid(1000);
    let (days, rest) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// How long ago `then_ms` was, coarsely (`42 s`, `5 min`, `3 h`, `2 days`).
pub(crate) fn age(now_ms: i64, then_ms: i64) -> String {
    let seconds = (now_ms - then_ms).max(0) / 1000;
    match seconds {
        0..60 => format!("{seconds} s"),
        60..3600 => format!("{} min", seconds / 60),
        3600..86_400 => format!("{} h", seconds / 3600),
        _ => {
            let days = seconds / 86_400;
            format!("{days} day{}", if days == 1 { "" } else { "s" })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc("<a href=\"x\">'&'</a>").to_string(),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(esc("plain").to_string(), "plain");
        assert_eq!(seg("us-east-1_AbC"), "us-east-1_AbC");
        assert_eq!(seg("a/b?c"), "a%2Fb%3Fc");
    }

    #[test]
    fn dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_796_603_227_000), "2026-12-07 00:27:07 UTC");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00:00 UTC");
        assert_eq!(age(100_000, 58_000), "42 s");
        assert_eq!(age(86_400_000, 0), "1 day");
    }
}
