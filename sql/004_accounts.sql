-- Accounts after registration: confirmation, resend, login throttling,
-- password reset, and the admin view.

-- Failed logins per account and per client address, shared by every
-- worker and instance.  Delays grow after three failures in a row.
CREATE TABLE login_throttle (
    key            text         PRIMARY KEY,
    failures       integer      NOT NULL DEFAULT 0,
    locked_until   timestamptz  NOT NULL DEFAULT now(),
    updated_at     timestamptz  NOT NULL DEFAULT now()
);

-- When each address last asked for a mail (resend, reset), and how often
-- a client address asked: the cooldowns.
CREATE TABLE mail_requests (
    key            text         PRIMARY KEY,
    last_at        timestamptz  NOT NULL DEFAULT now(),
    window_start   timestamptz  NOT NULL DEFAULT now(),
    count          integer      NOT NULL DEFAULT 0
);

-- Uses a confirmation token: 'ok', 'used', 'expired' or 'invalid'.  The
-- token is found by its hash; using it twice says 'used', nothing more.
CREATE FUNCTION xyz_confirm(p_token_hash bytea)
RETURNS text
LANGUAGE plpgsql
AS $$
DECLARE
    t  confirmation_tokens;
BEGIN
    SELECT * INTO t FROM confirmation_tokens
     WHERE token_hash = p_token_hash AND purpose = 'confirm'
     FOR UPDATE;

    IF NOT FOUND THEN
        RETURN 'invalid';
    END IF;

    IF t.used_at IS NOT NULL THEN
        RETURN 'used';
    END IF;

    IF t.expires_at <= now() THEN
        RETURN 'expired';
    END IF;

    UPDATE confirmation_tokens SET used_at = now() WHERE id = t.id;

    UPDATE users
       SET status = 'confirmed', confirmed_at = now(), updated_at = now()
     WHERE id = t.user_id AND status = 'pending';

    RETURN 'ok';
END;
$$;

-- Counts a mail request for p_key (an address) and p_client (a client
-- address).  Returns 0 when the request may go on, else the seconds to
-- wait.  The caller answers the same either way for the address; only a
-- client over its own limit is told to slow down.
CREATE FUNCTION xyz_mail_request_allowed(p_key text, p_cooldown interval,
                                         p_client text, p_per_hour integer)
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    r  mail_requests;
BEGIN
    INSERT INTO mail_requests AS m (key, last_at, window_start, count)
    VALUES (p_client, now(), now(), 1)
    ON CONFLICT (key) DO UPDATE
       SET count = CASE WHEN m.window_start < now() - interval '1 hour'
                        THEN 1 ELSE m.count + 1 END,
           window_start = CASE WHEN m.window_start < now() - interval '1 hour'
                               THEN now() ELSE m.window_start END,
           last_at = now()
    RETURNING * INTO r;

    IF r.count > p_per_hour THEN
        RETURN ceil(extract(epoch FROM r.window_start + interval '1 hour'
                                       - now()));
    END IF;

    SELECT * INTO r FROM mail_requests WHERE key = p_key FOR UPDATE;

    IF FOUND AND r.last_at > now() - p_cooldown THEN
        RETURN -1;          /* silently skipped: same answer, no mail */
    END IF;

    INSERT INTO mail_requests (key, last_at) VALUES (p_key, now())
    ON CONFLICT (key) DO UPDATE SET last_at = now();

    RETURN 0;
END;
$$;

-- Resends the confirmation of a pending account: a new token (the old
-- ones stop working) and an outbox row.  Unknown or confirmed addresses
-- get nothing; the caller answers the same.
CREATE FUNCTION xyz_resend(p_email_normalized text, p_token text,
                           p_token_hash bytea, p_token_ttl interval,
                           p_lease interval)
RETURNS TABLE (outcome text, outbox_id bigint, outbox_kind text, body text)
LANGUAGE plpgsql
AS $$
DECLARE
    u  users;
BEGIN
    SELECT * INTO u FROM users WHERE email_normalized = p_email_normalized;

    IF NOT FOUND OR u.status <> 'pending' THEN
        RETURN;
    END IF;

    UPDATE confirmation_tokens SET expires_at = least(expires_at, now())
     WHERE user_id = u.id AND purpose = 'confirm' AND used_at IS NULL;

    INSERT INTO confirmation_tokens (user_id, purpose, token_hash, expires_at)
    VALUES (u.id, 'confirm', p_token_hash, now() + p_token_ttl);

    RETURN QUERY
    INSERT INTO outbox AS o (kind, payload, claimed_until)
    VALUES ('email', jsonb_build_object(
                'type', 'confirm',
                'user_id', u.id,
                'email', u.email,
                'name', u.name,
                'locale', u.locale,
                'token', p_token),
            now() + p_lease)
    RETURNING 'resent'::text, o.id, o.kind, xyz_outbox_body(o);
END;
$$;

-- What a login needs to know, and whether either throttle holds it back.
-- Returns one row: the hash (NULL for an unknown address), the user, and
-- the seconds to wait (0: go on).
CREATE FUNCTION xyz_login_begin(p_email_normalized text, p_client text)
RETURNS TABLE (user_id bigint, password_hash text, status text, role text,
               email text, name text, locale text, token_version integer,
               wait_seconds integer)
LANGUAGE sql
AS $$
    SELECT u.id, u.password_hash, u.status, u.role, u.email, u.name,
           u.locale, u.token_version,
           coalesce(ceil(extract(epoch FROM greatest(
               (SELECT locked_until FROM login_throttle
                 WHERE key = 'account:' || p_email_normalized),
               (SELECT locked_until FROM login_throttle
                 WHERE key = 'client:' || p_client)) - now())), 0)::integer
      FROM (SELECT 1) one
      LEFT JOIN users u ON u.email_normalized = p_email_normalized
