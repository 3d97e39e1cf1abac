// register-service.mjs — a minimal Node registration service in the seed's BFF
// language (Fastify + pg + argon2 + the AWS SDK's SQS client), doing the
// registration ngx_xyz_module does, for scripts/bench-runtime.sh to measure
// against the module with the same load (wrk + bench/register.lua).
//
//   XYZ_DATABASE_URL='host=127.0.0.1 port=5432 dbname=xyz user=xyz' \
//   PORT=8080 WORKERS=2 node bench/runtime/register-service.mjs
//
// POST /api/register, JSON only: the body is checked the way the module's
// parser checks it (ngx_xyz_register_input.c: known fields only; email
// a dot-atom address of at most 254 octets, lower-cased for the unique key;
// name 1 to 100 code points without control characters, trimmed; locale es or
// en, region forms allowed, es by default; password 12 to 256 characters,
// XYZ_PASSWORD_MIN/MAX to change), then hashed with Argon2id (m=19456 KiB,
// t=2, p=1 unless XYZ_ARGON2_M/T say otherwise, PHC string like libsodium's),
// then ONE statement, the module's own (ngx_xyz_register_sql): SELECT ... FROM
// xyz_register($1 ... $12), which inserts the user, its confirmation token and
// the outbox row in one transaction, with the module's defaults (token valid
// 24 h, outbox lease 30 s, mail cooldown 60 s, the client's address as key).
// Answers 202 with the module's body; 400/415/422 with {"error","field",
// "message"}; 503 with Retry-After when the database is away or a request
// has waited 5 s for its hash or a database connection (the module's
// xyz_hash_queue wait=5s and xyz_pg_queue_timeout 5s in bench/nginx.conf.in).
//
// What it leaves out, on purpose: the module's form posts and same-origin
// checks (wrk sends neither Origin nor forms), the common-password list (the
// benchmark configures none for the module either), the refusal of duplicate
// keys (JSON.parse keeps the last one), metrics. The SQS relay
// is the module's job: like the module in the benchmark (no xyz_sqs_* there)
// the service only writes the outbox row, claimed for the 30 s lease, for a
// relay to publish. With XYZ_SQS_QUEUE_URL set (and AWS_ENDPOINT_URL_SQS for
// an emulator) it also publishes that row after the commit and marks it
// published, as the module's relay does (xyz_outbox_done).
//
// Processes: node:cluster, WORKERS processes (default: one per core), like
// nginx's worker_processes; each has at most one hash in flight (one hashing
// thread per core, like the module's pool of one thread per worker) and a
// pool of PG_POOL (16) database connections, like xyz_pg_pool_size 16.

import cluster from 'node:cluster';
import crypto from 'node:crypto';
import os from 'node:os';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

const env = process.env;
const PORT = Number(env.PORT || 8080);
const HOST = env.HOST || '127.0.0.1';
const WORKERS = Number(env.WORKERS || os.availableParallelism());
const PG_POOL = Number(env.PG_POOL || 16);
const HASH_SLOTS = Number(env.HASH_SLOTS || 1);
const WAIT_MS = Number(env.WAIT_MS || 5000);
const PASSWORD_MIN = Number(env.XYZ_PASSWORD_MIN || 12);
const PASSWORD_MAX = Number(env.XYZ_PASSWORD_MAX || 256);
const ARGON2_M = Number(env.XYZ_ARGON2_M || 19456);
const ARGON2_T = Number(env.XYZ_ARGON2_T || 2);
const BODY_MAX = 16384;                          // xyz_body_max_size default

// the statement of ngx_xyz_register.c, unchanged
const REGISTER_SQL =
    'SELECT outcome, outbox_id, outbox_kind, body FROM xyz_register($1, $2, '
    + '$3, $4, $5, $6, $7, $8, $9::interval, $10::interval, $11, '
    + '$12::interval)';

const ACCEPTED = '{"status":"accepted","message":"Check your inbox: we sent a '
    + 'message to the address you gave. Follow its link to confirm your '
    + 'registration."}\n';

// libpq's key=value conninfo (what scripts/pg.sh prints) or a URL
function pgConfig(dsn) {
    if (/^postgres(ql)?:\/\//.test(dsn)) {
        return { connectionString: dsn };
    }
    const names = { host: 'host', port: 'port', dbname: 'database', user: 'user',
                    password: 'password' };
    const config = {};
    for (const part of dsn.trim().split(/\s+/)) {
        const eq = part.indexOf('=');
        const key = part.slice(0, eq);
        const value = part.slice(eq + 1);
        if (eq > 0 && names[key] && value !== '') {
            config[names[key]] = key === 'port' ? Number(value) : value;
        }
    }
    return config;
}

class Refusal extends Error {
    constructor(status, code, field, message) {
        super(message);
        this.status = status;
        this.code = code;
        this.field = field;
    }
}

const LOCAL_CHARS = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~.]+$/;
const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
// C0 and C1 controls, DEL, direction marks and overrides, noncharacters
const BAD_NAME_CHARS = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069\ufdd0-\ufdef\ufffe\uffff]/u;
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/u;

