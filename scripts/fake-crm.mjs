// fake-crm.mjs — the project's fake CRM: a small HTTP server that stands in for the
// customer's CRM REST API in local runs and tests. Started by scripts/crm.sh; Node.js
// built-in modules only (no npm packages).
//
// CRM API (what the dispatcher calls):
//   POST /contacts        JSON object with a string "email" (any other fields); upserts
//                         the record keyed by the lowercased address and answers 200
//                         {"id": N, "email": "...", "created": true|false}
//   POST /crm/v3/objects/contacts/batch/upsert
//                         HubSpot's batch upsert: {"inputs": [{"id": "<email>",
//                         "idProperty": "email", "properties": {...}}, ...]}, 1 to 100
//                         inputs, no address twice; answers 200 {"status": "COMPLETE",
//                         "results": [{"id": "N", "properties": {...}, "new": bool}, ...]}.
//                         One call, whatever the number of inputs. With a rejection
//                         set (see /_admin/reject), the inputs whose address matches it
//                         are invalid: mode "400" refuses the whole batch (nothing is
//                         written, as HubSpot does without multi-status), mode "207"
//                         writes the others and answers 207 {"status": "COMPLETE",
//                         "results": [...], "numErrors": N, "errors": [{"status":
//                         "error", "category": "VALIDATION_ERROR", "message": "...",
//                         "context": {"ids": ["<email>"]}}, ...]}. POST /contacts
//                         answers 400 for such an address.
// Every call is checked, in this order:
//   1. authorization: with a token set, "Authorization: Bearer <token>" or 401;
//   2. an injected fault (see /_admin/fault), which takes precedence over the rest;
//   3. the rate limit: at most `limit` calls admitted in any sliding one-second window;
//      above it 429 with Retry-After: 1 and {"status":"error","errorType":"RATE_LIMIT"};
//   4. the request itself: 400 for a malformed body, 404/405 for other paths/methods.
// Only calls admitted at step 3 count against the limit, so the 2xx answers never
// exceed `limit` in any one-second window. Every call is recorded (time, method, path,
// headers, body, status, outcome); only 2xx answers create or update records.
//
// Admin API (tests and people; never rate limited, never needs the token):
//   GET  /_admin/stats     counters: calls, accepted, rejected_429, faults, unauthorized,
//                          bad_requests, records, repeats, max_calls_in_any_second,
//                          max_accepted_in_any_second, first_call_ms, last_call_ms,
//                          limit, token_required, fault (the current one), hung (calls
//                          held open by "hang" right now)
//   GET  /_admin/records   all records, in creation order
//   GET  /_admin/calls     the call log, oldest first (?since=SEQ: only later ones)
//   GET  /_admin/fault     the current fault
//   POST /_admin/fault     {"mode": "none"|"5xx"|"4xx"|"429"|"hang", "count": N,
//                          "status": 503|422..., "retry_after": seconds|null|"text"}
//                          (a string is sent as the Retry-After header as it is, e.g.
//                          an HTTP date)
//   POST /_admin/reject    {"pattern": "<regular expression>"|null, "mode": "400"|"207"}
//                          contacts whose address matches are refused as invalid
//   POST /_admin/limit     {"limit": N}
//   POST /_admin/token     {"token": "T"} (or null: no authorization required)
//   POST /_admin/reset     forgets records, calls, counters and the fault (and ends hung
//                          requests); keeps the limit and the token
//   GET  /_admin/health    200 "ok"
//
// Options (command line, else environment, else default):
//   --addr A      CRM_ADDR      listen address                       [127.0.0.1]
//   --port P      CRM_PORT      listen port                          [4010]
//   --limit N     CRM_LIMIT     calls per sliding second             [100]
//   --token T     CRM_TOKEN     require "Authorization: Bearer T"    [none]
//   --pid-file F  CRM_PID_FILE  written once listening               [none]
//   --max-calls N CRM_MAX_CALLS call log entries kept (oldest dropped; counters stay
//                               exact)                                [100000]
// One log line per call on stdout. State is in memory only.
import http from "node:http";
import { writeFileSync, rmSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { randomUUID } from "node:crypto";

function option(name, envName, fallback) {
    const i = process.argv.indexOf(`--${name}`);
    if (i > 0 && i + 1 < process.argv.length) {
        return process.argv[i + 1];
    }
    const v = process.env[envName];
    return v !== undefined && v !== "" ? v : fallback;
}

function positiveInt(value, what) {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) {
        throw new Error(`${what} must be a positive integer (got ${JSON.stringify(value)})`);
    }
    return n;
}

