-- Login throttling that parallel requests cannot outrun and an attacker
-- cannot turn against an account's owner; old throttle and cooldown rows
-- purged; the first mail cooldown of an address taken atomically.
--
-- Three kinds of rows in login_throttle, always locked in this order (the
-- order of their keys' prefixes), so that no two logins deadlock:
--
--   account:EMAIL          every client together: a soft limit, from the
--                          20th failure in an hour each attempt waits 2 s,
--                          4 s, ... at most 60 s;
--   client:NET             one client, every account: from the 10th failure
--                          in a row, 2 s, 4 s, ... at most 15 minutes;
--   pair:EMAIL|NET         one account from one client: the hard lock, from
--                          the 3rd failure in a row, 2 s, 4 s, ... 15 min.
--
-- NET is the client's IPv4 address, or the /64 of its IPv6 address (one
-- host usually owns a whole /64).  An attempt is reserved (in_flight) before
-- its password is hashed and settled after, so no more attempts can be in
-- flight than failures are still allowed before the lock.

ALTER TABLE login_throttle
    ADD COLUMN account       text,
    ADD COLUMN in_flight     integer      NOT NULL DEFAULT 0,
    ADD COLUMN in_flight_at  timestamptz,
    ADD COLUMN window_start  timestamptz  NOT NULL DEFAULT now();

CREATE INDEX login_throttle_account_idx ON login_throttle (account);
CREATE INDEX login_throttle_updated_idx ON login_throttle (updated_at);
CREATE INDEX mail_requests_last_idx ON mail_requests (last_at);


-- The network a client address is counted by: an IPv6 address by its /64
-- (an IPv4-mapped one by its IPv4 address), anything else as it is.
CREATE FUNCTION xyz_client_net(p_client text)
RETURNS text
LANGUAGE plpgsql
IMMUTABLE
AS $$
DECLARE
    a  inet;
BEGIN
    IF p_client IS NULL OR p_client !~ '^[0-9A-Fa-f:.]+$'
       OR position(':' IN p_client) = 0
    THEN
        RETURN p_client;
    END IF;

    BEGIN
        a := p_client::inet;
    EXCEPTION WHEN others THEN
        RETURN p_client;
    END;

    IF a << inet '::ffff:0.0.0.0/96' THEN
        RETURN host(('0.0.0.0'::inet + (a - '::ffff:0.0.0.0'::inet)));
    END IF;

    RETURN text(network(set_masklen(a, 64)));
END;
$$;


-- Deletes a bounded number of rows that hold nothing any more: no lock,
-- no failure within the hour, nothing in flight.  Called by every login
-- begin and every mail request, so the table stays the size of the last
-- hour's traffic without a sweeper; SKIP LOCKED never makes a caller wait.
CREATE FUNCTION xyz_throttle_purge()
RETURNS void
LANGUAGE sql
AS $$
    DELETE FROM login_throttle
     WHERE key IN (SELECT key FROM login_throttle
                    WHERE updated_at < now() - interval '1 hour'
                      AND locked_until < now()
                      AND (in_flight = 0
                           OR in_flight_at < now() - interval '1 minute')
                    ORDER BY updated_at
                    LIMIT 100
                    FOR UPDATE SKIP LOCKED);
$$;


-- Reserves a login attempt before any hashing.  Returns one row: the hash
-- (NULL for an unknown address), the user, and the seconds to wait (0: go
-- on, the attempt is reserved and xyz_login_end must settle it).  Known
-- and unknown addresses do the same work here.
CREATE OR REPLACE FUNCTION xyz_login_begin(p_email_normalized text,
                                           p_client text)
RETURNS TABLE (user_id bigint, password_hash text, status text, role text,
               email text, name text, locale text, token_version integer,
               wait_seconds integer)
LANGUAGE plpgsql
AS $$
DECLARE
    net      text := xyz_client_net(p_client);
    keys     text[];
    k        text;
    t        login_throttle;
    n        integer;
    fails    integer;
    wait     integer := 0;
    granted  boolean := true;
