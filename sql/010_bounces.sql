-- Bounces and complaints.  SES reports them through SNS to the feedback
-- queue; the dispatcher reads it (xyz_ses_feedback_queue) and records each
-- address here: a permanent bounce or a complaint suppresses the address
-- (no more mail is sent to it), a transient bounce is only counted.  The
-- email sender checks before sending (xyz_delivery_begin_checked) and
-- records a message to a suppressed address as 'suppressed', with the
-- reason, instead of sending it: no retry, nothing in the dead-letter
-- queue.  An operator lifts a suppression with xyz_mail_unsuppress().

-- One row per address that bounced or complained, by its normalised form
-- (trimmed, ASCII lowercased, as users.email_normalized).  suppressed_at
-- NULL: only transient bounces so far.
CREATE TABLE mail_suppressions (
    email_normalized   text         PRIMARY KEY,
    suppressed_at      timestamptz,
    reason             text         CHECK (reason IN ('bounce', 'complaint')),
    detail             text,
    transient_bounces  integer      NOT NULL DEFAULT 0,
    last_transient_at  timestamptz,
    -- SES's feedbackId (or the SNS message id) of the last notification
    -- counted: SQS delivers at least once, and a repeat counts nothing
    last_feedback_id   text,
    created_at         timestamptz  NOT NULL DEFAULT now(),
    updated_at         timestamptz  NOT NULL DEFAULT now(),
    CHECK ((suppressed_at IS NULL) = (reason IS NULL))
);

-- A delivery the sender did not make because the address is suppressed.
ALTER TABLE deliveries DROP CONSTRAINT deliveries_state_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_state_check
    CHECK (state IN ('sending', 'sent', 'dead', 'suppressed'));

-- Records one notification for its recipients (normalised addresses, one
-- a line).  p_type: 'bounce' (permanent) or 'complaint' suppress,
-- 'transient' counts.  A suppressed address keeps its first reason.
-- Returns the number of addresses whose row changed.
CREATE FUNCTION xyz_mail_feedback(p_type text, p_addresses text,
                                  p_detail text, p_feedback_id text)
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    v_id  text := nullif(p_feedback_id, '');
    v_n   integer;
BEGIN
    IF p_type NOT IN ('bounce', 'complaint', 'transient') THEN
        RAISE EXCEPTION 'xyz_mail_feedback: unknown type %', p_type;
    END IF;

    IF p_type = 'transient' THEN
        INSERT INTO mail_suppressions AS s (email_normalized,
                                            transient_bounces,
                                            last_transient_at,
                                            last_feedback_id)
        SELECT DISTINCT a, 1, now(), v_id
          FROM unnest(string_to_array(p_addresses, E'\n')) a
         WHERE a <> ''
        ON CONFLICT (email_normalized) DO UPDATE
           SET transient_bounces = s.transient_bounces + 1,
               last_transient_at = now(),
               last_feedback_id = EXCLUDED.last_feedback_id,
               updated_at = now()
         WHERE EXCLUDED.last_feedback_id IS NULL
            OR s.last_feedback_id IS DISTINCT FROM EXCLUDED.last_feedback_id;

    ELSE
        INSERT INTO mail_suppressions AS s (email_normalized, suppressed_at,
                                            reason, detail,
                                            last_feedback_id)
        SELECT DISTINCT a, now(), p_type, left(p_detail, 500), v_id
          FROM unnest(string_to_array(p_addresses, E'\n')) a
         WHERE a <> ''
        ON CONFLICT (email_normalized) DO UPDATE
           SET suppressed_at = coalesce(s.suppressed_at, now()),
               reason = coalesce(s.reason, EXCLUDED.reason),
               detail = CASE WHEN s.suppressed_at IS NULL
                             THEN EXCLUDED.detail ELSE s.detail END,
               last_feedback_id = EXCLUDED.last_feedback_id,
               updated_at = now()
         WHERE EXCLUDED.last_feedback_id IS NULL
            OR s.last_feedback_id IS DISTINCT FROM EXCLUDED.last_feedback_id;
    END IF;

    GET DIAGNOSTICS v_n = ROW_COUNT;

    RETURN v_n;
END;
$$;

-- Lifts the suppression of an address (the owner fixed their mailbox, a
-- complaint was a mistake); its bounce count starts again.  Returns
-- whether there was one.
CREATE FUNCTION xyz_mail_unsuppress(p_email text)
RETURNS boolean
LANGUAGE sql
AS $$
    WITH d AS (
        DELETE FROM mail_suppressions
         WHERE email_normalized = lower(btrim(p_email) COLLATE "C")
        RETURNING suppressed_at
    )
    SELECT coalesce(bool_or(suppressed_at IS NOT NULL), false) FROM d;
$$;

-- xyz_delivery_begin (003), and for an email to a suppressed address:
-- the delivery recorded 'suppressed' with the reason, and 'suppressed'
-- returned (the dispatcher deletes the message; a redelivered copy finds
-- the row and gets 'done').  The address is the one the message is for,
-- normalised as the module does (ASCII lowercase only).
CREATE FUNCTION xyz_delivery_begin_checked(p_outbox_id bigint, p_kind text,
                                           p_lease interval)
RETURNS text
LANGUAGE plpgsql
AS $$
DECLARE
    v_state  text;
    s        mail_suppressions;
BEGIN
    v_state := xyz_delivery_begin(p_outbox_id, p_kind, p_lease);

    IF v_state <> 'go' OR p_kind <> 'email' THEN
        RETURN v_state;
    END IF;

    SELECT m.* INTO s
      FROM outbox o
      JOIN mail_suppressions m
        ON m.email_normalized = lower(btrim(o.payload->>'email') COLLATE "C")
     WHERE o.id = p_outbox_id AND m.suppressed_at IS NOT NULL;

    IF NOT FOUND THEN
        RETURN 'go';
    END IF;

    UPDATE deliveries
       SET state = 'suppressed',
           claimed_until = now(),
           detail = left(format('address suppressed since %s: %s (%s)',
                                s.suppressed_at, s.reason,
                                coalesce(s.detail, '')), 500),
           updated_at = now()
     WHERE outbox_id = p_outbox_id;

    RETURN 'suppressed';
END;
$$;

-- The admin view: as in 008, and whether the user's address is
-- suppressed, why and since when, and its transient bounces.
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
                  AND o.parked_at IS NOT NULL) AS outbox_parked,
       (m.suppressed_at IS NOT NULL) AS mail_suppressed,
       m.reason AS mail_suppressed_reason,
       m.suppressed_at AS mail_suppressed_at,
       coalesce(m.transient_bounces, 0) AS mail_transient_bounces
  FROM users u
  LEFT JOIN mail_suppressions m ON m.email_normalized = u.email_normalized;
