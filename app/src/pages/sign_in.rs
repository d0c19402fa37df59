//! `/sign-in`: a plain HTML form posting to `/auth/sign-in`, so it works before (and without)
//! the wasm, and, when single sign-on is configured, a "Sign in with …" link to
//! `/auth/oidc/start`. Errors come back as codes in the query and are worded here.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn SignInPage() -> impl IntoView {
    let query = use_query_map();
    let next = move || query.read().get("next").unwrap_or_else(|| "/".to_owned());
    let error = move || {
        let q = query.read();
        match q.get("error").as_deref() {
            Some("credentials") => Some("The user name or password is not right.".to_owned()),
            Some("throttled") => {
                let minutes = q.get("retry").and_then(|r| r.parse::<u32>().ok()).unwrap_or(15);
                Some(format!("Too many failed sign-ins; try again in {minutes} minute(s)."))
            }
            Some(code) => Some(sso_error(code).to_owned()),
            None => None,
        }
    };
    // Rendered on the server from the configuration, handed to the browser with the page.
    let provider = SharedValue::new(sso_provider);
    let sso_href = move || format!("/auth/oidc/start?next={}", encode(&next()));
    view! {
        <Title text="Sign in" />
        <main class="page sign-in">
            <div class="brand">
                <span class="brand-mark" aria-hidden="true"></span>
                "Rollgate"
            </div>
            <h1>"Sign in"</h1>
            {move || error().map(|message| view! { <p class="error-panel" role="alert">{message}</p> })}
            <form class="card form" method="post" action="/auth/sign-in">
                <label>
                    "User name" <input name="username" autocomplete="username" required autofocus />
                </label>
                <label>
                    "Password"
                    <input name="password" type="password" autocomplete="current-password" required />
                </label>
                <input type="hidden" name="next" value=next />
                <button type="submit" class="primary">"Sign in"</button>
            </form>
            {provider
                .into_inner()
                .map(|name| {
                    view! {
                        <p class="sso">
                            // rel=external: a full page load (a server route and a redirect to the
                            // provider), not the router's client-side navigation.
                            <a class="button" href=sso_href rel="external">{format!("Sign in with {name}")}</a>
                        </p>
                    }
                })}
        </main>
    }
}

/// The sign-in button's provider name, when single sign-on is configured.
fn sso_provider() -> Option<String> {
    #[cfg(feature = "ssr")]
    {
        use_context::<backend::Portal>()
            .and_then(|portal| portal.config.auth.oidc.as_ref().map(|o| o.display_name.clone()))
    }
    #[cfg(not(feature = "ssr"))]
    {
        None
    }
}

/// What a failed single sign-on (or an unavailable store) means, in words.
fn sso_error(code: &str) -> &'static str {
    match code {
        "sso-off" => "Single sign-on is not configured here; sign in with your user name and password.",
        "sso-unreachable" => "The identity provider cannot be reached just now; try again shortly.",
        "sso-expired" => {
            "That single sign-on was not started in this browser or took more than ten minutes; start again."
        }
        "sso-state" => "The identity provider's answer does not belong to this sign-in; start again.",
        "sso-denied" => "The identity provider did not sign you in (the sign-in was declined).",
        "sso-exchange" => "The identity provider refused to complete the sign-in; start again.",
        "sso-token" => "The identity provider's answer could not be verified, so you were not signed in.",
        "sso-name" => "The identity provider gave no usable user name; ask an admin.",
        "sso-taken" => "Your single-sign-on name belongs to another Rollgate account; ask an admin.",
        "sso-unbound" => {
            "The name your identity provider gives you has roles or is reserved in Rollgate's configuration, and is not bound to you; ask an admin to bind it to you under auth.oidc.names."
        }
        "sso-disabled" => "Your account is disabled; ask an admin.",
        _ => "Rollgate could not check your sign-in just now; try again shortly.",
    }
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
