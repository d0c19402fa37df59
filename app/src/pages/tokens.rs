//! Tokens: the parameters under the environment's SSM prefixes as a tree by path, the
//! cluster token and when it expires, and one parameter's detail with its history. No value
//! is loaded here: an admin reveals one through the [`RevealValue`] island. Changes are plain
//! forms posting to the Tokens server functions (admins only, audited); rotating the cluster
//! token is a change request, so a protected environment's approvals apply.

use leptos::either::Either;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_router::hooks::use_query_map;

use crate::api::changes::RequestChange;
use crate::api::tokens::{
    CreateToken, DeleteToken, LabelTokenVersion, PutTokenVersion, get_token, list_tokens,
};
use crate::components::form_error::FormError;
use crate::components::overview::use_environment_name;
use crate::components::overview::{OverviewResource, PageTitle, page_status};
use crate::components::reveal::RevealValue;
use crate::error::ApiError;
use crate::model::EnvironmentOverview;
use crate::model::tokens::{ClusterTokenView, ParameterDetail, ParameterRow, TokensView};

#[component]
pub fn TokensPage() -> impl IntoView {
    let env = use_environment_name();
    let query = use_query_map();
    let selected = move || query.read().get("p").filter(|p| !p.is_empty());
    let tokens = Resource::new(move || env.get(), list_tokens);
    let detail = Resource::new(
        move || (env.get(), selected()),
        |(env, name)| async move {
            match name {
                Some(name) => get_token(env, name).await.map(Some),
                None => Ok(None),
            }
        },
    );
    let OverviewResource(overview) = expect_context::<OverviewResource>();
    view! {
        <PageTitle area="Tokens" />
        <h1>"Tokens"</h1>
        <FormError path=RequestChange::PATH />
        <FormError path=CreateToken::PATH />
        <FormError path=PutTokenVersion::PATH />
        <FormError path=LabelTokenVersion::PATH />
        <FormError path=DeleteToken::PATH />
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let o = overview.await?;
                let t = tokens.await.inspect_err(page_status)?;
                let d = detail.await.inspect_err(page_status)?;
                Ok::<_, ApiError>(view! { <Tokens o t d /> })
            })}
        </Suspense>
    }
}

#[component]
fn Tokens(o: EnvironmentOverview, t: TokensView, d: Option<ParameterDetail>) -> impl IntoView {
    let env = o.summary.name.clone();
    let prefixes = if t.prefixes.is_empty() {
        "none configured (ssm_prefixes)".to_owned()
    } else {
        t.prefixes.join(", ")
    };
    let rule = match &t.manage_denied {
        None => "You may create, rotate, label, delete and reveal parameters; each is audited.".to_owned(),
        Some(why) => format!("{why} Names, metadata and history are shown; values never are."),
    };
    view! {
        <p class="lede">
            "Parameters of " <strong>{o.summary.title.clone()}</strong> " in SSM Parameter Store under "
            <code>{prefixes}</code> ". " {rule}
        </p>
        {t.cluster.clone().map(|c| view! { <ClusterToken o=o.clone() c manage_denied=t.manage_denied.clone() /> })}
        {d.map(|d| view! { <Detail env=env.clone() d t=t.clone() /> })}
        <Tree env=env.clone() t=t.clone() />
        {t.manage_denied.is_none().then(|| view! { <CreateForm env=env.clone() prefix=t.prefixes.first().cloned().unwrap_or_default() /> })}
    }
}

