-- Registration that cannot be taken over, nor used as a mail or CRM
-- cannon, and an outbox that parks the rows SQS keeps refusing.
--
-- Who controls a pending account.  Each registration keeps what it asked
-- for (password hash, name, locale, consent, the address as typed) on its
-- own confirmation token, not on the user: the user row of a pending
-- account is a placeholder.  Confirming a token applies that token's
-- registration, and only the owner of the address receives the tokens.
-- So when a stranger registered the address first and the owner registers
-- it again, the owner's link gives the account the owner's password; the
-- stranger's password never works.

ALTER TABLE confirmation_tokens
    ADD COLUMN email              text,
    ADD COLUMN name               text,
    ADD COLUMN locale             text,
    ADD COLUMN password_hash      text,
    ADD COLUMN marketing_consent  boolean;

-- A row SQS refused xyz_outbox_max_attempts() times is parked: never
-- claimed again (claimed_until 'infinity'), its token dropped, counted in
-- /metrics and shown in the admin view.  Failures of SQS itself (no answer,
-- an error for the whole batch) do not count: an outage parks nothing.
ALTER TABLE outbox
    ADD COLUMN parked_at  timestamptz;

CREATE INDEX outbox_parked_idx ON outbox (kind) WHERE parked_at IS NOT NULL;

-- How many times SQS may refuse a row before it is parked.  Replace the
-- function to change it.
CREATE FUNCTION xyz_outbox_max_attempts()
RETURNS integer
LANGUAGE sql IMMUTABLE
AS $$ SELECT 5 $$;

-- As in 002, and p_refused: the rows SQS answered for and did not take
-- (their content is at fault).  Only those count towards parking; the
-- others wait and are tried again without limit.
CREATE FUNCTION xyz_outbox_done(p_published bigint[], p_failed bigint[],
                                p_error text, p_max_delay interval,
                                p_refused bigint[])
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    v_parked  integer;
BEGIN
    UPDATE outbox
       SET published_at = now(), payload = payload - 'token'
     WHERE id = ANY (p_published) AND published_at IS NULL;

    UPDATE outbox
       SET last_error = left(p_error, 500),
           claimed_until = now() + least(p_max_delay, make_interval(
               secs => power(2, least(attempts, 20))))
     WHERE id = ANY (p_failed) AND published_at IS NULL
       AND parked_at IS NULL;

    UPDATE outbox
       SET attempts = attempts + 1,
           last_error = left(p_error, 500),
           claimed_until = now() + least(p_max_delay, make_interval(
               secs => power(2, least(attempts, 20))))
     WHERE id = ANY (p_refused) AND published_at IS NULL
       AND parked_at IS NULL;

    UPDATE outbox
       SET parked_at = now(), claimed_until = 'infinity',
           payload = payload - 'token'
     WHERE id = ANY (p_refused) AND published_at IS NULL
       AND parked_at IS NULL AND attempts >= xyz_outbox_max_attempts();

    GET DIAGNOSTICS v_parked = ROW_COUNT;

    RETURN v_parked;
END;
$$;

-- The admin view: as in 004, and whether a row of the user is parked.
CREATE OR REPLACE VIEW xyz_user_states AS
SELECT u.id, u.email, u.name, u.role, u.status, u.locale, u.created_at,
       EXISTS (SELECT 1 FROM outbox o JOIN deliveries d ON d.outbox_id = o.id
                WHERE o.kind = 'email' AND (o.payload->>'user_id')::bigint = u.id
                  AND d.state = 'sent') AS email_sent,
       EXISTS (SELECT 1 FROM outbox o JOIN deliveries d ON d.outbox_id = o.id
                WHERE o.kind = 'crm' AND (o.payload->>'user_id')::bigint = u.id
                  AND d.state = 'sent') AS crm_synced,
       EXISTS (SELECT 1 FROM outbox o JOIN deliveries d ON d.outbox_id = o.id
                WHERE (o.payload->>'user_id')::bigint = u.id
                  AND d.state = 'dead') AS dead_lettered,
       EXISTS (SELECT 1 FROM outbox o
                WHERE (o.payload->>'user_id')::bigint = u.id
                  AND o.parked_at IS NOT NULL) AS outbox_parked
  FROM users u;

DROP FUNCTION xyz_register(text, text, text, text, text, boolean, text,
                           bytea, interval, interval);

