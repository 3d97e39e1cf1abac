-- The dispatcher's shared state: what each outbox row's delivery came to,
-- and the global rate limits and circuit breakers every dispatcher obeys.

-- One row per outbox id once a dispatcher has seen its message.  A
-- redelivered SQS message finds its row and sends nothing twice.
CREATE TABLE deliveries (
    outbox_id      bigint       PRIMARY KEY,
    kind           text         NOT NULL CHECK (kind IN ('email', 'crm')),
    state          text         NOT NULL
                                CHECK (state IN ('sending', 'sent', 'dead')),
    attempts       integer      NOT NULL DEFAULT 0,
    claimed_until  timestamptz  NOT NULL DEFAULT now(),
    detail         text,
    created_at     timestamptz  NOT NULL DEFAULT now(),
    updated_at     timestamptz  NOT NULL DEFAULT now()
);

CREATE INDEX deliveries_sent_idx ON deliveries (kind, updated_at)
    WHERE state = 'sent';

-- Claims the delivery of one outbox row for p_lease.  Returns 'go' (send
-- it), 'done' (already sent or given up: delete the message) or 'busy'
-- (another dispatcher holds it: leave the message to reappear).
CREATE FUNCTION xyz_delivery_begin(p_outbox_id bigint, p_kind text,
                                   p_lease interval)
RETURNS text
LANGUAGE plpgsql
AS $$
DECLARE
    v_state  text;
BEGIN
    INSERT INTO deliveries AS d (outbox_id, kind, state, attempts,
                                 claimed_until)
    VALUES (p_outbox_id, p_kind, 'sending', 1, now() + p_lease)
    ON CONFLICT (outbox_id) DO UPDATE
       SET attempts = d.attempts + 1,
           claimed_until = now() + p_lease,
           updated_at = now()
     WHERE d.state = 'sending' AND d.claimed_until <= now()
    RETURNING 'go' INTO v_state;

    IF v_state IS NOT NULL THEN
        RETURN v_state;
    END IF;

    SELECT CASE state WHEN 'sending' THEN 'busy' ELSE 'done' END
      INTO v_state
      FROM deliveries WHERE outbox_id = p_outbox_id;

    RETURN v_state;
END;
$$;

-- Records the end of an attempt: 'sent', 'dead' (permanent failure), or
-- 'retry' (released at once for the next receive).
CREATE FUNCTION xyz_delivery_end(p_outbox_id bigint, p_result text,
                                 p_detail text)
RETURNS void
LANGUAGE sql
AS $$
    UPDATE deliveries
       SET state = CASE p_result WHEN 'retry' THEN 'sending' ELSE p_result END,
           claimed_until = now(),
           detail = left(p_detail, 500),
           updated_at = now()
     WHERE outbox_id = p_outbox_id;
$$;

-- A generic cell rate (GCRA) limit shared by every dispatcher, with the
-- state of a circuit breaker for the same peer.
CREATE TABLE rate_limits (
    name           text         PRIMARY KEY,
    tat            timestamptz  NOT NULL DEFAULT now(),
    blocked_until  timestamptz  NOT NULL DEFAULT now(),
    failures       integer      NOT NULL DEFAULT 0,
    breaker_until  timestamptz,
    updated_at     timestamptz  NOT NULL DEFAULT now()
);

-- Reserves the next slot of the p_name limit (p_rate per second, evenly
-- spaced, no bursts) for a caller that will wait for it.  Returns the
-- milliseconds to wait before sending (0: now), or a negative number of
-- milliseconds when nothing was reserved: the peer is blocked (Retry-After)
-- or its breaker is open, or the next free slot lies beyond p_horizon.
-- When an open breaker's time is up, the one caller that gets the next
-- slot is the probe; the breaker stays "open" for p_probe meanwhile, so the
-- others wait.
CREATE FUNCTION xyz_rate_reserve(p_name text, p_rate float8,
                                 p_horizon interval, p_probe interval)
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    r        rate_limits;
    v_now    timestamptz := clock_timestamp();
    v_t      interval := make_interval(secs => 1.0 / p_rate);
    v_slot   timestamptz;
    v_probe  boolean := false;
BEGIN
    INSERT INTO rate_limits (name) VALUES (p_name) ON CONFLICT DO NOTHING;

    SELECT * INTO r FROM rate_limits WHERE name = p_name FOR UPDATE;

    IF r.blocked_until > v_now THEN
        RETURN -ceil(extract(epoch FROM r.blocked_until - v_now) * 1000);
    END IF;

    IF r.breaker_until IS NOT NULL THEN
        IF r.breaker_until > v_now THEN
            RETURN -ceil(extract(epoch FROM r.breaker_until - v_now) * 1000);
        END IF;

        v_probe := true;
    END IF;

    v_slot := greatest(r.tat, v_now);

    IF v_slot - v_now > p_horizon THEN
        RETURN -ceil(extract(epoch FROM v_slot - v_now) * 1000);
    END IF;

    UPDATE rate_limits
       SET tat = v_slot + v_t,
           breaker_until = CASE WHEN v_probe THEN v_slot + p_probe
                                ELSE breaker_until END,
           updated_at = v_now
     WHERE name = p_name;

    RETURN floor(extract(epoch FROM v_slot - v_now) * 1000);
END;
$$;

-- A peer's answer moves the shared state: Retry-After blocks everyone for
-- p_block; p_ok false counts a failure and opens the breaker for p_open
-- after p_threshold in a row; p_ok true closes it.  Returns the breaker's
-- state: 'closed' or 'open'.
CREATE FUNCTION xyz_rate_result(p_name text, p_ok boolean, p_block interval,
                                p_threshold integer, p_open interval)
RETURNS text
LANGUAGE sql
AS $$
    INSERT INTO rate_limits (name) VALUES (p_name) ON CONFLICT DO NOTHING;

    UPDATE rate_limits
       SET blocked_until = greatest(blocked_until,
                                    clock_timestamp() + p_block),
           tat = greatest(tat, clock_timestamp() + p_block),
           failures = CASE WHEN p_ok THEN 0 ELSE failures + 1 END,
           breaker_until = CASE
               WHEN p_ok THEN NULL
               WHEN failures + 1 >= p_threshold
                   THEN clock_timestamp() + p_open
               ELSE breaker_until END,
           updated_at = clock_timestamp()
     WHERE name = p_name
    RETURNING CASE WHEN breaker_until IS NULL THEN 'closed' ELSE 'open' END;
$$;