/// The cluster token: its version, when it expires, and the rotation request.
#[component]
fn ClusterToken(o: EnvironmentOverview, c: ClusterTokenView, manage_denied: Option<String>) -> impl IntoView {
    let env = o.summary.name.clone();
    let expiry = match (&c.expires, &c.expires_in) {
        (Some(at), Some(when)) => format!("{at} ({when})"),
        _ => "unknown: not recorded on the parameter (rotate it through Rollgate to record it)".to_owned(),
    };
    let chip = match c.expiry_state.as_str() {
        "ok" => ("ok", "valid"),
        "warn" => ("warn", "expires soon"),
        "bad" => ("bad", "expired"),
        _ => ("neutral", "expiry unknown"),
    };
    let warning = match c.expiry_state.as_str() {
        "warn" => Some(
            "The cluster token expires soon: rotate it before Rollgate (and your pipeline) lose the cluster.",
        ),
        "bad" => Some(
            "The cluster token has expired: rotate it, with another way into the cluster if Rollgate's is refused.",
        ),
        _ => None,
    };
    let rule = if o.summary.protected {
        format!(
            "{} is protected: the rotation waits for {} approval(s) from someone else, then runs.",
            o.summary.title, o.required_approvals
        )
    } else {
        format!("{} is not protected: the rotation runs as soon as it is asked for.", o.summary.title)
    };
    let form = match manage_denied {
        Some(why) => Either::Left(view! { <p class="muted">{why}</p> }),
        None => Either::Right(view! {
            <form method="post" action=RequestChange::PATH class="form grid" data-action="rotate-cluster-token">
                <input type="hidden" name="env" value=env.clone() />
                <input type="hidden" name="kind" value="rotate-token" />
                <input type="hidden" name="parameter" value=c.parameter.clone() />
                <input type="hidden" name="seen" value=c.version.map(|v| v.to_string()).unwrap_or_default() />
                <input type="hidden" name="return_to" value=format!("/{env}/tokens") />
                <p class="wide muted">
                    {format!("Asks the cluster for a new token of {} valid {} h, checks it, writes it as a new version and switches Rollgate to it. If any step fails the old token stays in use. ", c.service_account, c.lifetime_hours)}
                    {rule}
                </p>
                <label class="wide">"Why" <input name="reason" required placeholder="for approvers and the audit trail" /></label>
                <button type="submit" class="primary">"Rotate the cluster token"</button>
            </form>
        }),
    };
    view! {
        <section class="card cluster-token" aria-labelledby="cluster-token-heading">
            <h2 id="cluster-token-heading">"Cluster token"</h2>
            {warning.map(|w| view! { <p class="notice warn" role="status">{w}</p> })}
            {c.problem.clone().map(|p| view! { <p class="notice bad" role="alert">{p}</p> })}
            <dl class="facts">
                <dt>"Parameter"</dt>
                <dd><a href=format!("/{env}/tokens?p={}", c.parameter)><code>{c.parameter.clone()}</code></a></dd>
                <dt>"Latest version"</dt>
                <dd data-field="version">{c.version.map(|v| v.to_string()).unwrap_or_else(|| "unknown".into())}</dd>
                <dt>"Rollgate uses"</dt>
                <dd data-field="in-use">{c.in_use.map(|v| format!("version {v}")).unwrap_or_else(|| "no client built yet".into())}</dd>
                <dt>"Expires"</dt>
                <dd data-field="expires"><span class=format!("chip {}", chip.0)>{chip.1}</span> " " {expiry}</dd>
            </dl>
            {form}
        </section>
    }
}

/// One row of the tree: a folder (a path segment) or a parameter.
enum Node<'a> {
    Folder { path: String, depth: usize },
    Leaf { p: &'a ParameterRow, leaf: String, depth: usize },
}

/// The parameters as a tree: folders in path order, each parameter under its folder.
fn tree(parameters: &[ParameterRow]) -> Vec<Node<'_>> {
    let mut nodes = Vec::new();
    let mut open: Vec<String> = Vec::new();
    for p in parameters {
        let segments: Vec<&str> = p.name.trim_start_matches('/').split('/').collect();
        let (leaf, folders) =
            segments.split_last().map(|(l, f)| (l.to_string(), f.to_vec())).unwrap_or_default();
        let common = open.iter().zip(&folders).take_while(|(a, b)| a == b).count();
        open.truncate(common);
        for (depth, folder) in folders.iter().enumerate().skip(common) {
            open.push(folder.to_string());
            nodes.push(Node::Folder { path: format!("/{}/", folders[..=depth].join("/")), depth });
        }
        nodes.push(Node::Leaf { p, leaf, depth: folders.len() });
    }
    nodes
}