-- A registration, as one statement.  Every path does the same work: the
-- user insert (a no-op for a known address), one read of the user, one
-- token row, the address's mail cooldown, and at most one email row:
--
--   new address        a pending user, its token, a confirmation email
--   pending address    a token with this registration, a confirmation email
--   confirmed/disabled a dead token, an "already registered" notice
--
-- No email within the cooldown of the address's previous registration
-- email (xyz_mail_request_allowed, key 'register:' || address).  No CRM
-- row: that is written when the address is confirmed (the trigger below).
-- The confirmation email has no name: the registrant, who may not own the
-- address, chooses it.
CREATE FUNCTION xyz_register(p_email text, p_email_normalized text,
                             p_name text, p_locale text, p_password_hash text,
                             p_marketing_consent boolean, p_token text,
                             p_token_hash bytea, p_token_ttl interval,
                             p_lease interval, p_client text,
                             p_cooldown interval)
RETURNS TABLE (outcome text, outbox_id bigint, outbox_kind text, body text)
LANGUAGE plpgsql
AS $$
DECLARE
    u          users;
    v_created  boolean;
    v_outcome  text;
    v_wait     integer;
BEGIN
    INSERT INTO users (email, email_normalized, name, locale, password_hash,
                       marketing_consent)
    VALUES (p_email, p_email_normalized, p_name, p_locale, p_password_hash,
            false)
    ON CONFLICT (email_normalized) DO NOTHING;

    GET DIAGNOSTICS v_wait = ROW_COUNT;
    v_created := v_wait = 1;
    v_outcome := CASE WHEN v_created THEN 'created' ELSE 'exists' END;

    SELECT * INTO u FROM users WHERE email_normalized = p_email_normalized;

    INSERT INTO confirmation_tokens (user_id, purpose, token_hash, expires_at,
                                     email, name, locale, password_hash,
                                     marketing_consent)
    VALUES (u.id, 'confirm', p_token_hash,
            CASE WHEN u.status = 'pending' THEN now() + p_token_ttl
                 ELSE now() END,
            p_email, p_name, p_locale,
            CASE WHEN u.status = 'pending' THEN p_password_hash END,
            p_marketing_consent);

    -- the per-client part of the check is left to limit_req on the
    -- location: a registration's email is kept back by its address only
    v_wait := xyz_mail_request_allowed('register:' || p_email_normalized,
                                       p_cooldown,
                                       'register-client:' || p_client,
                                       2147483647);

    IF v_wait <> 0 THEN
        RETURN QUERY SELECT v_outcome, NULL::bigint, NULL::text, NULL::text;
        RETURN;
    END IF;

    IF u.status = 'pending' THEN
        RETURN QUERY
        INSERT INTO outbox AS o (kind, payload, claimed_until)
        VALUES ('email', jsonb_build_object(
                    'type', 'confirm',
                    'user_id', u.id,
                    'email', p_email,
                    'locale', p_locale,
                    'token', p_token),
                now() + p_lease)
        RETURNING v_outcome, o.id, o.kind, xyz_outbox_body(o);

    ELSE
        -- to the account holder, in the account's language and name
        RETURN QUERY
        INSERT INTO outbox AS o (kind, payload, claimed_until)
        VALUES ('email', jsonb_build_object(
                    'type', 'already_registered',
                    'user_id', u.id,
                    'email', u.email,
                    'name', u.name,
                    'locale', u.locale),
                now() + p_lease)
        RETURNING v_outcome, o.id, o.kind, xyz_outbox_body(o);
    END IF;
END;
$$;

-- Uses a confirmation token: 'ok', 'used', 'expired' or 'invalid'.  A
-- pending account takes the registration the token carries (password,
-- name, locale, consent); every other confirmation token of the account
-- dies, and no token keeps a password hash once the account is confirmed.
CREATE OR REPLACE FUNCTION xyz_confirm(p_token_hash bytea)
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
       SET status = 'confirmed', confirmed_at = now(), updated_at = now(),
           email = coalesce(t.email, email),
           name = coalesce(t.name, name),
           locale = coalesce(t.locale, locale),
           password_hash = coalesce(t.password_hash, password_hash),
           marketing_consent = coalesce(t.marketing_consent,
                                        marketing_consent)
     WHERE id = t.user_id AND status = 'pending';

    UPDATE confirmation_tokens
       SET expires_at = least(expires_at, now()), password_hash = NULL
     WHERE user_id = t.user_id AND purpose = 'confirm'
       AND (password_hash IS NOT NULL OR used_at IS NULL);

    RETURN 'ok';