const addr = option("addr", "CRM_ADDR", "127.0.0.1");
const port = positiveInt(option("port", "CRM_PORT", "4010"), "port");
const pidFile = option("pid-file", "CRM_PID_FILE", null);
const maxCalls = positiveInt(option("max-calls", "CRM_MAX_CALLS", "100000"), "max-calls");
let limit = positiveInt(option("limit", "CRM_LIMIT", "100"), "limit");
let token = option("token", "CRM_TOKEN", null);

const MAX_BODY = 1024 * 1024;
const MAX_BATCH = 100;
const WINDOW_MS = 1000;

// Milliseconds since the epoch, fractional, from a monotonic clock.
const now = () => performance.timeOrigin + performance.now();

// ---- state ----------------------------------------------------------------------
let state;
const hung = new Set();     // responses of "hang" calls, never answered

function freshState() {
    return {
        seq: 0,                         // call sequence number
        calls: [],                      // the call log (at most maxCalls entries)
        records: new Map(),             // lowercased email -> record
        nextId: 1,
        counters: {
            calls: 0, accepted: 0, rejected_429: 0, faults: 0, unauthorized: 0,
            bad_requests: 0, repeats: 0,
        },
        admitted: [],                   // times of calls admitted by the limiter, last second
        allWindow: [],                  // times of all calls, last second
        okWindow: [],                   // times of 2xx answers, last second
        maxAll: 0,
        maxOk: 0,
        first: null,
        last: null,
        fault: { mode: "none" },
        reject: null,                   // { re, pattern, mode } or null
    };
}
state = freshState();

// Drops times older than the window ending at t; the window is (t - 1 s, t].
function trim(times, t) {
    let i = 0;
    while (i < times.length && times[i] <= t - WINDOW_MS) {
        i++;
    }
    if (i > 0) {
        times.splice(0, i);
    }
}

function releaseHung() {
    for (const res of hung) {
        res.socket?.destroy();
    }
    hung.clear();
}

// ---- answers ----------------------------------------------------------------------
function send(res, status, body, headers = {}) {
    const text = typeof body === "string" ? body : JSON.stringify(body);
    res.writeHead(status, {
        "Content-Type": typeof body === "string" ? "text/plain; charset=utf-8"
                                                 : "application/json; charset=utf-8",
        "Content-Length": Buffer.byteLength(text),
        ...headers,
    });
    res.end(text);
}

function hubspotError(category, message, extra = {}) {
    return { status: "error", message, correlationId: randomUUID(), category, ...extra };
}

// ---- records ----------------------------------------------------------------------
function upsert(email, fields, via, t) {
    const key = email.toLowerCase();
    let rec = state.records.get(key);
    const created = rec === undefined;
    if (created) {
        rec = {
            id: state.nextId++, email, key, via, fields, upserts: 1,
            created_ms: Math.round(t), updated_ms: Math.round(t),
        };
        state.records.set(key, rec);
    } else {
        rec.fields = fields;
        rec.upserts++;
        rec.updated_ms = Math.round(t);
        state.counters.repeats++;
    }
    return { rec, created };
}

function isObject(v) {
    return v !== null && typeof v === "object" && !Array.isArray(v);
}

function rejected(email) {
    return state.reject !== null && state.reject.re.test(email);
}

function invalidEmail(email) {
    return `Property values were not valid: email "${email}" is invalid`;
}

// POST /contacts
function plainUpsert(body, t) {
    if (!isObject(body) || typeof body.email !== "string" || body.email.trim() === "") {
        return [400, { error: "bad_request", message: "a JSON object with a string \"email\" is required" }];
    }
    const email = body.email.trim();
    if (rejected(email)) {
        return [400, hubspotError("VALIDATION_ERROR", invalidEmail(email))];
    }
    const { rec, created } = upsert(email, body, "contacts", t);
    return [200, { id: rec.id, email: rec.email, created }];
}

