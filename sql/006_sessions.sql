-- Sessions that end everywhere within seconds, and a password reset that
-- checks its token before it spends a hash.
--
-- A session (a JWT) carries the user's token_version ("ver").  Every
-- change that must end sessions raises token_version: a password change
-- other than a rehash at login, a role change, a status change other than
-- pending -> confirmed (no session can exist before confirmation), a
-- logout (xyz_logout) and a reset (xyz_reset_complete raises it itself).
-- Each raise appends a row to session_changes.  Every nginx instance
-- polls session_changes (xyz_session_changes) every xyz_session_poll and
-- keeps user id -> (token_version, status, role) in shared memory, so
-- "xyz_auth" and "xyz_admin_users" refuse an older token, or a disabled
-- account's, and see the current role, without a query per request.

CREATE TABLE session_changes (
    id             bigserial    PRIMARY KEY,
    user_id        bigint       NOT NULL,
    token_version  integer      NOT NULL,
    status         text         NOT NULL,
    role           text         NOT NULL,
    -- when the row was written (not when its transaction began): the
    -- poll reads again the rows of the last seconds, which catches a
    -- transaction that took a lower id but committed after a higher one
    at             timestamptz  NOT NULL DEFAULT clock_timestamp()
);

CREATE INDEX session_changes_at_idx ON session_changes (at);

-- Raises token_version when an update ends the user's sessions.  A new
-- hash stored by xyz_login_end is the same password under new Argon2id
-- parameters (a rehash at login): it ends nothing, or the session that
-- login is issuing would be born stale.
CREATE FUNCTION xyz_users_end_sessions()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    stack  text;
BEGIN
    IF NEW.token_version IS DISTINCT FROM OLD.token_version THEN
        RETURN NEW;             -- the statement raised it itself
    END IF;

    IF NEW.role IS DISTINCT FROM OLD.role
       OR (NEW.status IS DISTINCT FROM OLD.status
           AND NOT (OLD.status = 'pending' AND NEW.status = 'confirmed'))
    THEN
        NEW.token_version := OLD.token_version + 1;
        RETURN NEW;
    END IF;

    IF NEW.password_hash IS DISTINCT FROM OLD.password_hash THEN
        GET DIAGNOSTICS stack = PG_CONTEXT;

        -- "PL/pgSQL function xyz_login_end(...) line n" or, were it
        -- rewritten in SQL, 'SQL function "xyz_login_end" statement n'
        IF stack !~ 'function "?xyz_login_end[("]' THEN
            NEW.token_version := OLD.token_version + 1;
        END IF;
    END IF;

    RETURN NEW;
END;
$$;

CREATE TRIGGER users_end_sessions
    BEFORE UPDATE OF password_hash, status, role ON users
    FOR EACH ROW EXECUTE FUNCTION xyz_users_end_sessions();

-- Tells every instance: one row per raise of token_version, and one for a
-- deleted user (as disabled, with a version above any token's).
CREATE FUNCTION xyz_users_session_change()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO session_changes (user_id, token_version, status, role)
        VALUES (OLD.id, OLD.token_version + 1, 'disabled', OLD.role);
        RETURN OLD;
    END IF;

    INSERT INTO session_changes (user_id, token_version, status, role)
    VALUES (NEW.id, NEW.token_version, NEW.status, NEW.role);

    RETURN NEW;
END;
$$;

CREATE TRIGGER users_session_changed
    AFTER UPDATE ON users
    FOR EACH ROW
    WHEN (OLD.token_version IS DISTINCT FROM NEW.token_version)
    EXECUTE FUNCTION xyz_users_session_change();

CREATE TRIGGER users_session_deleted
    AFTER DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION xyz_users_session_change();

-- What an instance's poll reads: the changes after p_after (its last id),
-- at most p_limit of them, none older than p_ttl (a token from before
-- them has expired); and again those of the last ten seconds, whatever
-- their id, for transactions that committed out of id order.  Applying a
-- change twice does nothing: an instance keeps the highest version.
-- With p_purge, rows older than p_ttl and an hour go.
CREATE FUNCTION xyz_session_changes(p_after bigint, p_ttl interval,
                                    p_limit integer, p_purge boolean)
RETURNS TABLE (change_id bigint, user_id bigint, token_version integer,
               status text, role text, changed_at bigint)
LANGUAGE plpgsql
AS $$
BEGIN
    IF p_purge THEN
        DELETE FROM session_changes
         WHERE at < now() - p_ttl - interval '1 hour';
    END IF;

    RETURN QUERY
    (SELECT c.id, c.user_id, c.token_version, c.status, c.role,
            floor(extract(epoch FROM c.at))::bigint
       FROM session_changes c
      WHERE c.id > p_after AND c.at > now() - p_ttl
      ORDER BY c.id
      LIMIT p_limit)
    UNION ALL
    (SELECT c.id, c.user_id, c.token_version, c.status, c.role,
            floor(extract(epoch FROM c.at))::bigint
       FROM session_changes c
      WHERE c.id <= p_after
        AND c.at > clock_timestamp() - interval '10 seconds');
END;
$$;

-- Ends every session of the user: returns the new token version, or NULL
-- when p_token_version is not the current one (that session had already
-- ended; nothing more to do).
CREATE FUNCTION xyz_logout(p_user_id bigint, p_token_version integer)
RETURNS integer
LANGUAGE sql
AS $$
    UPDATE users
       SET token_version = token_version + 1, updated_at = now()
     WHERE id = p_user_id AND token_version = p_token_version
    RETURNING token_version;
$$;

-- What xyz_reset_complete would say of a reset token, without a lock or a
-- write: 'ok', 'used', 'expired' or 'invalid'.  Asked before the new
-- password is hashed, so that a dead or guessed token costs no hash.
CREATE FUNCTION xyz_reset_check(p_token_hash bytea)
RETURNS text
LANGUAGE sql
STABLE
AS $$
    SELECT CASE WHEN t.id IS NULL THEN 'invalid'
                WHEN t.used_at IS NOT NULL THEN 'used'
                WHEN t.expires_at <= now() THEN 'expired'
                ELSE 'ok' END
      FROM (SELECT 1) one
      LEFT JOIN confirmation_tokens t
             ON t.token_hash = p_token_hash AND t.purpose = 'reset';
$$;