BEGIN
    PERFORM xyz_throttle_purge();

    keys := ARRAY['account:' || p_email_normalized, 'client:' || net,
                  'pair:' || p_email_normalized || '|' || net];

    FOREACH k IN ARRAY keys LOOP
        /* locks the row, made if missing; a reservation left behind by a
         * request that never settled (a lost connection) lapses */
        INSERT INTO login_throttle AS l (key, account)
        VALUES (k, CASE WHEN k LIKE 'client:%' THEN NULL
                        ELSE p_email_normalized END)
        ON CONFLICT (key) DO UPDATE
           SET in_flight = CASE WHEN l.in_flight_at
                                     < now() - interval '1 minute'
                                THEN 0 ELSE l.in_flight END
        RETURNING * INTO t;

        IF k LIKE 'account:%' THEN
            n := 20;
            fails := CASE WHEN t.window_start < now() - interval '1 hour'
                          THEN 0 ELSE t.failures END;
        ELSE
            n := CASE WHEN k LIKE 'client:%' THEN 10 ELSE 3 END;
            fails := CASE WHEN t.updated_at < now() - interval '1 hour'
                          THEN 0 ELSE t.failures END;
        END IF;

        IF t.locked_until > now() THEN
            granted := false;
            wait := greatest(wait, ceil(extract(epoch FROM
                                                t.locked_until - now())));

        ELSIF t.in_flight >= greatest(1, n - fails) THEN
            /* as many in flight as may still fail before the lock */
            granted := false;
            wait := greatest(wait, 1);
        END IF;
    END LOOP;

    IF granted THEN
        UPDATE login_throttle
           SET in_flight = in_flight + 1, in_flight_at = now()
         WHERE key = ANY (keys);
    END IF;

    RETURN QUERY
    SELECT u.id, u.password_hash, u.status, u.role, u.email, u.name,
           u.locale, u.token_version,
           CASE WHEN granted THEN 0 ELSE greatest(wait, 1) END
      FROM (SELECT 1) one
      LEFT JOIN users u ON u.email_normalized = p_email_normalized;
END;
$$;


-- Settles an attempt reserved by xyz_login_begin.  p_ok: true for the right
-- password (the lock of this account from this client is cleared; the
-- account-wide count runs out with its hour), false for a failure (counted
-- on all three rows), NULL when no password was checked (the reservation
-- is only given back).  A new hash (the parameters changed) replaces the
-- stored one.
CREATE OR REPLACE FUNCTION xyz_login_end(p_email_normalized text,
                                         p_client text, p_ok boolean,
                                         p_new_hash text)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    net  text := xyz_client_net(p_client);
    k    text;
    n    integer;