// ngx_xyz_email_normalize: trimmed, one '@', a dot-atom local part of at
// most 64 octets, a domain of LDH labels with a dot; lower-cased for the key
function email(value) {
    const s = value.trim();
    const bytes = Buffer.byteLength(s);
    const at = s.indexOf('@');
    if (bytes < 3 || bytes > 254 || at <= 0 || at !== s.lastIndexOf('@')
        || at > 64) {
        return null;
    }
    const local = s.slice(0, at);
    const domain = s.slice(at + 1);
    if (!LOCAL_CHARS.test(local) || local.startsWith('.') || local.endsWith('.')
        || local.includes('..')) {
        return null;
    }
    const labels = domain.split('.');
    if (labels.length < 2 || domain.length > 253 || !labels.every((l) => LABEL.test(l))) {
        return null;
    }
    return { email: s, normalized: s.replace(/[A-Z]/g, (c) => c.toLowerCase()) };
}

function locale(value) {
    const n = value.length;
    if (n !== 2 && !(n >= 4 && n <= 8 && (value[2] === '-' || value[2] === '_'))) {
        return null;
    }
    const lang = value.slice(0, 2).toLowerCase();
    return lang === 'es' || lang === 'en' ? lang : null;
}

// the checks of ngx_xyz_register_input_parse, in its order, with its answers
function parseInput(raw) {
    if (raw.length === 0) {
        throw new Refusal(400, 'malformed_json', null, 'the request body is empty');
    }
    if (raw.includes('\u0000')) {
        throw new Refusal(400, 'malformed_json', null, 'the request body holds a NUL byte');
    }
    if (raw.includes('\\u0000')) {
        throw new Refusal(422, 'invalid_field', null,
                          'text fields must not contain control characters');
    }
    let body;
    try {
        body = JSON.parse(raw);
    } catch {
        throw new Refusal(400, 'malformed_json', null, 'the request body is not valid JSON');
    }
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
        throw new Refusal(400, 'malformed_json', null, 'the request body must be a JSON object');
    }

    const input = { locale: 'es', marketing_consent: false };
    for (const [key, v] of Object.entries(body)) {
        if (!['email', 'password', 'name', 'locale', 'marketing_consent'].includes(key)) {
            throw new Refusal(422, 'unknown_field', key,
                              'the body has a field this API does not know; allowed: '
                              + 'email, password, name, locale, marketing_consent');
        }
        if (key === 'marketing_consent') {
            if (typeof v !== 'boolean') {
                throw new Refusal(422, 'invalid_field', key, 'marketing_consent must be true or false');
            }
            input.marketing_consent = v;
            continue;
        }
        if (typeof v !== 'string') {
            throw new Refusal(422, 'invalid_field', key, 'this field must be a string');
        }
        if (key === 'email') {
            const e = email(v);
            if (!e) {
                throw new Refusal(422, 'invalid_field', key, 'email is not a valid address');
            }
            input.email = e.email;
            input.email_normalized = e.normalized;
        } else if (key === 'name') {
            const name = v.trim();
            const n = [...name].length;
            if (n < 1 || n > 100 || BAD_NAME_CHARS.test(name)) {
                throw new Refusal(422, 'invalid_field', key,
                                  'name must be 1 to 100 characters without control, '
                                  + 'direction-changing or noncharacter code points');
            }
            input.name = name;
        } else if (key === 'locale') {
            const l = locale(v);
            if (!l) {
                throw new Refusal(422, 'invalid_field', key, 'locale must be "es" or "en"');
            }
            input.locale = l;
        } else {
            // taken as typed, white space included (NIST SP 800-63B)
            const n = [...v].length;
            if (n < PASSWORD_MIN || n > PASSWORD_MAX || CONTROL.test(v)) {
                throw new Refusal(422, 'invalid_field', key,
                                  `password must be ${PASSWORD_MIN} to ${PASSWORD_MAX} `
                                  + 'characters without control characters');
            }
            input.password = v;
        }
    }
    for (const key of ['email', 'password', 'name']) {
        if (input[key] === undefined) {
            throw new Refusal(422, 'missing_field', key, `${key} is required`);
        }
    }
    return input;
}

// At most `slots` holders at a time; the others wait in order, each for at
// most WAIT_MS, then get false (and a 503).
function limiter(slots) {
    let busy = 0;
    const waiting = [];
    return {
        async acquire() {
            if (busy < slots) {
                busy++;
                return true;
            }
            return new Promise((resolve) => {
                const w = { resolve, timer: null };
                w.timer = setTimeout(() => {
                    waiting.splice(waiting.indexOf(w), 1);
                    resolve(false);
                }, WAIT_MS);
                waiting.push(w);
            });
        },
        release() {
            const w = waiting.shift();
            if (w) {
                clearTimeout(w.timer);
                w.resolve(true);
            } else {
                busy--;
            }
        },
    };
}

