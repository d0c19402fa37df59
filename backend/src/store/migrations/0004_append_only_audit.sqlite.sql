-- The audit trail is append-only in the database itself, not only in Rollgate's code: a
-- record cannot be changed or deleted, whoever sends the statement. (SQLite has no TRUNCATE;
-- a DELETE without WHERE fires these triggers too.)
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit trail is append-only: UPDATE refused');
END;

CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit trail is append-only: DELETE refused');
END;
