// journey.mjs — the load generator of `make bench-journey` (scripts/bench-journey.sh),
// with the SMTP sink the dispatcher sends the confirmation emails to.
//
//   node bench/journey.mjs --url http://127.0.0.1:PORT --smtp-port P --users N \
//        --concurrency C --think S --tag TAG --out DIR
//
// Every user walks the whole journey, as a browser would, with think time
// (uniform in [0.5 S, 1.5 S]) between the steps:
//
//   page      GET / and the assets it links (stylesheet, scripts, icon)
//   register  POST /api/register (JSON)                               -> 202
//   email     waits until the confirmation email reaches the SMTP sink and
//             takes the link from it (the time from the 202 to the email)
//   confirm   GET /confirm?token=T (the landing page)                 -> 200
//             POST /confirm?token=T, confirm=1, the same Origin     -> 303 ?result=ok
//   login     POST /api/login (JSON)                                  -> 200 + cookie
//   me        GET /api/me with the cookie                             -> 200
//
// At most C users are on their way at once; a user's first step waits a random
// part of one think time, so that C users do not all arrive in the same
// millisecond. Each user comes from its own loopback address (127.x.y.z, like
// distinct visitors: the login throttle counts per client address) and so holds
// its own keep-alive connection. 503 and 429 answers are retried after their
// Retry-After (1 s when absent) times a random 0.5 to 1.5, as the front end
// does; nothing else is retried
// (a POST that fails otherwise ends that user's journey as failed).
//
// The SMTP sink (a net server on 127.0.0.1:P) speaks what libcurl needs: EHLO/HELO,
// MAIL, RCPT, DATA, RSET, NOOP, QUIT. It decodes quoted-printable, finds the
// /confirm?token= link and hands it to the waiting user in this process. It
// counts every message per recipient (a second message to one address is a
// duplicate).
//
// Output: a report on stdout; DIR/journey.json (everything measured) and
// DIR/timeline.dat (per second: journeys completed, 2xx, 503, 429, other
// answers, p99 ms of the requests completed in that second, users on their way)
// for gnuplot. The generator's own CPU (process.cpuUsage, SMTP sink included) is
// part of the report, with its event loop's delay (p99, max): a generator that
// cannot keep up, or gets no CPU on a shared machine, shows there.

import http from "node:http";
import net from "node:net";
import fs from "node:fs";
import path from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";

// ---- options --------------------------------------------------------------------

function options(argv) {
    const o = {
        url: "", smtpPort: 0, users: 10000, concurrency: 10000, think: 3,
        tag: "j" + Math.random().toString(16).slice(2, 10), out: ".",
        timeout: 900, emailTimeout: 900, settle: 3, password: "journey password long enough",
        retryJitter: "around",
    };
    for (let i = 2; i < argv.length; i += 2) {
        const k = argv[i].replace(/^--/, "").replace(/-([a-z])/g, (_, c) => c.toUpperCase());
        if (!(k in o)) throw new Error(`unknown option ${argv[i]}`);
        o[k] = typeof o[k] === "number" ? Number(argv[i + 1]) : argv[i + 1];
    }
    if (!o.url) throw new Error("--url is required");
    for (const k of ["users", "concurrency"]) {
        if (!Number.isInteger(o[k]) || o[k] < 1) throw new Error(`--${k} must be a positive integer`);
    }
    if (!(o.think >= 0)) throw new Error("--think must be >= 0 seconds");
    if (!["around", "after"].includes(o.retryJitter)) throw new Error("--retry-jitter is around or after");
    return o;
}

const opt = options(process.argv);
const base = new URL(opt.url);
const origin = `${base.protocol}//${base.host}`;
const T0 = performance.now();
const T0_EPOCH_MS = Date.now();
const now = () => performance.now() - T0;            // ms since start
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const think = () => sleep(opt.think * 1000 * (0.5 + Math.random()));

// ---- measurements ---------------------------------------------------------------