BEGIN
    FOREACH k IN ARRAY ARRAY['account:' || p_email_normalized,
                             'client:' || net,
                             'pair:' || p_email_normalized || '|' || net]
    LOOP
        IF p_ok IS NULL OR (p_ok AND k NOT LIKE 'pair:%') THEN
            UPDATE login_throttle
               SET in_flight = greatest(0, in_flight - 1)
             WHERE key = k;

        ELSIF p_ok THEN
            UPDATE login_throttle
               SET in_flight = greatest(0, in_flight - 1), failures = 0,
                   locked_until = now(), updated_at = now()
             WHERE key = k;

        ELSIF k LIKE 'account:%' THEN
            INSERT INTO login_throttle AS t (key, account, failures,
                                             window_start)
            VALUES (k, p_email_normalized, 1, now())
            ON CONFLICT (key) DO UPDATE
               SET failures = CASE
                       WHEN t.window_start < now() - interval '1 hour'
                       THEN 1 ELSE t.failures + 1 END,
                   window_start = CASE
                       WHEN t.window_start < now() - interval '1 hour'
                       THEN now() ELSE t.window_start END,
                   locked_until = CASE
                       WHEN t.window_start >= now() - interval '1 hour'
                            AND t.failures + 1 >= 20
                       THEN greatest(t.locked_until,
                                     now() + make_interval(secs => least(60,
                                         power(2, t.failures + 2 - 20))))
                       ELSE t.locked_until END,
                   in_flight = greatest(0, t.in_flight - 1),
                   updated_at = now();

        ELSE
            n := CASE WHEN k LIKE 'client:%' THEN 10 ELSE 3 END;

            INSERT INTO login_throttle AS t (key, account, failures)
            VALUES (k, CASE WHEN k LIKE 'client:%' THEN NULL
                            ELSE p_email_normalized END, 1)
            ON CONFLICT (key) DO UPDATE
               SET failures = CASE WHEN t.updated_at < now() - interval '1 hour'
                                   THEN 1 ELSE t.failures + 1 END,
                   locked_until = CASE
                       WHEN t.updated_at >= now() - interval '1 hour'
                            AND t.failures + 1 >= n
                       THEN greatest(t.locked_until,
                                     now() + make_interval(secs => least(900,
                                         power(2, t.failures + 2 - n))))
                       ELSE t.locked_until END,
                   in_flight = greatest(0, t.in_flight - 1),
                   updated_at = now();
        END IF;
    END LOOP;

    IF p_ok AND p_new_hash IS NOT NULL THEN
        UPDATE users SET password_hash = p_new_hash, updated_at = now()
         WHERE email_normalized = p_email_normalized;
    END IF;
END;
$$;


-- A password reset proves the mailbox: it ends every lock on the account,
-- whichever function completes it.
CREATE FUNCTION xyz_login_throttle_reset()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM 1 FROM login_throttle
      WHERE account = NEW.email_normalized
      ORDER BY key
      FOR UPDATE;

    UPDATE login_throttle
       SET failures = 0, locked_until = now(), window_start = now()
     WHERE account = NEW.email_normalized;

    RETURN NULL;
END;
$$;

CREATE TRIGGER users_login_throttle_reset
    AFTER UPDATE OF password_hash ON users
    FOR EACH ROW
    WHEN (NEW.token_version <> OLD.token_version)
    EXECUTE FUNCTION xyz_login_throttle_reset();


-- Counts a mail request for p_key (an address) and p_client (a client
-- address, IPv6 by its /64).  Returns 0 when the request may go on, -1 when
-- the address is within its cooldown (the caller answers the same and
-- sends nothing), else the seconds the client must wait.  The cooldown is
-- taken by one upsert, so two first requests at once cannot both pass.
-- Rows that hold nothing any more are purged, a bounded number a call.
CREATE OR REPLACE FUNCTION xyz_mail_request_allowed(p_key text,
                                                    p_cooldown interval,
                                                    p_client text,
                                                    p_per_hour integer)
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    r       mail_requests;
    client  text := xyz_client_net(p_client);
BEGIN
    /* a day covers every cooldown and the hourly window */
    DELETE FROM mail_requests
     WHERE key IN (SELECT key FROM mail_requests
                    WHERE last_at < now() - greatest(p_cooldown,
                                                     interval '1 day')
                      AND window_start < now() - interval '1 hour'
                    ORDER BY last_at
                    LIMIT 100
                    FOR UPDATE SKIP LOCKED);

    INSERT INTO mail_requests AS m (key, last_at, window_start, count)
    VALUES (client, now(), now(), 1)
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

    INSERT INTO mail_requests AS m (key, last_at) VALUES (p_key, now())
    ON CONFLICT (key) DO UPDATE SET last_at = now()
     WHERE m.last_at <= now() - p_cooldown
    RETURNING * INTO r;

    IF NOT FOUND THEN
        RETURN -1;          /* silently skipped: same answer, no mail */
    END IF;

    RETURN 0;
END;
$$;