END;
$$;

-- Resends the confirmation of a pending account: a new token (the old ones
-- stop working) carrying its registration, and an outbox row without a
-- name.  Unknown or confirmed addresses get nothing; the caller answers
-- the same.  Nor does an address registered more than once with different
-- passwords: whoever asks cannot be told from a stranger, and a link
-- carrying the wrong registration would hand the account over.  The owner
-- gets a link of their own by registering again or by a password reset.
CREATE OR REPLACE FUNCTION xyz_resend(p_email_normalized text, p_token text,
                                      p_token_hash bytea,
                                      p_token_ttl interval, p_lease interval)
RETURNS TABLE (outcome text, outbox_id bigint, outbox_kind text, body text)
LANGUAGE plpgsql
AS $$
DECLARE
    u  users;
    r  confirmation_tokens;
BEGIN
    SELECT * INTO u FROM users WHERE email_normalized = p_email_normalized;

    IF NOT FOUND OR u.status <> 'pending' THEN
        RETURN;
    END IF;

    IF (SELECT count(DISTINCT password_hash) FROM confirmation_tokens
         WHERE user_id = u.id AND purpose = 'confirm'
           AND password_hash IS NOT NULL) > 1
    THEN
        RETURN;
    END IF;

    SELECT * INTO r FROM confirmation_tokens
     WHERE user_id = u.id AND purpose = 'confirm'
       AND password_hash IS NOT NULL
     ORDER BY id DESC LIMIT 1;

    UPDATE confirmation_tokens SET expires_at = least(expires_at, now())
     WHERE user_id = u.id AND purpose = 'confirm' AND used_at IS NULL;

    INSERT INTO confirmation_tokens (user_id, purpose, token_hash, expires_at,
                                     email, name, locale, password_hash,
                                     marketing_consent)
    VALUES (u.id, 'confirm', p_token_hash, now() + p_token_ttl,
            r.email, r.name, r.locale, r.password_hash, r.marketing_consent);

    RETURN QUERY
    INSERT INTO outbox AS o (kind, payload, claimed_until)
    VALUES ('email', jsonb_build_object(
                'type', 'confirm',
                'user_id', u.id,
                'email', coalesce(r.email, u.email),
                'locale', coalesce(r.locale, u.locale),
                'token', p_token),
            now() + p_lease)
    RETURNING 'resent'::text, o.id, o.kind, xyz_outbox_body(o);
END;
$$;

-- When an address is confirmed (a link, or a password reset that proves
-- it), in the confirming transaction: the account's other confirmation
-- links die and no token keeps a password hash; and the CRM record, with
-- the consent, is written, once per user whatever happens later.
CREATE FUNCTION xyz_crm_on_confirm()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    UPDATE confirmation_tokens
       SET expires_at = least(expires_at, now()), password_hash = NULL
     WHERE user_id = NEW.id AND purpose = 'confirm'
       AND (password_hash IS NOT NULL OR used_at IS NULL);

    -- concurrent confirmations queue on the user's row lock; the second
    -- sees the row confirmed and does not fire
    IF EXISTS (SELECT 1 FROM outbox
                WHERE kind = 'crm'
                  AND (payload->>'user_id')::bigint = NEW.id
                  AND payload->>'type' = 'registration')
    THEN
        RETURN NULL;
    END IF;

    INSERT INTO outbox (kind, payload)
    VALUES ('crm', jsonb_build_object(
                'type', 'registration',
                'user_id', NEW.id,
                'email', NEW.email,
                'name', NEW.name,
                'locale', NEW.locale,
                'marketing_consent', NEW.marketing_consent,
                'registered_at', NEW.created_at,
                'confirmed_at', coalesce(NEW.confirmed_at, now())));

    RETURN NULL;
END;
$$;

CREATE TRIGGER users_crm_on_confirm
    AFTER UPDATE OF status ON users
    FOR EACH ROW
    WHEN (OLD.status = 'pending' AND NEW.status = 'confirmed')
    EXECUTE FUNCTION xyz_crm_on_confirm();