// POST /crm/v3/objects/contacts/batch/upsert
function batchUpsert(body, t) {
    const bad = (message) => [400, hubspotError("VALIDATION_ERROR", message)];
    if (!isObject(body) || !Array.isArray(body.inputs)) {
        return bad("body must be an object with an \"inputs\" array");
    }
    const inputs = body.inputs;
    if (inputs.length === 0) {
        return bad("inputs must not be empty");
    }
    if (inputs.length > MAX_BATCH) {
        return bad(`Batch input limit exceeded: ${inputs.length} inputs, at most ${MAX_BATCH}`);
    }
    const seen = new Set();
    for (const [i, input] of inputs.entries()) {
        if (!isObject(input) || typeof input.id !== "string" || input.id.trim() === "") {
            return bad(`inputs[${i}]: "id" (the email address) is required`);
        }
        if (input.idProperty !== "email") {
            return bad(`inputs[${i}]: "idProperty" must be "email"`);
        }
        if (input.properties !== undefined && !isObject(input.properties)) {
            return bad(`inputs[${i}]: "properties" must be an object`);
        }
        const key = input.id.trim().toLowerCase();
        if (seen.has(key)) {
            return bad(`Duplicate IDs found in batch input: ${input.id}`);
        }
        seen.add(key);
    }
    const started = new Date(t).toISOString();
    const refused = inputs.filter((input) => rejected(input.id.trim()));
    if (refused.length && state.reject.mode === "400") {
        return [400, hubspotError("VALIDATION_ERROR", invalidEmail(refused[0].id.trim()))];
    }
    const good = inputs.filter((input) => !rejected(input.id.trim()));
    const results = good.map((input) => {
        const email = input.id.trim();
        const properties = { ...(input.properties || {}), email };
        const { rec, created } = upsert(email, properties, "batch", t);
        return {
            id: String(rec.id),
            properties: { ...rec.fields, hs_object_id: String(rec.id) },
            createdAt: new Date(rec.created_ms).toISOString(),
            updatedAt: new Date(rec.updated_ms).toISOString(),
            archived: false,
            new: created,
        };
    });
    if (refused.length) {
        const errors = refused.map((input) => ({
            status: "error", category: "VALIDATION_ERROR",
            message: invalidEmail(input.id.trim()),
            context: { ids: [input.id.trim()] },
        }));
        return [207, { status: "COMPLETE", results, numErrors: errors.length, errors,
                       startedAt: started, completedAt: new Date().toISOString() }];
    }
    return [200, { status: "COMPLETE", results, startedAt: started,
                   completedAt: new Date().toISOString() }];
}

const ROUTES = {
    "/contacts": plainUpsert,
    "/crm/v3/objects/contacts/batch/upsert": batchUpsert,
};

// ---- one CRM API call -------------------------------------------------------------
function handleApi(req, res, raw, path) {
    const t = now();
    const c = state.counters;
    const call = {
        seq: ++state.seq,
        t_ms: Math.round(t),
        method: req.method,
        path: req.url,
        headers: req.headers,
        idempotency_key: req.headers["idempotency-key"] ?? null,
        authorization: req.headers.authorization ?? null,
        body: null,
        status: null,
        outcome: null,
    };
    try {
        call.body = raw.length ? JSON.parse(raw) : null;
    } catch {
        call.body = raw;    // kept as text; answered 400 below if it gets that far
    }
    c.calls++;
    state.first ??= call.t_ms;
    state.last = call.t_ms;
    trim(state.allWindow, t);
    state.allWindow.push(t);
    state.maxAll = Math.max(state.maxAll, state.allWindow.length);
    state.calls.push(call);
    if (state.calls.length > maxCalls) {
        state.calls.splice(0, state.calls.length - maxCalls);
    }

    let status;
    let body;
    let headers = {};
    const finish = (outcome) => {
        call.status = status;
        call.outcome = outcome;
        console.log(`${new Date(t).toISOString()} ${req.method} ${path} ${status ?? "-"} ${outcome}`);
        if (status !== null) {
            send(res, status, body, headers);
        }
    };

    // 1. authorization
    if (token !== null && req.headers.authorization !== `Bearer ${token}`) {
        c.unauthorized++;
        status = 401;
        body = hubspotError("INVALID_AUTHENTICATION",
                            "Authentication credentials not found or invalid.");
        headers = { "WWW-Authenticate": "Bearer" };
        return finish("unauthorized");
    }

    // 2. an injected fault
    const f = state.fault;
    if (f.mode !== "none") {
        if (f.count !== undefined && --f.count <= 0) {
            state.fault = { mode: "none" };
        }
        c.faults++;
        if (f.mode === "hang") {
            status = null;
            hung.add(res);
            res.on("close", () => hung.delete(res));
            return finish("fault_hang");
        }
        if (f.mode === "5xx") {
            status = f.status;
            body = hubspotError("INTERNAL_ERROR", "injected server error");
        } else if (f.mode === "4xx") {
            status = f.status;
            body = hubspotError("VALIDATION_ERROR", "injected client error");
        } else {    // "429"
            status = 429;
            body = hubspotError("RATE_LIMITS", "injected rate limit",
                                { errorType: "RATE_LIMIT", policyName: "SECONDLY" });
            if (f.retry_after !== null) {
                headers = { "Retry-After": String(f.retry_after) };
            }
        }
        return finish(`fault_${f.mode}`);
    }

    // 3. the rate limit
    trim(state.admitted, t);
    if (state.admitted.length >= limit) {
        c.rejected_429++;
        status = 429;
        body = hubspotError("RATE_LIMITS", "You have reached your secondly limit.",
                            { errorType: "RATE_LIMIT", policyName: "SECONDLY",
                              groupName: "fake-crm" });
        headers = rateHeaders(0);
        headers["Retry-After"] = "1";
        return finish("rate_limited");
    }
    state.admitted.push(t);
    headers = rateHeaders(limit - state.admitted.length);

    // 4. the request itself
    const route = ROUTES[path];
    if (route === undefined) {
        c.bad_requests++;
        status = 404;
        body = { status: "error", message: `no such path: ${path}`, category: "OBJECT_NOT_FOUND" };
        return finish("not_found");
    }
    if (req.method !== "POST") {
        c.bad_requests++;
        status = 405;
        body = { status: "error", message: "only POST", category: "METHOD_NOT_ALLOWED" };
        headers.Allow = "POST";
        return finish("method_not_allowed");
    }
    if (typeof call.body === "string") {
        c.bad_requests++;
        status = 400;
        body = hubspotError("VALIDATION_ERROR", "Invalid input JSON");
        return finish("bad_request");
    }
    [status, body] = route(call.body, t);
    if (status >= 200 && status < 300) {
        c.accepted++;
        trim(state.okWindow, t);
        state.okWindow.push(t);
        state.maxOk = Math.max(state.maxOk, state.okWindow.length);
        return finish("accepted");
    }
    c.bad_requests++;
    return finish("bad_request");
}

