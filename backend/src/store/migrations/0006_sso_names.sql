-- Single-sign-on names (auth.oidc.names): the email the provider marked verified at an
-- account's last sign-in, NULL when it marked none, so that a name bound to an email is
-- checked on every request and not only at sign-in (the subject is already in sso_subject).
ALTER TABLE users ADD COLUMN sso_email TEXT;