const STEPS = ["page", "register", "email", "confirm", "login", "me"];
const steps = Object.fromEntries(STEPS.map((s) => [s, { times: [], status: {} }]));
const seconds = [];          // per second since start: counters and latencies
const sec = (t) => {
    const i = Math.floor(t / 1000);
    while (seconds.length <= i) {
        seconds.push({ done: 0, ok: 0, s503: 0, s429: 0, other: 0, lat: [], active: 0,
                       asleep: 0, hashing: 0 });
    }
    return seconds[i];
};
let active = 0;
// users sleeping on a Retry-After of a step that needs a hash (register,
// login), and such requests on their way (waiting in nginx or hashing):
// with both above zero the server has work it could be doing
let asleep = 0;
let hashing = 0;
const HASH_STEPS = new Set(["register", "login"]);
let journeysDone = 0;
let journeysFailed = 0;
const failures = {};         // reason -> count
const requests = { total: 0, retried: 0 };

function countStatus(step, status, ms) {
    const s = steps[step].status;
    s[status] = (s[status] || 0) + 1;
    const b = sec(now());
    if (typeof status === "number" && status >= 200 && status < 400) b.ok++;
    else if (status === 503) b.s503++;
    else if (status === 429) b.s429++;
    else b.other++;
    if (ms !== undefined) b.lat.push(ms);
}