function rateHeaders(remaining) {
    return {
        "X-HubSpot-RateLimit-Secondly": String(limit),
        "X-HubSpot-RateLimit-Secondly-Remaining": String(Math.max(remaining, 0)),
    };
}

// ---- admin API --------------------------------------------------------------------
function faultView() {
    return { ...state.fault };
}

function stats() {
    return {
        ...state.counters,
        records: state.records.size,
        max_calls_in_any_second: state.maxAll,
        max_accepted_in_any_second: state.maxOk,
        first_call_ms: state.first,
        last_call_ms: state.last,
        limit,
        token_required: token !== null,
        fault: faultView(),
        hung: hung.size,
    };
}

function parseFault(b) {
    const modes = ["none", "5xx", "4xx", "429", "hang"];
    if (!isObject(b) || !modes.includes(b.mode)) {
        return [null, `"mode" must be one of ${modes.join(", ")}`];
    }
    const f = { mode: b.mode };
    if (b.mode === "none") {
        return [f, null];
    }
    if (b.count !== undefined && b.count !== null) {
        if (!Number.isInteger(b.count) || b.count < 1) {
            return [null, "\"count\" must be a positive integer"];
        }
        f.count = b.count;
    }
    if (b.mode === "5xx" || b.mode === "4xx") {
        const lo = b.mode === "5xx" ? 500 : 400;
        f.status = b.status ?? (b.mode === "5xx" ? 503 : 422);
        if (!Number.isInteger(f.status) || f.status < lo || f.status > lo + 99) {
            return [null, `"status" must be a ${b.mode} code`];
        }
    }
    if (b.mode === "429") {
        f.retry_after = b.retry_after === undefined ? 1 : b.retry_after;
        if (f.retry_after !== null && typeof f.retry_after !== "string"
            && (!Number.isInteger(f.retry_after) || f.retry_after < 0)) {
            return [null, "\"retry_after\" must be a whole number of seconds, a string "
                          + "(the header as it is), or null for none"];
        }
    }
    return [f, null];
}

