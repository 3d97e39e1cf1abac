-- The shared CRM limiter keeps its waits bounded: a peer's Retry-After (a
-- date in year 9999, 2^31 seconds) blocks everyone for an hour at most, and
-- a row an earlier version left blocked beyond that is mended on its next
-- reservation.  Before this, such a block made xyz_rate_reserve's answer
-- (milliseconds, an integer) overflow: every reservation failed with an
-- SQL error and the limiter stayed frozen until the far date.  Its answers
-- are now bounded to the integer range whatever the row holds.

-- The longest any block or slot lies ahead: the C side clamps Retry-After
-- to the same hour (NGX_XYZ_RETRY_AFTER_MAX in ngx_xyz_crm.c).
CREATE OR REPLACE FUNCTION xyz_rate_max_wait()
RETURNS interval
LANGUAGE sql IMMUTABLE
AS $$ SELECT interval '1 hour' $$;

CREATE OR REPLACE FUNCTION xyz_rate_reserve(p_name text, p_rate float8,
                                            p_horizon interval,
                                            p_probe interval)
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    r        rate_limits;
    v_now    timestamptz := clock_timestamp();
    v_max    timestamptz := v_now + xyz_rate_max_wait();
    v_t      interval := make_interval(secs => 1.0 / p_rate);
    v_slot   timestamptz;
    v_probe  boolean := false;
BEGIN
    INSERT INTO rate_limits (name) VALUES (p_name) ON CONFLICT DO NOTHING;

    SELECT * INTO r FROM rate_limits WHERE name = p_name FOR UPDATE;

    IF r.blocked_until > v_max OR r.tat > v_max THEN
        UPDATE rate_limits
           SET blocked_until = least(blocked_until, v_max),
               tat = least(tat, v_max),
               updated_at = v_now
         WHERE name = p_name
        RETURNING * INTO r;
    END IF;

    IF r.blocked_until > v_now THEN
        RETURN -least(ceil(extract(epoch FROM r.blocked_until - v_now)
                           * 1000), 2147483647);
    END IF;

    IF r.breaker_until IS NOT NULL THEN
        IF r.breaker_until > v_now THEN
            RETURN -least(ceil(extract(epoch FROM r.breaker_until - v_now)
                               * 1000), 2147483647);
        END IF;

        v_probe := true;
    END IF;

    v_slot := greatest(r.tat, v_now);

    IF v_slot - v_now > p_horizon THEN
        RETURN -least(ceil(extract(epoch FROM v_slot - v_now) * 1000),
                      2147483647);
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

CREATE OR REPLACE FUNCTION xyz_rate_result(p_name text, p_ok boolean,
                                           p_block interval,
                                           p_threshold integer,
                                           p_open interval)
RETURNS text
LANGUAGE sql
AS $$
    INSERT INTO rate_limits (name) VALUES (p_name) ON CONFLICT DO NOTHING;

    UPDATE rate_limits
       SET blocked_until = greatest(blocked_until,
                                    clock_timestamp()
                                    + least(p_block, xyz_rate_max_wait())),
           tat = greatest(tat, clock_timestamp()
                               + least(p_block, xyz_rate_max_wait())),
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
