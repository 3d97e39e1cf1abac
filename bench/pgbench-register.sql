-- pgbench-register.sql — PostgreSQL alone doing what one registration asks of it:
-- the statement ngx_xyz_module sends (ngx_xyz_register_sql in
-- ngx_xyz_module/ngx_xyz_register.c: keep the two in step), as an unnamed
-- extended-protocol query in its own transaction, without HTTP and without hashing.
-- The password hash is a fixed PHC string from the cheap hash parameters
-- (m=64 t=1 p=1), the size the cheap-hash run stores; the outbox lease is the
-- module's default (xyz_outbox_lease 30s), the client key wrk's address and the
-- mail cooldown the module's default (xyz_mail_cooldown 60s).
--
--   pgbench -n -M extended -D tag=<random> -D i=0 -c N -j T -T SECONDS \
--           -f bench/pgbench-register.sql "<dsn>"
--
-- Each client keeps its own counter :i, so email and token are new every time
-- (run tag, client id, counter). The module computes the token's SHA-256 itself;
-- here PostgreSQL does (sha256()), a few microseconds per row.
\set i :i + 1
SELECT outcome, outbox_id, outbox_kind, body FROM xyz_register(
    'p' || :tag || '-' || :client_id || '-' || :i || '@bench.example.com',
    'p' || :tag || '-' || :client_id || '-' || :i || '@bench.example.com',
    'Bench User',
    'en',
    '$argon2id$v=19$m=64,t=1,p=1$LFi/WZ8BHwHN12VDj21r0A$kV0Q2UABHTohIbu+n3vOmE4IeUmalIrZ+5kdThvNGmQ',
    false,
    't' || :tag || '-' || :client_id || '-' || :i,
    sha256(convert_to('t' || :tag || '-' || :client_id || '-' || :i, 'UTF8')),
    '86400 seconds'::interval,
    '30000 milliseconds'::interval,
    '127.0.0.1',
    '60 seconds'::interval);