async function worker() {
    const Fastify = require('fastify');
    const pg = require('pg');
    const argon2 = require('argon2');

    const pool = new pg.Pool({ ...pgConfig(env.XYZ_DATABASE_URL || ''), max: PG_POOL,
                               connectionTimeoutMillis: WAIT_MS });
    pool.on('error', () => {});          // a dropped idle connection: the next query reconnects
    const hashing = limiter(HASH_SLOTS);
    const argon2opts = { type: argon2.argon2id, memoryCost: ARGON2_M, timeCost: ARGON2_T,
                         parallelism: 1 };

    let sqs = null;
    if (env.XYZ_SQS_QUEUE_URL) {
        const { SQSClient, SendMessageCommand } = require('@aws-sdk/client-sqs');
        // an emulator's queue URLs name a host of their own: send to the
        // endpoint configured (AWS_ENDPOINT_URL_SQS) rather than to them
        const client = new SQSClient(env.AWS_ENDPOINT_URL_SQS ? { useQueueUrlAsEndpoint: false } : {});
        sqs = { client, SendMessageCommand };
    }

    const app = Fastify({ logger: false, bodyLimit: BODY_MAX });

    // the raw text, for the module's NUL checks
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('application/json', { parseAs: 'string' },
                             (req, body, done) => done(null, body));

    const refuse = (reply, status, code, field, message) => {
        const out = { error: code };
        if (field) out.field = field;
        out.message = message;
        return reply.code(status).type('application/json').send(JSON.stringify(out) + '\n');
    };
    const unavailable = (reply, message) => {
        reply.header('Retry-After', '5');
        return refuse(reply, 503, 'unavailable', null, message);
    };

    app.setErrorHandler((err, req, reply) => {
        if (err.statusCode === 413) {
            return refuse(reply, 413, 'body_too_large', null, 'the request body is too large');
        }
        if (err.statusCode === 415) {
            return refuse(reply, 415, 'unsupported_media_type', null,
                          'send the body as application/json');
        }
        req.log.error(err);
        return refuse(reply, 500, 'internal_error', null, 'the registration could not be stored');
    });

    app.post('/api/register', async (req, reply) => {
        let input;
        try {
            input = parseInput(req.body);
        } catch (err) {
            if (err instanceof Refusal) {
                return refuse(reply, err.status, err.code, err.field, err.message);
            }
            throw err;
        }

        if (!(await hashing.acquire())) {
            return unavailable(reply, 'too many registrations at once; try again shortly');
        }
        let hash;
        try {
            // libsodium, which verifies the module's logins, reads the PHC
            // parameters only in the order m, t, p; the package writes m, p, t
            hash = (await argon2.hash(input.password, argon2opts))
                .replace(/\$m=(\d+),p=(\d+),t=(\d+)\$/, '$m=$1,t=$3,p=$2$');
        } finally {
            hashing.release();
        }

        // the token travels in the email; only its SHA-256 is stored
        const token = crypto.randomBytes(32).toString('base64url');
        const tokenHash = crypto.createHash('sha256').update(token).digest();

        let res;
        try {
            res = await pool.query(REGISTER_SQL, [
                input.email, input.email_normalized, input.name, input.locale, hash,
                input.marketing_consent, token, tokenHash, '86400 seconds',
                '30000 milliseconds', req.socket.remoteAddress, '60 seconds',
            ]);
        } catch (err) {
            if (err.code && /^[0-9A-Z]{5}$/.test(err.code) && !err.code.startsWith('08')
                && !err.code.startsWith('57')) {
                // the server refused the statement: a bug, not an outage
                throw err;
            }
            return unavailable(reply, 'the service is temporarily unavailable; try again shortly');
        }

        const row = res.rows[0];
        if (sqs && row && row.outbox_id !== null) {
            // what the module's relay does with the claimed row; a failure
            // leaves it claimed, and a sweeper publishes it when the lease ends
            sqs.client.send(new sqs.SendMessageCommand({ QueueUrl: env.XYZ_SQS_QUEUE_URL,
                                                          MessageBody: row.body }))
                .then(() => pool.query("SELECT xyz_outbox_done($1::bigint[], '{}', NULL, "
                                       + "'300 seconds', '{}')", [[row.outbox_id]]))
                .catch((err) => process.stderr.write(`register-service: outbox row ${row.outbox_id} `
                                                     + `not published: ${err.message}\n`));
        }

        return reply.code(202).type('application/json').send(ACCEPTED);
    });

    // the listen backlog of bench/nginx.conf.in (Node's default is 511)
    await app.listen({ port: PORT, host: HOST, backlog: 4096 });
}

if (cluster.isPrimary && WORKERS > 1) {
    for (let i = 0; i < WORKERS; i++) {
        cluster.fork();
    }
    cluster.on('exit', (w, code, signal) => {
        if (!process.exitCode && signal !== 'SIGTERM') {
            process.stderr.write(`register-service: worker ${w.process.pid} exited (${signal || code})\n`);
            process.exitCode = 1;
        }
    });
    const stop = () => {
        for (const w of Object.values(cluster.workers)) w.process.kill('SIGTERM');
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
} else {
    worker().catch((err) => {
        process.stderr.write(`register-service: ${err.stack}\n`);
        process.exit(1);
    });
}
