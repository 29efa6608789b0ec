//! The operator console in a real browser (Debian's headless Chromium through
//! chromedriver): the walkthrough of "Configuring the Authorization Server" done by
//! looking instead of editing TOML. With the three servers running as in `s2s up`, the
//! test opens `/console`, finds the pool, its keys, scopes and client, grants
//! `schedule.update` to articles-service with its checkbox — after which a publication
//! through articles-service succeeds —, rotates the signing key and sees the new kid, has
//! an invalid change refused with Cognito's message (and nothing changed), sees a form
//! posted without its CSRF token refused, adds and deletes a client secret (its value
//! shown once), and checks labels, keyboard focus and a 200% zoom. Each page is captured
//! at 1280×800 under `target/console-screenshots/`.
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (`apt-get install -y
//! --no-install-recommends chromium chromium-driver`); without them it fails saying so.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code)] // Shared with flow.rs, which uses the rest.
mod helpers;
mod webdriver;

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_cognitoidentityprovider as cognito;
use oauth_proto::time::{Clock, ManualClock, SystemClock};
use serde_json::{Value, json};

use helpers::{CLIENT, POOL, Provisioned, READ, UPDATE};
use webdriver::{Browser, TAB};

async fn granted_scopes(sdk: &cognito::Client, p: &Provisioned) -> Vec<String> {
    let described = sdk
        .describe_user_pool_client()
        .user_pool_id(&p.pool_id)
        .client_id(&p.client_id)
        .send()
        .await
        .unwrap();
    let client = described.user_pool_client().unwrap();
    assert_eq!(
        client.access_token_validity(),
        Some(60),
        "validity unchanged"
    );
    client.allowed_o_auth_scopes().to_vec()
}

/// Every visible form control has a label (a `<label for>`, or `aria-label`).
async fn assert_labelled(browser: &Browser) {
    let unlabelled = browser
        .execute(
            "return Array.from(document.querySelectorAll('input, select, textarea, button'))\
               .filter(e => e.type !== 'hidden')\
               .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')\
                            && !(e.tagName === 'BUTTON' && e.textContent.trim()))\
               .map(e => e.outerHTML);",
            json!([]),
        )
        .await;
    assert_eq!(unlabelled, json!([]), "controls without a label");
}