function handleAdmin(req, res, raw, path) {
    const get = req.method === "GET";
    const post = req.method === "POST";
    let body = null;
    if (post && raw.length) {
        try {
            body = JSON.parse(raw);
        } catch {
            return send(res, 400, { error: "malformed JSON" });
        }
    }
    const u = new URL(req.url, "http://x");
    switch (`${req.method} ${path}`) {
    case "GET /_admin/health":
        return send(res, 200, "ok\n");
    case "GET /_admin/stats":
        return send(res, 200, stats());
    case "GET /_admin/records":
        return send(res, 200, [...state.records.values()]);
    case "GET /_admin/calls": {
        const since = Number(u.searchParams.get("since") || 0);
        return send(res, 200, state.calls.filter((c) => c.seq > since));
    }
    case "GET /_admin/fault":
        return send(res, 200, faultView());
    case "POST /_admin/fault": {
        const [f, err] = parseFault(body);
        if (err) {
            return send(res, 400, { error: err });
        }
        state.fault = f;
        console.log(`${new Date().toISOString()} admin: fault ${JSON.stringify(f)}`);
        return send(res, 200, faultView());
    }
    case "POST /_admin/reject": {
        const pattern = isObject(body) ? body.pattern : undefined;
        const mode = isObject(body) && body.mode !== undefined ? String(body.mode) : "400";
        if (pattern === null) {
            state.reject = null;
            return send(res, 200, { reject: null });
        }
        if (typeof pattern !== "string" || pattern === "" || !["400", "207"].includes(mode)) {
            return send(res, 400, { error: "\"pattern\" must be a regular expression or "
                                           + "null, \"mode\" \"400\" or \"207\"" });
        }
        let re;
        try {
            re = new RegExp(pattern, "i");
        } catch (err) {
            return send(res, 400, { error: `bad pattern: ${err.message}` });
        }
        state.reject = { re, pattern, mode };
        console.log(`${new Date().toISOString()} admin: reject /${pattern}/ (${mode})`);
        return send(res, 200, { reject: { pattern, mode } });
    }
    case "POST /_admin/limit": {
        const n = isObject(body) ? body.limit : undefined;
        if (!Number.isInteger(n) || n < 1) {
            return send(res, 400, { error: "\"limit\" must be a positive integer" });
        }
        limit = n;
        console.log(`${new Date().toISOString()} admin: limit ${limit}`);
        return send(res, 200, { limit });
    }
    case "POST /_admin/token": {
        const tk = isObject(body) ? body.token : undefined;
        if (tk !== null && (typeof tk !== "string" || tk === "")) {
            return send(res, 400, { error: "\"token\" must be a non-empty string or null" });
        }
        token = tk;
        console.log(`${new Date().toISOString()} admin: token ${token === null ? "off" : "on"}`);
        return send(res, 200, { token_required: token !== null });
    }
    case "POST /_admin/reset":
        releaseHung();
        state = freshState();
        console.log(`${new Date().toISOString()} admin: reset`);
        return send(res, 200, { reset: true, limit, token_required: token !== null });
    default:
        if (get || post) {
            return send(res, 404, { error: `no such admin path: ${req.method} ${path}` });
        }
        return send(res, 405, { error: "GET or POST" }, { Allow: "GET, POST" });
    }
}

// ---- server -----------------------------------------------------------------------
const server = http.createServer((req, res) => {
    const chunks = [];
    let size = 0;
    let tooBig = false;
    req.on("data", (chunk) => {
        size += chunk.length;
        if (size > MAX_BODY) {
            tooBig = true;
        } else {
            chunks.push(chunk);
        }
    });
    req.on("end", () => {
        if (tooBig) {
            return send(res, 413, { status: "error", message: `body over ${MAX_BODY} bytes` });
        }
        const raw = Buffer.concat(chunks).toString("utf8");
        const path = req.url.split("?")[0];
        try {
            if (path === "/_admin" || path.startsWith("/_admin/")) {
                handleAdmin(req, res, raw, path);
            } else {
                handleApi(req, res, raw, path);
            }
        } catch (err) {
            console.error(`fake-crm: ${err.stack}`);
            if (!res.headersSent) {
                send(res, 500, { status: "error", message: "fake CRM failure" });
            }
        }
    });
});
// Hung calls are never answered: no server-side timeouts on responses.
server.requestTimeout = 0;
server.headersTimeout = 60000;
server.keepAliveTimeout = 5000;

let stopping = false;
function stop(signal) {
    if (stopping) {
        return;
    }
    stopping = true;
    releaseHung();
    server.close(() => {
        if (pidFile) {
            rmSync(pidFile, { force: true });
        }
        console.error(`fake-crm: stopped (${signal})`);
        process.exit(0);
    });
    server.closeAllConnections();
    setTimeout(() => process.exit(0), 2000).unref();
}
process.on("SIGTERM", () => stop("SIGTERM"));
process.on("SIGINT", () => stop("SIGINT"));

server.on("error", (err) => {
    console.error(`fake-crm: cannot listen on ${addr}:${port}: ${err.message}`);
    process.exit(1);
});
server.listen(port, addr, () => {
    if (pidFile) {
        writeFileSync(pidFile, `${process.pid}\n`);
    }
    console.error(`fake-crm: listening on http://${addr}:${port} (pid ${process.pid}, `
                  + `limit ${limit}/s, token ${token === null ? "not required" : "required"})`);
});