#[component]
fn Tree(env: String, t: TokensView) -> impl IntoView {
    if t.parameters.is_empty() {
        return Either::Left(
            view! { <section class="card"><h2>"Parameters"</h2><p class="muted">"No parameters under these prefixes."</p></section> },
        );
    }
    let rows = tree(&t.parameters)
        .into_iter()
        .map(|node| match node {
            Node::Folder { path, depth } => view! {
                <tr class="folder">
                    <td colspan="7" class=indent(depth)>
                        <span aria-hidden="true">"▸ "</span> <code>{path}</code>
                    </td>
                </tr>
            }
            .into_any(),
            Node::Leaf { p, leaf, depth } => {
                let labels = p.labels.iter().map(|(l, v)| format!("{l}→v{v}")).collect::<Vec<_>>().join(", ");
                let tags = p.tags.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ");
                view! {
                    <tr class="parameter" data-name=p.name.clone()>
                        <td class=indent(depth)>
                            <a href=format!("/{env}/tokens?p={}", p.name)>{leaf}</a>
                            {p.description.clone().map(|d| view! { <div class="muted">{d}</div> })}
                        </td>
                        <td><span class="chip neutral">{p.kind.clone()}</span></td>
                        <td>{p.version}</td>
                        <td>{p.modified.clone().unwrap_or_default()} <div class="muted">{p.modified_by.clone().unwrap_or_default()}</div></td>
                        <td>{p.key_id.clone().unwrap_or_else(|| "—".into())} <div class="muted">{p.tier.clone()}</div></td>
                        <td>{labels}</td>
                        <td>{tags}</td>
                    </tr>
                }
                .into_any()
            }
        })
        .collect_view();
    Either::Right(view! {
        <section class="card" aria-labelledby="parameters-heading">
            <h2 id="parameters-heading">"Parameters"</h2>
            <div class="table-scroll">
                <table class="table tokens">
                    <thead>
                        <tr>
                            <th scope="col">"Name"</th>
                            <th scope="col">"Type"</th>
                            <th scope="col">"Version"</th>
                            <th scope="col">"Last modified"</th>
                            <th scope="col">"KMS key · tier"</th>
                            <th scope="col">"Labels"</th>
                            <th scope="col">"Tags"</th>
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        </section>
    })
}