function pct(sorted, p) {
    if (sorted.length === 0) return 0;
    return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

// ---- HTTP -----------------------------------------------------------------------

// Each user has its own keep-alive agent (its own connection, from its own
// 127.x.y.z), closed when the user leaves: users beyond the concurrency reuse no
// descriptors of those before them.
function request(method, p, { headers = {}, body = null, local, agent } = {}) {
    return new Promise((resolve) => {
        const t = performance.now();
        const h = { Host: base.host, ...headers };
        if (body !== null) h["Content-Length"] = Buffer.byteLength(body);
        const req = http.request({
            host: base.hostname, port: base.port || 80, method, path: p, headers: h,
            agent, localAddress: local, timeout: opt.timeout * 1000,
        }, (res) => {
            const chunks = [];
            res.on("data", (c) => chunks.push(c));
            res.on("end", () => resolve({
                status: res.statusCode, headers: res.headers,
                body: Buffer.concat(chunks).toString(), ms: performance.now() - t,
            }));
            res.on("error", (e) => resolve({ status: "error", error: e.code || e.message, ms: performance.now() - t }));
        });
        req.on("timeout", () => req.destroy(new Error("timeout")));
        req.on("error", (e) => resolve({ status: "error", error: e.code || e.message, ms: performance.now() - t }));
        if (body !== null) req.write(body);
        req.end();
    });
}

// A request of step `step`, retried on 503/429 after Retry-After (times 0.5 to
// 1.5); network errors are retried only when `idempotent`.
async function call(step, method, p, o = {}, idempotent = false) {
    for (let attempt = 0; ; attempt++) {
        requests.total++;
        const h = HASH_STEPS.has(step) ? 1 : 0;
        hashing += h;
        const r = await request(method, p, o);
        hashing -= h;
        countStatus(step, r.status, r.ms);
        if (r.status === 503 || r.status === 429) {
            const ra = Number(r.headers["retry-after"]);
            requests.retried++;
            asleep += h;
            // as the front end does (html/assets/app.js): Retry-After times a
            // random 0.5 to 1.5, so a crowd turned away together is spread
            // around the time it was told, not all after it
            // (--retry-jitter after: 1 to 1.5, as this generator did before)
            const f = opt.retryJitter === "after" ? 1 + Math.random() / 2 : 0.5 + Math.random();
            await sleep((Number.isFinite(ra) && ra >= 0 ? ra : 1) * 1000 * f);
            asleep -= h;
            continue;
        }
        if (r.status === "error" && idempotent && attempt < 5) {
            requests.retried++;
            await sleep(1000 * (1 + Math.random()));
            continue;
        }
        return r;
    }
}

// ---- the SMTP sink --------------------------------------------------------------

const mail = { messages: 0, confirmLinks: 0, withoutLink: 0, perRcpt: new Map(), sessions: 0 };
const waiting = new Map();   // address -> resolve(link)
const links = new Map();     // address -> link, when it came before anyone waited

function qpDecode(s) {
    return s.replace(/=\r?\n/g, "").replace(/=([0-9A-F]{2})/gi, (_, h) => String.fromCharCode(parseInt(h, 16)));
}

function delivered(rcpts, data) {
    mail.messages++;
    const text = qpDecode(data);
    const m = /\/confirm\?token=([A-Za-z0-9_\-.~%]+)/.exec(text);
    for (const r of rcpts) {
        mail.perRcpt.set(r, (mail.perRcpt.get(r) || 0) + 1);
        if (!m) continue;
        const link = `/confirm?token=${m[1]}`;
        const w = waiting.get(r);
        if (w) { waiting.delete(r); w(link); } else links.set(r, link);
    }
    if (m) mail.confirmLinks++; else mail.withoutLink++;
}

const smtp = net.createServer((sock) => {
    mail.sessions++;
    let buf = "";
    let inData = false;
    let data = [];
    let rcpts = [];
    sock.setNoDelay(true);
    sock.write("220 journey-sink ESMTP\r\n");
    sock.on("error", () => {});
    sock.on("data", (chunk) => {
        buf += chunk.toString("latin1");
        for (;;) {
            const nl = buf.indexOf("\r\n");
            if (nl < 0) break;
            const line = buf.slice(0, nl);
            buf = buf.slice(nl + 2);
            if (inData) {
                if (line === ".") {
                    inData = false;
                    delivered(rcpts, data.join("\r\n"));
                    data = [];
                    rcpts = [];
                    sock.write("250 2.0.0 queued\r\n");
                } else {
                    data.push(line.startsWith("..") ? line.slice(1) : line);
                }
                continue;
            }
            const cmd = line.slice(0, 4).toUpperCase();
            if (cmd === "EHLO") sock.write("250-journey-sink\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n");
            else if (cmd === "HELO") sock.write("250 journey-sink\r\n");
            else if (cmd === "MAIL") { rcpts = []; sock.write("250 2.1.0 ok\r\n"); }
            else if (cmd === "RCPT") {
                const a = /<([^>]*)>/.exec(line);
                if (a) rcpts.push(a[1].toLowerCase());
                sock.write("250 2.1.5 ok\r\n");
            } else if (cmd === "DATA") { inData = true; sock.write("354 go ahead\r\n"); }
            else if (cmd === "RSET") { rcpts = []; data = []; sock.write("250 2.0.0 ok\r\n"); }
            else if (cmd === "NOOP") sock.write("250 2.0.0 ok\r\n");
            else if (cmd === "QUIT") { sock.end("221 2.0.0 bye\r\n"); }
            else sock.write("502 5.5.2 not implemented\r\n");
        }
    });
});

function linkFor(addr) {
    const have = links.get(addr);
    if (have) { links.delete(addr); return Promise.resolve(have); }
    return new Promise((resolve) => {
        const timer = setTimeout(() => { waiting.delete(addr); resolve(null); }, opt.emailTimeout * 1000);
        waiting.set(addr, (l) => { clearTimeout(timer); resolve(l); });
    });
}

// ---- the journey ----------------------------------------------------------------

let assets = null;           // the page's assets, read from the first page load

function localAddress(i) {
    const n = i + 1;
    return `127.${10 + ((n >> 16) & 127)}.${(n >> 8) & 255}.${n & 255}`;
}

function fail(user, reason) {
    journeysFailed++;
    failures[reason] = (failures[reason] || 0) + 1;
    return false;
}

async function journey(i) {
    const local = localAddress(i);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 6 });
    try {
        return await walk(i, local, agent);
    } finally {
        agent.destroy();
    }
}

