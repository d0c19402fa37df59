-- Single sign-on (OpenID Connect). An account single sign-on made has no password; it keeps
-- who the provider says it is (issuer and subject), so nobody else can take its name, and the
-- groups it brought at its last sign-in (a JSON array of strings), which the configuration
-- maps to roles.
ALTER TABLE users ADD COLUMN sso_subject TEXT;
ALTER TABLE users ADD COLUMN sso_groups TEXT;
CREATE UNIQUE INDEX users_by_sso_subject ON users (sso_subject);

-- Sign-ins under way, between sending the browser to the provider and its coming back: found
-- by the SHA-256 of a short-lived cookie in that browser, used once, gone after ten minutes.
CREATE TABLE sso_logins (
    cookie_hash TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    nonce TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    redirect_url TEXT NOT NULL,
    next TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