#[component]
fn Detail(env: String, d: ParameterDetail, t: TokensView) -> impl IntoView {
    let p = d.parameter.clone();
    let back = format!("/{env}/tokens?p={}", p.name);
    let reveal = match &t.reveal_denied {
        None => Either::Left(view! { <RevealValue env=env.clone() name=p.name.clone() /> }),
        Some(why) => Either::Right(view! { <p class="muted">"The value is hidden. " {why.clone()}</p> }),
    };
    let is_cluster_token = t.cluster.as_ref().is_some_and(|c| c.parameter == p.name);
    let manage = t.manage_denied.is_none().then(|| {
        let (env2, name, back) = (env.clone(), p.name.clone(), back.clone());
        let hidden = move || view! {
            <input type="hidden" name="env" value=env2.clone() />
            <input type="hidden" name="name" value=name.clone() />
            <input type="hidden" name="return_to" value=back.clone() />
        };
        view! {
            <div class="action-grid">
                <form method="post" action=PutTokenVersion::PATH class="form grid" data-action="put-version">
                    <h3 class="wide">"New value (a new version)"</h3>
                    {hidden.clone()()}
                    {is_cluster_token.then(|| view! { <p class="wide muted">"This is the cluster token: rotate it with the cluster-token form above, which gets a verified token from the cluster."</p> })}
                    <label class="wide">"Value" <input name="value" type="password" autocomplete="off" required /></label>
                    <button type="submit" class="primary">"Save new version"</button>
                </form>
                <form method="post" action=LabelTokenVersion::PATH class="form grid" data-action="label">
                    <h3 class="wide">"Label a version"</h3>
                    {hidden.clone()()}
                    <label>"Version" <input name="version" type="number" min="1" value=d.parameter.version.to_string() required /></label>
                    <label>"Labels (comma-separated)" <input name="labels" required placeholder="live" /></label>
                    <button type="submit">"Label"</button>
                </form>
                <form method="post" action=DeleteToken::PATH class="form grid" data-action="delete">
                    <h3 class="wide">"Delete"</h3>
                    <input type="hidden" name="env" value=env.clone() />
                    <input type="hidden" name="name" value=d.parameter.name.clone() />
                    <input type="hidden" name="return_to" value=format!("/{env}/tokens") />
                    <label class="wide">"Type the full name to delete it and every version" <input name="confirmation" required autocomplete="off" /></label>
                    <button type="submit" class="danger">"Delete"</button>
                </form>
            </div>
        }
    });
    let facts = d.parameter.clone();
    view! {
        <section class="card parameter-detail" aria-labelledby="detail-heading">
            <h2 id="detail-heading"><code>{facts.name.clone()}</code></h2>
            <dl class="facts">
                <dt>"Type"</dt> <dd>{facts.kind.clone()}</dd>
                <dt>"Version"</dt> <dd data-field="version">{facts.version}</dd>
                <dt>"Last modified"</dt> <dd>{facts.modified.clone().unwrap_or_default()} " by " {facts.modified_by.clone().unwrap_or_default()}</dd>
                <dt>"KMS key"</dt> <dd>{facts.key_id.clone().unwrap_or_else(|| "—".into())}</dd>
                <dt>"Tier"</dt> <dd>{facts.tier.clone()}</dd>
                <dt>"Allowed pattern"</dt> <dd>{facts.allowed_pattern.clone().unwrap_or_else(|| "—".into())}</dd>
                <dt>"Description"</dt> <dd>{facts.description.clone().unwrap_or_else(|| "—".into())}</dd>
                <dt>"Tags"</dt> <dd>{facts.tags.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ")}</dd>
                <dt>"Value"</dt> <dd>{reveal}</dd>
            </dl>
            <h3>"History"</h3>
            <div class="table-scroll">
                <table class="table history">
                    <thead>
                        <tr>
                            <th scope="col">"Version"</th>
                            <th scope="col">"When"</th>
                            <th scope="col">"Who"</th>
                            <th scope="col">"Labels"</th>
                            <th scope="col">"KMS key"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {d.history.iter().map(|v| view! {
                            <tr data-version=v.version>
                                <td>{v.version}</td>
                                <td>{v.modified.clone().unwrap_or_default()}</td>
                                <td>{v.modified_by.clone().unwrap_or_default()}</td>
                                <td>{v.labels.join(", ")}</td>
                                <td>{v.key_id.clone().unwrap_or_else(|| "—".into())}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
            {manage}
        </section>
    }
}

#[component]
fn CreateForm(env: String, prefix: String) -> impl IntoView {
    let prefix = if prefix.ends_with('/') { prefix } else { format!("{prefix}/") };
    view! {
        <section class="card" aria-labelledby="create-heading">
            <h2 id="create-heading">"Create a parameter"</h2>
            <form method="post" action=CreateToken::PATH class="form grid" data-action="create">
                <input type="hidden" name="env" value=env.clone() />
                <label class="wide">"Name" <input name="name" required value=prefix spellcheck="false" /></label>
                <label>
                    "Type"
                    <select name="kind">
                        <option value="SecureString">"SecureString"</option>
                        <option value="String">"String"</option>
                    </select>
                </label>
                <label>
                    "Tier"
                    <select name="tier">
                        <option value="Standard">"Standard (4 KB)"</option>
                        <option value="Advanced">"Advanced (8 KB)"</option>
                    </select>
                </label>
                <label>"KMS key (SecureString)" <input name="key_id" placeholder="alias/aws/ssm" spellcheck="false" /></label>
                <label class="wide">"Value" <input name="value" type="password" autocomplete="off" required /></label>
                <label class="wide">"Description" <input name="description" /></label>
                <label>"Allowed pattern" <input name="allowed_pattern" placeholder="^[A-Za-z0-9]+$" spellcheck="false" /></label>
                <label class="wide">"Tags (key=value, one per line)" <textarea name="tags" rows="2" spellcheck="false"></textarea></label>
                <button type="submit" class="primary">"Create"</button>
            </form>
        </section>
    }
}

/// The tree's indentation as a class (the Content-Security-Policy allows no inline styles).
fn indent(depth: usize) -> String {
    format!("depth-{}", depth.min(8))
}
