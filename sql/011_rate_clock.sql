-- The CRM limiter's slots, timed on one clock.
--
-- xyz_rate_reserve answers "your slot is so many milliseconds from now".
-- Two things made that "now" wrong by as long as the database was slow:
--   1. it was read before the row lock: a reservation that waited for
--      another dispatcher's commit told a wait too long by that time;
--   2. the dispatcher timed the wait from the answer's arrival, however
--      late the answer came (a slow commit, a busy machine).
-- Late sends bunch up with the ones on time and the CRM counted 21 or 22
-- calls in a second against a cap of 20.  "Now" is now read after the lock
-- and also given back, as milliseconds since the epoch in the setting
-- xyz.rate_now of the transaction, so that a dispatcher whose clock agrees
-- with the database's times the slot itself (ngx_xyz_dispatch.c).

CREATE OR REPLACE FUNCTION xyz_rate_reserve(p_name text, p_rate float8,
                                            p_horizon interval,
                                            p_probe interval)
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    r        rate_limits;
    v_now    timestamptz;
    v_max    timestamptz;
    v_t      interval := make_interval(secs => 1.0 / p_rate);
    v_slot   timestamptz;
    v_probe  boolean := false;
BEGIN
    INSERT INTO rate_limits (name) VALUES (p_name) ON CONFLICT DO NOTHING;

    SELECT * INTO r FROM rate_limits WHERE name = p_name FOR UPDATE;

    v_now := clock_timestamp();
    v_max := v_now + xyz_rate_max_wait();

    PERFORM set_config('xyz.rate_now',
                       floor(extract(epoch FROM v_now) * 1000)::bigint::text,
                       true);

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
