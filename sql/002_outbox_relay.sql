-- The outbox relay: claims with a lease, so that any number of nginx
-- instances publish each row to SQS and none holds a row lock over the
-- network.
--
-- A row is claimed when its claimed_until is in the past.  A registration
-- claims its own rows at insert time (the worker publishes them at once);
-- if that worker fails, the lease runs out and a sweeper takes them.

ALTER TABLE outbox
    ADD COLUMN claimed_until timestamptz NOT NULL DEFAULT now();

CREATE INDEX outbox_claimable_idx ON outbox (claimed_until)
    WHERE published_at IS NULL;

-- What goes to SQS: the payload, with the row id as the message's stable
-- id for deduplication downstream.
CREATE FUNCTION xyz_outbox_body(o outbox)
RETURNS text
LANGUAGE sql STABLE
AS $$
    SELECT (o.payload || jsonb_build_object('outbox_id', o.id,
                                            'kind', o.kind,
                                            'created_at', o.created_at))::text
$$;

DROP FUNCTION xyz_register(text, text, text, text, text, boolean, text,
                           bytea, interval);

-- As in 001, and now returning the outbox rows it wrote (claimed for
-- p_lease) so that the caller can publish them without another query.
CREATE FUNCTION xyz_register(p_email text, p_email_normalized text,
                             p_name text, p_locale text, p_password_hash text,
                             p_marketing_consent boolean, p_token text,
                             p_token_hash bytea, p_token_ttl interval,
                             p_lease interval)
RETURNS TABLE (outcome text, outbox_id bigint, outbox_kind text, body text)
LANGUAGE plpgsql
AS $$
DECLARE
    v_id       bigint;
    v_outcome  text;
BEGIN
    INSERT INTO users (email, email_normalized, name, locale, password_hash,
                       marketing_consent)
    VALUES (p_email, p_email_normalized, p_name, p_locale, p_password_hash,
            p_marketing_consent)
    ON CONFLICT (email_normalized) DO NOTHING
    RETURNING id INTO v_id;

    IF v_id IS NULL THEN
        v_outcome := 'exists';

        SELECT id INTO v_id FROM users
         WHERE email_normalized = p_email_normalized;

        RETURN QUERY
        INSERT INTO outbox AS o (kind, payload, claimed_until)
        VALUES ('email', jsonb_build_object(
                    'type', 'already_registered',
                    'user_id', v_id,
                    'email', p_email,
                    'name', p_name,
                    'locale', p_locale),
                now() + p_lease)
        RETURNING v_outcome, o.id, o.kind, xyz_outbox_body(o);

        RETURN;
    END IF;

    v_outcome := 'created';

    INSERT INTO confirmation_tokens (user_id, purpose, token_hash, expires_at)
    VALUES (v_id, 'confirm', p_token_hash, now() + p_token_ttl);

    RETURN QUERY
    INSERT INTO outbox AS o (kind, payload, claimed_until)
    VALUES ('email', jsonb_build_object(
                'type', 'confirm',
                'user_id', v_id,
                'email', p_email,
                'name', p_name,
                'locale', p_locale,
                'token', p_token),
            now() + p_lease),
           ('crm', jsonb_build_object(
                'type', 'registration',
                'user_id', v_id,
                'email', p_email,
                'name', p_name,
                'locale', p_locale,
                'marketing_consent', p_marketing_consent,
                'registered_at', now()),
            now() + p_lease)
    RETURNING v_outcome, o.id, o.kind, xyz_outbox_body(o);
END;
$$;

-- Claims up to p_limit rows whose lease has run out, for p_lease.  SKIP
-- LOCKED lets several sweepers work on one table without waiting on each
-- other or taking the same row.
CREATE FUNCTION xyz_outbox_claim(p_limit integer, p_lease interval)
RETURNS TABLE (outbox_id bigint, outbox_kind text, body text)
LANGUAGE sql
AS $$
    UPDATE outbox o
       SET claimed_until = now() + p_lease
      FROM (SELECT id FROM outbox
             WHERE published_at IS NULL AND claimed_until <= now()
             ORDER BY claimed_until
             LIMIT p_limit
             FOR UPDATE SKIP LOCKED) c
     WHERE o.id = c.id
    RETURNING o.id, o.kind, xyz_outbox_body(o)
$$;

-- Records the outcome of a publish.  Published rows lose the token they
-- carried for the email; failed rows wait 2^attempts seconds (at most
-- p_max_delay) before a sweeper tries them again.
CREATE FUNCTION xyz_outbox_done(p_published bigint[], p_failed bigint[],
                                p_error text, p_max_delay interval)
RETURNS void
LANGUAGE sql
AS $$
    UPDATE outbox
       SET published_at = now(), payload = payload - 'token'
     WHERE id = ANY (p_published) AND published_at IS NULL;

    UPDATE outbox
       SET attempts = attempts + 1,
           last_error = left(p_error, 500),
           claimed_until = now() + least(p_max_delay, make_interval(
               secs => power(2, least(attempts, 20))))
     WHERE id = ANY (p_failed) AND published_at IS NULL;
$$;
