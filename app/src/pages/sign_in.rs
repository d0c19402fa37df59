//! `/sign-in`: a plain HTML form posting to `/auth/sign-in`, so it works before (and without)
//! the wasm. Errors come back as codes in the query and are worded here.

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
            Some(_) => Some("Rollgate could not check your sign-in just now; try again shortly.".to_owned()),
            None => None,
        }
    };
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
        </main>
    }
}