async function walk(i, local, agentOf) {
    const email = `${opt.tag}-${i}@journey.example.com`;
    let t;

    await sleep(opt.think * 1000 * Math.random());

    // page and assets
    t = now();
    const page = await call("page", "GET", "/", { local, agent: agentOf }, true);
    if (page.status !== 200) return fail(i, `page ${page.status}`);
    if (!assets) {
        assets = [...page.body.matchAll(/(?:href|src)="(\/[^"]*\.(?:css|js|svg)[^"]*)"/g)].map((m) => m[1]);
    }
    for (const a of assets) {
        const r = await call("page", "GET", a, { local, agent: agentOf }, true);
        if (r.status !== 200) return fail(i, `asset ${r.status}`);
    }
    steps.page.times.push(now() - t);
    await think();

    // register
    t = now();
    const body = JSON.stringify({ email, password: opt.password, name: `Journey ${i}`,
                                  locale: "en", marketing_consent: false });
    const reg = await call("register", "POST", "/api/register",
                           { local, agent: agentOf, body, headers: { "Content-Type": "application/json" } });
    if (reg.status !== 202) return fail(i, `register ${reg.status}`);
    steps.register.times.push(now() - t);

    // email
    t = now();
    const link = await linkFor(email);
    if (!link) return fail(i, "no email");
    steps.email.times.push(now() - t);
    await think();

    // confirm: the landing page, then its form
    t = now();
    const land = await call("confirm", "GET", link, { local, agent: agentOf }, true);
    if (land.status !== 200) return fail(i, `confirm page ${land.status}`);
    const conf = await call("confirm", "POST", link, { local, agent: agentOf, body: "confirm=1", headers: {
        "Content-Type": "application/x-www-form-urlencoded", Origin: origin } });
    if (conf.status !== 303 || !/result=ok$/.test(conf.headers.location || "")) {
        return fail(i, `confirm ${conf.status} ${conf.headers?.location || ""}`);
    }
    steps.confirm.times.push(now() - t);
    await think();

    // log in
    t = now();
    const login = await call("login", "POST", "/api/login", { local, agent: agentOf,
        body: JSON.stringify({ email, password: opt.password }),
        headers: { "Content-Type": "application/json" } });
    if (login.status !== 200) return fail(i, `login ${login.status}`);
    const cookie = (login.headers["set-cookie"] || []).map((c) => c.split(";")[0]).join("; ");
    if (!cookie) return fail(i, "login without cookie");
    steps.login.times.push(now() - t);

    // the account
    t = now();
    const me = await call("me", "GET", "/api/me", { local, agent: agentOf, headers: { Cookie: cookie } }, true);
    if (me.status !== 200) return fail(i, `me ${me.status}`);
    let who = {};
    try { who = JSON.parse(me.body); } catch { /* counted below */ }
    if ((who.email || "").toLowerCase() !== email) return fail(i, "me: another account");
    steps.me.times.push(now() - t);

    journeysDone++;
    sec(now()).done++;
    return true;
}

// ---- run ------------------------------------------------------------------------