$$;

-- Records a login's outcome.  A failure counts against the account and
-- the client address; from the third failure in a row on an account (the
-- tenth from one client, which may be many people behind one address)
-- each further attempt waits twice as long: 2 s, 4 s, ... at most 15
-- minutes.  A success clears the account's count.  A new hash (the
-- parameters changed) replaces the stored one.
CREATE FUNCTION xyz_login_end(p_email_normalized text, p_client text,
                              p_ok boolean, p_new_hash text)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    k  text;
    n  integer;
BEGIN
    IF p_ok THEN
        DELETE FROM login_throttle
         WHERE key = 'account:' || p_email_normalized;

        IF p_new_hash IS NOT NULL THEN
            UPDATE users SET password_hash = p_new_hash, updated_at = now()
             WHERE email_normalized = p_email_normalized;
        END IF;

        RETURN;
    END IF;

    FOREACH k IN ARRAY ARRAY['account:' || p_email_normalized,
                             'client:' || p_client]
    LOOP
        n := CASE WHEN k LIKE 'client:%' THEN 10 ELSE 3 END;

        INSERT INTO login_throttle AS t (key, failures, locked_until)
        VALUES (k, 1, now())
        ON CONFLICT (key) DO UPDATE
           SET failures = CASE WHEN t.updated_at < now() - interval '1 hour'
                               THEN 1 ELSE t.failures + 1 END,
               locked_until = CASE
                   WHEN t.updated_at >= now() - interval '1 hour'
                        AND t.failures + 1 >= n
                   THEN now() + make_interval(secs => least(900,
                                    power(2, t.failures + 2 - n)))
                   ELSE now() END,
               updated_at = now();
    END LOOP;
END;
$$;

-- Starts a password reset for a known, not disabled account: a token and
-- an outbox row.  Others get nothing; the caller answers the same.
CREATE FUNCTION xyz_reset_request(p_email_normalized text, p_token text,
                                  p_token_hash bytea, p_token_ttl interval,
                                  p_lease interval)
RETURNS TABLE (outcome text, outbox_id bigint, outbox_kind text, body text)
LANGUAGE plpgsql
AS $$
DECLARE
    u  users;
BEGIN
    SELECT * INTO u FROM users WHERE email_normalized = p_email_normalized;

    IF NOT FOUND OR u.status = 'disabled' THEN
        RETURN;
    END IF;

    UPDATE confirmation_tokens SET expires_at = least(expires_at, now())
     WHERE user_id = u.id AND purpose = 'reset' AND used_at IS NULL;

    INSERT INTO confirmation_tokens (user_id, purpose, token_hash, expires_at)
    VALUES (u.id, 'reset', p_token_hash, now() + p_token_ttl);

    RETURN QUERY
    INSERT INTO outbox AS o (kind, payload, claimed_until)
    VALUES ('email', jsonb_build_object(
                'type', 'reset',
                'user_id', u.id,
                'email', u.email,
                'name', u.name,
                'locale', u.locale,
                'token', p_token),
            now() + p_lease)
    RETURNING 'requested'::text, o.id, o.kind, xyz_outbox_body(o);
END;
$$;

-- Completes a reset: 'ok' (the hash replaced, every session ended by a new
-- token version, the address confirmed: the mail reached it), or 'used',
-- 'expired', 'invalid'.
CREATE FUNCTION xyz_reset_complete(p_token_hash bytea, p_new_hash text)
RETURNS text
LANGUAGE plpgsql
AS $$
DECLARE
    t  confirmation_tokens;
BEGIN
    SELECT * INTO t FROM confirmation_tokens
     WHERE token_hash = p_token_hash AND purpose = 'reset'
     FOR UPDATE;

    IF NOT FOUND THEN
        RETURN 'invalid';
    END IF;

    IF t.used_at IS NOT NULL THEN
        RETURN 'used';
    END IF;

    IF t.expires_at <= now() THEN
        RETURN 'expired';
    END IF;

    UPDATE confirmation_tokens SET used_at = now() WHERE id = t.id;

    UPDATE users
       SET password_hash = p_new_hash,
           token_version = token_version + 1,
           status = CASE status WHEN 'pending' THEN 'confirmed'
                                ELSE status END,
           confirmed_at = coalesce(confirmed_at, now()),
           updated_at = now()
     WHERE id = t.user_id;

    DELETE FROM login_throttle
     WHERE key = 'account:' || (SELECT email_normalized FROM users
                                 WHERE id = t.user_id);

    RETURN 'ok';
END;
$$;

-- The admin list: users with the state of their two deliveries.
CREATE VIEW xyz_user_states AS
SELECT u.id, u.email, u.name, u.role, u.status, u.locale, u.created_at,
       EXISTS (SELECT 1 FROM outbox o JOIN deliveries d ON d.outbox_id = o.id
                WHERE o.kind = 'email' AND (o.payload->>'user_id')::bigint = u.id
                  AND d.state = 'sent') AS email_sent,
       EXISTS (SELECT 1 FROM outbox o JOIN deliveries d ON d.outbox_id = o.id
                WHERE o.kind = 'crm' AND (o.payload->>'user_id')::bigint = u.id
                  AND d.state = 'sent') AS crm_synced,
       EXISTS (SELECT 1 FROM outbox o JOIN deliveries d ON d.outbox_id = o.id
                WHERE (o.payload->>'user_id')::bigint = u.id
                  AND d.state = 'dead') AS dead_lettered
  FROM users u;

CREATE INDEX outbox_user_idx ON outbox (((payload->>'user_id')::bigint));