/// Nothing is wider than the viewport (no horizontal scrolling of the page).
async fn assert_no_horizontal_scroll(browser: &Browser) {
    let widths = browser
        .execute(
            "return [document.documentElement.scrollWidth, window.innerWidth];",
            json!([]),
        )
        .await;
    let (scroll, inner) = (widths[0].as_i64().unwrap(), widths[1].as_i64().unwrap());
    assert!(
        scroll <= inner,
        "page is {scroll}px wide in a {inner}px viewport"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_walkthrough_in_a_browser() {
    let browser = Browser::start().await;
    let data = tempfile::tempdir().unwrap();
    let data = data.path();
    let manual = ManualClock::new(SystemClock.now());
    let clock: Arc<dyn Clock> = Arc::new(manual.clone());
    let http = reqwest::Client::new();

    let auth =
        helpers::authorization_server(data, "127.0.0.1:0".parse().unwrap(), clock.clone()).await;
    let sdk = helpers::sdk(&auth.url);
    let p = helpers::provision(&sdk).await;
    let issuer = format!("{}/{}", auth.url, p.pool_id);
    let token_url = format!("{}/oauth2/token", auth.url);
    let schedules =
        helpers::user_schedule_service(data, &issuer, &p.client_id, clock.clone()).await;
    let articles =
        helpers::articles_service(data, &token_url, &p, &schedules.url, clock.clone()).await;

    // The story's starting point: the publication lacks schedule.update (502 naming it).
    let article: Value = http
        .post(format!("{}/articles", articles.url))
        .json(&json!({
            "title": "Tokens without users",
            "body": "Client credentials in practice.",
            "author_id": "alice",
            "publish_at": "2030-01-07T09:00:00Z",
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let article = article["id"].as_str().unwrap().to_owned();
    let publication = format!("{}/articles/{article}/publication", articles.url);
    let refused = http.post(&publication).send().await.unwrap();
    assert_eq!(refused.status(), 502);
    // And a refused token request, for the activity page.
    let wrong = http
        .post(&token_url)
        .basic_auth(&p.client_id, Some("not-the-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);

    // User pools → the pool: ids, URLs, domain, keys.
    browser.goto(&format!("{}/console", auth.url)).await;
    assert!(browser.body_text().await.contains(&p.pool_id));
    assert_labelled(&browser).await;
    browser.screenshot("01-user-pools").await;
    // Keyboard: the first Tab reaches the skip link, which leads to the content.
    browser.press(TAB).await;
    let focused = browser
        .execute("return document.activeElement.textContent;", json!([]))
        .await;
    assert_eq!(focused, "Skip to content");

    browser.click_and_load(&browser.link(POOL).await).await;
    let page = browser.body_text().await;
    assert!(page.contains(&issuer), "issuer shown");
    assert!(page.contains(&format!("{}/oauth2/token", auth.url)));
    assert!(page.contains(&format!("{issuer}/.well-known/jwks.json")));
    assert!(page.contains(helpers::DOMAIN));
    let old_kid = browser
        .text(&browser.find("#keys-table tr.signing .kid").await)
        .await;
    assert_labelled(&browser).await;
    browser.screenshot("02-user-pool").await;

    // Resource servers: both scopes, schedule.read held by articles-service.
    browser
        .click_and_load(&browser.link("Resource servers").await)
        .await;
    let page = browser.body_text().await;
    assert!(page.contains(READ) && page.contains(UPDATE));
    assert!(page.contains(CLIENT));
    browser.screenshot("03-resource-servers").await;

    // App clients → articles-service.
    browser
        .click_and_load(&browser.link("App clients").await)
        .await;
    assert!(browser.body_text().await.contains(&p.client_id));
    browser.screenshot("04-app-clients").await;
    browser.click_and_load(&browser.link(CLIENT).await).await;
    let page = browser.body_text().await;
    assert!(page.contains("client_credentials"));
    assert!(page.contains("60 minutes"));
    assert!(
        !page.contains(&p.secret),
        "the client secret is never shown"
    );
    assert_labelled(&browser).await;

    // Grant schedule.update with its checkbox.
    let update_box = browser
        .find(&format!("input[name=scope][value=\"{UPDATE}\"]"))
        .await;
    assert!(!browser.selected(&update_box).await);
    browser.click(&update_box).await;
    browser.screenshot("05-app-client-granting").await;
    browser
        .click_and_load(&browser.find("#save-scopes").await)
        .await;
    let notice = browser.text(&browser.find("#notice").await).await;
    assert!(notice.starts_with("Scopes saved"), "{notice}");
    let update_box = browser
        .find(&format!("input[name=scope][value=\"{UPDATE}\"]"))
        .await;
    assert!(browser.selected(&update_box).await);
    let mut scopes = granted_scopes(&sdk, &p).await;
    scopes.sort();
    assert_eq!(scopes, [READ, UPDATE]);

    // The publication now succeeds once articles-service's token is renewed (past the
    // lifetime of the one it holds).
    manual.advance(Duration::from_secs(61 * 60));
    let booked = http.post(&publication).send().await.unwrap();
    assert_eq!(booked.status(), 201);

    // An invalid change: 2 days is beyond Cognito's access-token range. Refused with
    // Cognito's message, and nothing changed.
    let validity = browser.find("#access-token-validity").await;
    browser.clear(&validity).await;
    browser.type_into(&validity, "2").await;
    browser.select("#validity-unit", "days").await;
    browser
        .click_and_load(&browser.find("#save-validity").await)
        .await;
    let notice = browser.text(&browser.find("#notice").await).await;
    assert_eq!(
        notice,
        "InvalidParameterException: Invalid range for token validity."
    );
    assert_eq!(
        browser.text(&browser.find("#validity").await).await,
        "60 minutes"
    );
    browser.screenshot("06-app-client-refused-change").await;
    // Ungranting every scope of a client_credentials client is refused too.
    for checked in browser.find_all("input[name=scope]:checked").await {
        browser.click(&checked).await;
    }
    browser
        .click_and_load(&browser.find("#save-scopes").await)
        .await;
    let notice = browser.text(&browser.find("#notice").await).await;
    assert!(
        notice.starts_with(
            "InvalidParameterException: AllowedOAuthFlows and AllowedOAuthScopes are required"
        ),
        "{notice}"
    );
    assert_eq!(granted_scopes(&sdk, &p).await.len(), 2);

    // A forged post: the scope form without its CSRF token is refused, nothing changes.
    browser
        .goto(&format!(
            "{}/console/pools/{}/clients/{}",
            auth.url, p.pool_id, p.client_id
        ))
        .await;
    browser
        .execute(
            "const form = document.querySelector('form.scopes');\
             form.querySelector('input[name=csrf]').remove();\
             form.querySelectorAll('input[name=scope]').forEach(b => b.checked = false);\
             form.querySelector('input[name=scope]').checked = true;\
             form.submit();",
            json!([]),
        )
        .await;
    let notice = browser.text(&browser.find("#notice").await).await;
    assert!(notice.contains("CSRF token is missing"), "{notice}");
    assert!(browser.body_text().await.contains("Request refused"));
    assert_eq!(granted_scopes(&sdk, &p).await.len(), 2);

    // Client secrets: add one (its value shown this once, and it works), then delete it.
    browser
        .goto(&format!(
            "{}/console/pools/{}/clients/{}",
            auth.url, p.pool_id, p.client_id
        ))
        .await;
    browser
        .click_and_load(&browser.find("#add-secret").await)
        .await;
    let value = browser
        .property(&browser.find("#new-secret").await, "value")
        .await;
    let value = value.as_str().unwrap().to_owned();
    assert_eq!(value.len(), 52);
    browser.screenshot("07-app-client-new-secret").await;
    let token = http
        .post(&token_url)
        .basic_auth(&p.client_id, Some(&value))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        token.status(),
        200,
        "the new secret authenticates the client"
    );
    browser
        .goto(&format!(
            "{}/console/pools/{}/clients/{}",
            auth.url, p.pool_id, p.client_id
        ))
        .await;
    let page = browser.body_text().await;
    assert!(
        !page.contains(&value),
        "a secret's value is shown only once"
    );
    let deletes = browser.find_all("td form button").await;
    assert_eq!(deletes.len(), 2, "two active secrets");
    browser.click_and_load(&deletes[1]).await;
    let notice = browser.text(&browser.find("#notice").await).await;
    assert!(notice.contains("deleted"), "{notice}");
    assert_eq!(browser.find_all("td form button").await.len(), 1);

    // Rotate the signing key: a new kid signs, the JWKS publishes it.
    browser
        .goto(&format!("{}/console/pools/{}", auth.url, p.pool_id))
        .await;
    browser
        .click_and_load(&browser.find("#rotate-key").await)
        .await;
    let notice = browser.text(&browser.find("#notice").await).await;
    let new_kid = browser
        .text(&browser.find("#keys-table tr.signing .kid").await)
        .await;
    assert_ne!(new_kid, old_kid);
    assert!(notice.contains(&new_kid), "{notice}");
    let jwks: Value = http
        .get(format!("{issuer}/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["kid"] == new_kid)
    );
    browser.screenshot("08-user-pool-rotated").await;

    // Token activity: issued and refused requests, and the chart.
    browser
        .click_and_load(&browser.link("Token activity").await)
        .await;
    let page = browser.body_text().await;
    assert!(page.contains("issued"));
    assert!(page.contains("refused: invalid_client"));
    assert!(
        !browser
            .find_all("figure.chart rect.issued")
            .await
            .is_empty()
    );
    browser.screenshot("09-token-activity").await;

    // 200% zoom: the client page reflows into 640×400 CSS pixels without sideways scrolling.
    browser.viewport(640, 400, 2.0).await;
    browser
        .goto(&format!(
            "{}/console/pools/{}/clients/{}",
            auth.url, p.pool_id, p.client_id
        ))
        .await;
    assert_no_horizontal_scroll(&browser).await;
    browser.screenshot("10-app-client-zoom-200").await;
    browser
        .goto(&format!("{}/console/pools/{}", auth.url, p.pool_id))
        .await;
    assert_no_horizontal_scroll(&browser).await;

    browser.quit().await;
    articles.stop().await;
    schedules.stop().await;
    auth.stop().await;
}