async function main() {
    await new Promise((res, rej) => { smtp.once("error", rej); smtp.listen(opt.smtpPort, "127.0.0.1", res); });
    fs.mkdirSync(opt.out, { recursive: true });
    console.log(`journey: SMTP sink on 127.0.0.1:${smtp.address().port}; ${opt.users} users, `
                + `${opt.concurrency} at once, think ${opt.think} s; tag ${opt.tag}`);
    if (process.send) process.send({ smtpPort: smtp.address().port });

    const cpu0 = process.cpuUsage();
    const loopDelay = monitorEventLoopDelay({ resolution: 10 });
    loopDelay.enable();
    const start = now();
    let next = 0;
    let lastLog = 0;
    const ticker = setInterval(() => {
        const b = sec(now());
        b.active = active;
        b.asleep = Math.max(b.asleep, asleep);
        b.hashing = Math.max(b.hashing, hashing);
        const s = Math.floor(now() / 1000);
        if (s > 0 && s % 10 === 0 && lastLog !== s) {
            lastLog = s;
            console.log(`journey: ${s}s: ${journeysDone} done, ${journeysFailed} failed, ${active} on their way, `
                        + `${requests.total} requests (${requests.retried} retried)`);
        }
    }, 250);

    async function lane() {
        while (next < opt.users) {
            const i = next++;
            active++;
            try { await journey(i); } catch (e) { fail(i, `exception ${e.message}`); }
            active--;
        }
    }
    await Promise.all(Array.from({ length: Math.min(opt.concurrency, opt.users) }, lane));
    const wall = (now() - start) / 1000;
    const cpu = process.cpuUsage(cpu0);
    loopDelay.disable();
    clearInterval(ticker);

    // late or second emails: wait a little for them
    await sleep(opt.settle * 1000);
    smtp.close();

    const dup = [...mail.perRcpt.values()].filter((n) => n > 1).length;
    const ours = [...mail.perRcpt.keys()].filter((a) => a.startsWith(`${opt.tag}-`)).length;
    const stepOut = {};
    for (const s of STEPS) {
        const v = steps[s].times.sort((a, b) => a - b);
        stepOut[s] = { n: v.length, p50: pct(v, 50), p95: pct(v, 95), p99: pct(v, 99),
                       max: v.length ? v[v.length - 1] : 0, status: steps[s].status };
    }
    const timeline = seconds.map((b, i) => {
        const l = b.lat.sort((x, y) => x - y);
        return [i + 1, b.done, b.ok, b.s503, b.s429, b.other, pct(l, 99).toFixed(1), b.active,
                b.asleep, b.hashing];
    });
    let cum = 0;
    fs.writeFileSync(path.join(opt.out, "timeline.dat"),
        "# second done_in_second 2xx_3xx 503 429 other p99_ms active asleep_on_retry_after"
        + " hash_requests_on_their_way done_total\n"
        + timeline.map((r) => { cum += r[1]; return [...r, cum].join(" "); }).join("\n") + "\n");
    const cpuS = (cpu.user + cpu.system) / 1e6;
    const result = {
        tag: opt.tag, users: opt.users, concurrency: opt.concurrency, think_s: opt.think,
        timeline_t0_epoch_ms: T0_EPOCH_MS,
        wall_s: wall, journeys_done: journeysDone, journeys_failed: journeysFailed, failures,
        journeys_per_s: journeysDone / wall, requests, steps: stepOut,
        mail: { messages: mail.messages, confirm_links: mail.confirmLinks, without_link: mail.withoutLink,
                recipients: mail.perRcpt.size, recipients_of_run: ours, duplicated_recipients: dup,
                smtp_sessions: mail.sessions },
        generator_cpu: { user_s: cpu.user / 1e6, system_s: cpu.system / 1e6, total_s: cpuS,
                         share_of_one_core: cpuS / wall, ms_per_journey: journeysDone ? 1000 * cpuS / journeysDone : 0,
                         max_rss_mb: process.resourceUsage().maxRSS / 1024,
                         event_loop_delay_p99_ms: loopDelay.percentile(99) / 1e6,
                         event_loop_delay_max_ms: loopDelay.max / 1e6 },
    };
    fs.writeFileSync(path.join(opt.out, "journey.json"), JSON.stringify(result, null, 2) + "\n");

    const f = (x) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
    console.log(`\njourney: ${journeysDone} of ${opt.users} journeys in ${wall.toFixed(1)} s `
                + `(${result.journeys_per_s.toFixed(2)}/s), ${journeysFailed} failed`
                + (journeysFailed ? ` ${JSON.stringify(failures)}` : ""));
    console.log("step       n      p50 ms   p95 ms   p99 ms   max ms   answers");
    for (const s of STEPS) {
        const o = stepOut[s];
        const st = Object.entries(o.status).map(([k, v]) => `${k}:${v}`).join(" ") || (s === "email" ? "(SMTP)" : "");
        console.log(`${s.padEnd(9)} ${String(o.n).padStart(6)} ${f(o.p50).padStart(8)} ${f(o.p95).padStart(8)} `
                    + `${f(o.p99).padStart(8)} ${f(o.max).padStart(8)}   ${st}`);
    }
    console.log(`emails: ${mail.messages} messages (${mail.confirmLinks} with a confirmation link, `
                + `${mail.withoutLink} without), ${mail.perRcpt.size} recipients, ${dup} got more than one`);
    console.log(`generator CPU: ${cpuS.toFixed(1)} s (user ${result.generator_cpu.user_s.toFixed(1)}, `
                + `system ${result.generator_cpu.system_s.toFixed(1)}) = ${(100 * cpuS / wall).toFixed(1)} % of one core, `
                + `${result.generator_cpu.ms_per_journey.toFixed(2)} ms per journey, SMTP sink included; `
                + `max RSS ${result.generator_cpu.max_rss_mb.toFixed(0)} MB; event loop delay `
                + `p99 ${result.generator_cpu.event_loop_delay_p99_ms.toFixed(0)} ms, `
                + `max ${result.generator_cpu.event_loop_delay_max_ms.toFixed(0)} ms`);
    process.exit(0);
}

main().catch((e) => { console.error(`journey: ${e.stack || e}`); process.exit(2); });
