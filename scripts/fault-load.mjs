// fault-load.mjs — the journey under load while faults are injected, one at a time
// (`make test-faults`, and the short form in t/055-faults.t). Node.js built-ins only.
//
// It starts two nginx instances with the module — a web role (registration, confirm,
// the outbox relay; 2 workers) and a dispatcher role (email and CRM consumers; 2
// workers) — plus, in this process, an SMTP sink with a fault switch and a TCP proxy
// in front of the SQS emulator that can refuse connections. Users walk the journey:
// POST /api/register → the confirmation email reaches the sink → POST /api/confirm
// {"token"} with the token from the email's link → the CRM record reaches the fake CRM.
// Clients retry what was refused (503) or got no answer, with the same address, as a
// browser's user would.
//
// Fault kinds (each run injects one kind at a time, at random moments):
//   pg          pg_ctl restart -m fast | -m immediate
//   sqs         the emulator process SIGSTOPped | the proxy refusing connections
//   smtp        the sink down (refusing) | answering 421 at the greeting | 451 to DATA
//   crm         the fake CRM answering 429 + Retry-After | 500 | 503 | hanging
//   dispatcher  every process of the dispatcher nginx SIGKILLed, then started again
//   worker      one nginx worker SIGKILLed (web, or dispatcher every other time)
//   nginx       HUP | binary upgrade (USR2, WINCH, QUIT), web and dispatcher in turn
//
// Each run ends when every accepted user has an email, every confirmed user a CRM
// record, no outbox row of the run is pending and both queues are empty; it prints
// one line "RESULT {json}" and a table at the end.
//
// Environment (scripts/test.sh exports the first group):
//   XYZ_ROOT XYZ_PGDATA TEST_NGINX_PG_DSN TEST_NGINX_BINARY TEST_NGINX_LOAD_MODULES
//   TEST_NGINX_SQS_ENDPOINT TEST_NGINX_SQS_{EMAIL,CRM}_{QUEUE,DLQ} TEST_NGINX_CRM_URL
//   TEST_NGINX_CRM_ADMIN
//   XYZ_FAULT_PLAN        full: one run per kind, XYZ_FAULT_INJECTIONS each (default 5);
//                         short (default): one run, two kinds, one injection each
//   XYZ_FAULT_KINDS       comma-separated kinds (default: all for full, two at random
//                         for short)
//   XYZ_FAULT_RATE        users per second started (full 8, short 4)
//   XYZ_FAULT_OUTAGE      "MIN-MAX" seconds an outage lasts (full 10-30, short 5-8)
//   XYZ_FAULT_INJECTIONS  injections per run
//   XYZ_FAULT_CAP         xyz_crm_rate of the dispatcher (20): the cap checked
//   XYZ_FAULT_DRAIN       seconds a run may take to drain (240)
//   XYZ_FAULT_SEED        random seed (default: time); printed
import net from "node:net";
import http from "node:http";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawnSync, execFile } from "node:child_process";

const env = process.env;
const need = (k) => {
    if (!env[k]) {
        console.error(`fault-load: ${k} is not set; run through scripts/test.sh`);
        process.exit(2);
    }
    return env[k];
};
const ROOT = need("XYZ_ROOT");
const DSN = need("TEST_NGINX_PG_DSN");
const PGDATA = env.XYZ_PGDATA || "";
const SQS = need("TEST_NGINX_SQS_ENDPOINT").replace(/\/+$/, "");
const Q = {
    email: need("TEST_NGINX_SQS_EMAIL_QUEUE"), crm: need("TEST_NGINX_SQS_CRM_QUEUE"),
    email_dlq: need("TEST_NGINX_SQS_EMAIL_DLQ"), crm_dlq: need("TEST_NGINX_SQS_CRM_DLQ"),
};
const CRM = need("TEST_NGINX_CRM_URL").replace(/\/+$/, "");
const CRM_ADMIN = (env.TEST_NGINX_CRM_ADMIN || `${CRM}/_admin`).replace(/\/+$/, "");
const NGINX = env.TEST_NGINX_BINARY || "/usr/sbin/nginx";
const MODULES = (env.TEST_NGINX_LOAD_MODULES || `${ROOT}/build/ngx_xyz_module.so`)
    .split(/\s+/).filter(Boolean);
const PGBIN = env.PGBIN || "/usr/lib/postgresql/15/bin";

const ALL_KINDS = ["pg", "sqs", "smtp", "crm", "dispatcher", "worker", "nginx"];
const plan = env.XYZ_FAULT_PLAN || "short";
const full = plan === "full";

// a small seeded generator, so that a failing run can be repeated
let seed = Number(env.XYZ_FAULT_SEED || (Date.now() % 1e9));
const seed0 = seed;
function rand() {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
}
const between = (a, b) => a + rand() * (b - a);

let kinds = (env.XYZ_FAULT_KINDS || "").split(",").map((s) => s.trim()).filter(Boolean);
for (const k of kinds) {
    if (!ALL_KINDS.includes(k)) {
        console.error(`fault-load: unknown kind "${k}" (${ALL_KINDS.join(", ")})`);
        process.exit(2);
    }
}
const canPg = PGDATA !== "" && fs.existsSync(PGDATA);
if (kinds.length === 0) {
    const avail = ALL_KINDS.filter((k) => k !== "pg" || canPg);
    if (full) {
        kinds = avail;
    } else {
        const a = avail[Math.floor(rand() * avail.length)];
        const rest = avail.filter((k) => k !== a);
        kinds = [a, rest[Math.floor(rand() * rest.length)]];
    }
}
if (kinds.includes("pg") && !canPg) {
    console.error("fault-load: the pg kind needs XYZ_PGDATA (the private cluster)");
    process.exit(2);
}
const RATE = Number(env.XYZ_FAULT_RATE || (full ? 8 : 4));
const [OUT_MIN, OUT_MAX] = (env.XYZ_FAULT_OUTAGE || (full ? "10-30" : "5-8"))
    .split("-").map(Number);
const INJECTIONS = Number(env.XYZ_FAULT_INJECTIONS || (full ? 5 : 1));
const CAP = Number(env.XYZ_FAULT_CAP || 20);
const DRAIN = Number(env.XYZ_FAULT_DRAIN || 240);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const t0 = Date.now();
const stamp = () => ((Date.now() - t0) / 1000).toFixed(1).padStart(6);
const log = (...a) => console.log(`[${stamp()}]`, ...a);

// ---- free ports ---------------------------------------------------------------------
function freePort() {
    return new Promise((resolve, reject) => {
        const s = net.createServer();
        s.once("error", reject);
        s.listen(0, "127.0.0.1", () => {
            const p = s.address().port;
            s.close(() => resolve(p));
        });
    });
}

// ---- the SMTP sink ---------------------------------------------------------------------
// mode: ok | down (not listening, live connections reset) | 421 (greeting 421, then
// close) | 451 (the message refused after DATA: its outcome is known, not taken)
class Sink {
    constructor() {
        this.mode = "ok";
        this.socks = new Set();
        this.byRcpt = new Map();    // address -> [{msgid, token}]
        this.waiters = new Map();   // address -> callback(token)
        this.total = 0;
        this.refused = 0;
    }
    async start() {
        this.port = await freePort();
        await this.listen();
    }
    listen() {
        return new Promise((resolve, reject) => {
            this.server = net.createServer((s) => this.conn(s));
            this.server.once("error", reject);
            this.server.listen(this.port, "127.0.0.1", resolve);
        });
    }
    async setMode(m) {
        if (m === "down" && this.mode !== "down") {
            this.server.close();
            for (const s of this.socks) s.resetAndDestroy();
        } else if (m !== "down" && this.mode === "down") {
            await this.listen();
        }
        this.mode = m;
    }
    conn(s) {
        this.socks.add(s);
        s.on("close", () => this.socks.delete(s));
        s.on("error", () => {});
        if (this.mode === "421") {
            this.refused++;
            s.end("421 4.3.2 Service not available, try later\r\n");
            return;
        }
        s.write("220 sink ESMTP\r\n");
        let buf = "";
        let data = null;
        let rcpts = [];
        s.on("data", (chunk) => {
            buf += chunk.toString("latin1");
            for (;;) {
                if (data !== null) {
                    const end = buf.indexOf("\r\n.\r\n");
                    const first = buf.startsWith(".\r\n") && data === "" ? 0 : -1;
                    if (end < 0 && first < 0) {
                        if (buf.length > 3) { data += buf.slice(0, -4); buf = buf.slice(-4); }
                        return;
                    }
                    if (first === 0) { buf = buf.slice(3); } else {
                        data += buf.slice(0, end); buf = buf.slice(end + 5);
                    }
                    const msg = data;
                    data = null;
                    if (this.mode === "451") {
                        this.refused++;
                        s.write("451 4.3.0 Temporary failure, try later\r\n");
                    } else {
                        this.take(rcpts, msg);
                        s.write(`250 2.0.0 queued as ${this.total}\r\n`);
                    }
                    rcpts = [];
                    continue;
                }
                const i = buf.indexOf("\r\n");
                if (i < 0) return;
                const line = buf.slice(0, i);
                buf = buf.slice(i + 2);
                const verb = line.slice(0, 4).toUpperCase();
                if (verb === "EHLO") s.write("250-sink\r\n250-8BITMIME\r\n250 SIZE 1000000\r\n");
                else if (verb === "HELO") s.write("250 sink\r\n");
                else if (verb === "MAIL") { rcpts = []; s.write("250 2.1.0 ok\r\n"); }
                else if (verb === "RCPT") {
                    const m = /<([^>]*)>/.exec(line);
                    rcpts.push((m ? m[1] : "").toLowerCase());
                    s.write("250 2.1.5 ok\r\n");
                } else if (verb === "DATA") { data = ""; s.write("354 go ahead\r\n"); }
                else if (verb === "RSET") { rcpts = []; s.write("250 ok\r\n"); }
                else if (verb === "NOOP") s.write("250 ok\r\n");
                else if (verb === "QUIT") { s.end("221 bye\r\n"); return; }
                else s.write("502 5.5.2 unknown command\r\n");
            }
        });
    }
    take(rcpts, raw) {
        this.total++;
        const msgid = (/^Message-ID:\s*<([^>]+)>/mi.exec(raw) || [])[1] || "";
        // the text part is quoted-printable: undo soft breaks and =XX
        const qp = raw.replace(/=\r\n/g, "")
            .replace(/=([0-9A-F]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));
        const token = (/\/confirm\?token=([A-Za-z0-9_-]{43})/.exec(qp) || [])[1] || null;
        for (const r of rcpts) {
            if (!this.byRcpt.has(r)) this.byRcpt.set(r, []);
            this.byRcpt.get(r).push({ msgid, token });
            const w = this.waiters.get(r);
            if (w && token) { this.waiters.delete(r); w(token); }
        }
    }
    waitFor(addr) {
        const got = this.byRcpt.get(addr);
        if (got) {
            const m = got.find((x) => x.token);
            if (m) return Promise.resolve(m.token);
        }
        return new Promise((resolve) => this.waiters.set(addr, resolve));
    }
    close() {
        if (this.mode !== "down") this.server.close();
        for (const s of this.socks) s.destroy();
    }
}

// ---- the TCP proxy in front of the SQS emulator ------------------------------------------
class Proxy {
    constructor(target) {
        const u = new URL(target);
        this.host = u.hostname;
        this.tport = Number(u.port);
        this.mode = "pass";
        this.socks = new Set();
    }
    async start() {
        this.port = await freePort();
        await this.listen();
    }
    listen() {
        return new Promise((resolve, reject) => {
            this.server = net.createServer((c) => this.conn(c));
            this.server.once("error", reject);
            this.server.listen(this.port, "127.0.0.1", resolve);
        });
    }
    conn(c) {
        const u = net.connect(this.tport, this.host);
        for (const s of [c, u]) {
            this.socks.add(s);
            s.on("close", () => this.socks.delete(s));
            s.on("error", () => { c.destroy(); u.destroy(); });
        }
        c.on("close", () => u.destroy());
        u.on("close", () => c.destroy());
        c.pipe(u);
        u.pipe(c);
    }
    async refuse(on) {
        if (on && this.mode === "pass") {
            this.mode = "refuse";
            this.server.close();
            for (const s of this.socks) s.resetAndDestroy();
        } else if (!on && this.mode === "refuse") {
            await this.listen();
            this.mode = "pass";
        }
    }
    close() {
        if (this.mode === "pass") this.server.close();
        for (const s of this.socks) s.destroy();
    }
}

// ---- HTTP helpers ------------------------------------------------------------------------
function request(url, { method = "GET", body = null, headers = {}, timeout = 15000 } = {}) {
    return new Promise((resolve) => {
        const u = new URL(url);
        const data = body === null ? null
            : typeof body === "string" ? body : JSON.stringify(body);
        const h = { ...headers, Connection: "close" };
        if (data !== null) {
            h["Content-Length"] = Buffer.byteLength(data);
            h["Content-Type"] ||= "application/json";
        }
        const req = http.request({ host: u.hostname, port: u.port, path: u.pathname + u.search,
                                   method, headers: h, agent: false }, (res) => {
            const chunks = [];
            res.on("data", (c) => chunks.push(c));
            res.on("end", () => resolve({ status: res.statusCode, headers: res.headers,
                                          body: Buffer.concat(chunks).toString() }));
            res.on("error", (e) => resolve({ status: 0, error: e.code || e.message }));
        });
        req.setTimeout(timeout, () => req.destroy(new Error("timeout")));
        req.on("error", (e) => resolve({ status: 0, error: e.code || e.message }));
        if (data !== null) req.write(data);
        req.end();
    });
}

async function sqs(op, body) {
    const r = await request(`${SQS}/`, {
        method: "POST", body,
        headers: { "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": `AmazonSQS.${op}` },
    });
    if (r.status !== 200) throw new Error(`SQS ${op}: ${r.status} ${r.error || r.body}`);
    return JSON.parse(r.body || "{}");
}
async function queueDepth(url) {
    const a = (await sqs("GetQueueAttributes", { QueueUrl: url, AttributeNames: ["All"] }))
        .Attributes || {};
    return Number(a.ApproximateNumberOfMessages || 0)
        + Number(a.ApproximateNumberOfMessagesNotVisible || 0)
        + Number(a.ApproximateNumberOfMessagesDelayed || 0);
}
async function crmAdmin(method, p, body = null) {
    const r = await request(`${CRM_ADMIN}${p}`, { method, body });
    if (r.status !== 200) throw new Error(`fake CRM ${method} ${p}: ${r.status} ${r.error || r.body}`);
    return JSON.parse(r.body);
}

function psql(sql) {
    return new Promise((resolve, reject) => {
        execFile("psql", ["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", DSN, "-c", sql],
                 (err, out, errout) => (err ? reject(new Error(errout || err.message))
                                            : resolve(out.trim())));
    });
}

// ---- nginx instances -------------------------------------------------------------------
function procAlive(pid) {
    try {
        const st = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
        return !/^\d+ \(.*\) Z/.test(st);
    } catch {
        return false;
    }
}
function children(pid) {
    const out = [];
    for (const d of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(d)) continue;
        try {
            const st = fs.readFileSync(`/proc/${d}/stat`, "utf8");
            const f = st.slice(st.lastIndexOf(")") + 2).split(" ");
            if (Number(f[1]) === pid && f[0] !== "Z") out.push(Number(d));
        } catch { /* gone */ }
    }
    return out;
}

const instances = new Set();    // stopped by cleanup() if a run fails half-way

class Nginx {
    constructor(name, port, http) {
        instances.add(this);
        this.name = name;
        this.port = port;
        this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `xyz-fault-${name}-`));
        for (const d of ["logs", "conf"]) fs.mkdirSync(`${this.dir}/${d}`);
        const user = process.getuid() === 0 ? "user root;\n" : "";
        fs.writeFileSync(`${this.dir}/conf/nginx.conf`, `
${MODULES.map((m) => `load_module ${m};`).join("\n")}
${user}daemon on;
master_process on;
worker_processes 2;
pid logs/nginx.pid;
error_log logs/error.log notice;
thread_pool xyz_hash threads=1 max_queue=4096;
env AWS_ACCESS_KEY_ID=AKIDTEST;
env AWS_SECRET_ACCESS_KEY=test-secret;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path ${this.dir}/body;
    xyz_pg_dsn "${DSN}";
    xyz_pg_backoff 100ms 1s;
    xyz_hash_thread_pool xyz_hash;
    xyz_argon2id m=1024 t=1 p=1;
${http}
    server {
        listen 127.0.0.1:${port};
        location = /api/register { xyz_register; }
        location = /api/confirm { xyz_confirm; }
        location = /metrics { xyz_metrics; }
    }
}
`);
    }
    args() { return ["-p", `${this.dir}/`, "-c", `${this.dir}/conf/nginx.conf`]; }
    start() {
        const r = spawnSync(NGINX, this.args(), { encoding: "utf8" });
        if (r.status !== 0) throw new Error(`${this.name} nginx did not start: ${r.stderr}`);
    }
    pid() {
        try { return Number(fs.readFileSync(`${this.dir}/logs/nginx.pid`, "utf8")); } catch { return 0; }
    }
    workers() { return children(this.pid()); }
    async waitGone(pid, secs) {
        for (let i = 0; i < secs * 10 && procAlive(pid); i++) await sleep(100);
        return !procAlive(pid);
    }
    async stop() {
        const pid = this.pid();
        if (!pid || !procAlive(pid)) return;
        const ws = this.workers();
        process.kill(pid, "SIGQUIT");
        if (!(await this.waitGone(pid, 30))) process.kill(pid, "SIGKILL");
        for (const w of ws) if (procAlive(w)) process.kill(w, "SIGKILL");
    }
    errors() {
        try {
            return fs.readFileSync(`${this.dir}/logs/error.log`, "utf8").split("\n")
                .filter((l) => /\[(alert|crit|emerg)\]/.test(l));
        } catch { return []; }
    }
}

// ---- fault injection -------------------------------------------------------------------
const counters = {};    // kind/variant -> injections
function pgCtl(args) {
    const r = spawnSync("runuser", ["-u", "postgres", "--", `${PGBIN}/pg_ctl`, "-D", PGDATA,
                                    "-l", `${PGDATA}/server.log`, "-w", "-t", "60", "-s", ...args],
                        { cwd: "/", encoding: "utf8" });
    if (r.status !== 0) throw new Error(`pg_ctl ${args.join(" ")}: ${r.stderr}`);
}
function sqsPid() {
    return Number(fs.readFileSync(`${ROOT}/.run/sqs/pid`, "utf8"));
}
const outage = () => between(OUT_MIN, OUT_MAX) * 1000;

let stoppedSqs = 0;
let inflight = 0;               // journey requests waiting for their answer
async function inject(kind, n, ctx) {
    const { sink, proxy, web, disp } = ctx;
    let v;
    switch (kind) {
    case "pg":
        v = ["fast", "immediate"][n % 2];
        log(`fault: pg_ctl restart -m ${v}`);
        pgCtl(["restart", "-m", v]);
        break;
    case "sqs": {
        v = ["sigstop", "refuse"][n % 2];
        const d = outage();
        log(`fault: SQS ${v} for ${(d / 1000).toFixed(1)} s`);
        if (v === "sigstop") {
            stoppedSqs = sqsPid();
            process.kill(stoppedSqs, "SIGSTOP");
            await sleep(d);
            process.kill(stoppedSqs, "SIGCONT");
            stoppedSqs = 0;
        } else {
            await proxy.refuse(true);
            await sleep(d);
            await proxy.refuse(false);
        }
        break;
    }
    case "smtp": {
        v = ["down", "421", "451"][n % 3];
        const d = outage();
        log(`fault: SMTP ${v} for ${(d / 1000).toFixed(1)} s`);
        await sink.setMode(v);
        await sleep(d);
        await sink.setMode("ok");
        break;
    }
    case "crm": {
        v = ["429", "500", "503", "hang"][n % 4];
        const d = outage();
        log(`fault: CRM ${v} for ${(d / 1000).toFixed(1)} s`);
        const f = v === "429" ? { mode: "429", retry_after: 2 }
            : v === "hang" ? { mode: "hang" }
            : { mode: "5xx", status: Number(v), retry_after: null };
        await crmAdmin("POST", "/fault", f);
        await sleep(d);
        await crmAdmin("POST", "/fault", { mode: "none" });
        break;
    }
    case "dispatcher": {
        v = "sigkill";
        const pid = disp.pid();
        const all = [pid, ...disp.workers()];
        log(`fault: SIGKILL dispatcher nginx (${all.join(" ")})`);
        for (const p of all) process.kill(p, "SIGKILL");
        for (const p of all) await disp.waitGone(p, 5);
        await sleep(between(1000, 3000));
        disp.start();
        break;
    }
    case "worker": {
        const target = n % 2 === 0 ? web : disp;
        v = target.name;
        // mid-request: wait (up to 3 s) for a journey request in flight
        for (let i = 0; i < 3000 && target === web && inflight === 0; i++) await sleep(1);
        const ws = target.workers();
        const w = ws[Math.floor(rand() * ws.length)];
        log(`fault: SIGKILL ${target.name} worker ${w}`);
        process.kill(w, "SIGKILL");
        break;
    }
    case "nginx": {
        const target = [web, web, disp, disp][n % 4];
        const op = ["hup", "upgrade"][n % 2];
        v = `${op}-${target.name}`;
        const old = target.pid();
        if (op === "hup") {
            log(`fault: HUP ${target.name} (${old})`);
            process.kill(old, "SIGHUP");
            break;
        }
        log(`fault: binary upgrade of ${target.name} (USR2, WINCH, QUIT to ${old})`);
        process.kill(old, "SIGUSR2");
        for (let i = 0; i < 100 && (target.pid() === old || !target.pid()); i++) await sleep(100);
        if (target.pid() === old) throw new Error("the new master did not start");
        await sleep(1000);
        process.kill(old, "SIGWINCH");
        await sleep(1000);
        process.kill(old, "SIGQUIT");
        if (!(await target.waitGone(old, 60))) throw new Error("the old master did not exit");
        break;
    }
    default:
        throw new Error(kind);
    }
    const key = `${kind}/${v}`;
    counters[key] = (counters[key] || 0) + 1;
    return v;
}

// ---- one run -----------------------------------------------------------------------------
async function oneRun(index, runKinds, injections) {
    const tag = `f${index}${Date.now().toString(36)}`;
    const sink = new Sink();
    await sink.start();
    const proxy = new Proxy(SQS);
    await proxy.start();
    const ep = `http://127.0.0.1:${proxy.port}`;
    const relay = `
    xyz_sqs_endpoint ${ep};
    xyz_sqs_queue email ${Q.email} dlq=${Q.email_dlq};
    xyz_sqs_queue crm ${Q.crm} dlq=${Q.crm_dlq};
    xyz_sqs_timeout 3s;
    xyz_outbox_lease 3s;
    xyz_outbox_sweep 300ms 2s;`;
    const web = new Nginx("web", await freePort(), relay);
    const disp = new Nginx("dispatcher", await freePort(), `${relay}
    xyz_dispatch email crm;
    xyz_dispatch_lease 10s;
    xyz_dispatch_poll 1s;
    xyz_dispatch_backoff 1s 4s;
    xyz_public_url http://signup.test/;
    xyz_smtp_url smtp://127.0.0.1:${sink.port};
    xyz_mail_from "XYZ <no-reply@xyz.example>";
    xyz_mail_templates ${ROOT}/conf/templates;
    xyz_smtp_timeout 3s;
    xyz_crm_url ${CRM}/contacts;
    # everything runs on one small shared machine here, where a call can
    # reach the fake CRM 50-100 ms after its slot: the margin for that
    xyz_crm_rate ${CAP} margin=100ms;
    xyz_crm_timeout 1s;
    xyz_crm_breaker 3 2s;`);

    for (const q of Object.values(Q)) await sqs("PurgeQueue", { QueueUrl: q });
    await crmAdmin("POST", "/reset", {});
    await crmAdmin("POST", "/limit", { limit: 100 });
    web.start();
    disp.start();
    const ctx = { sink, proxy, web, disp };

    const base = `http://127.0.0.1:${web.port}`;
    const users = [];
    const other = {};           // "route status" -> count, for answers not 2xx/3xx/503
    let noAnswer = 0;
    let refused503 = 0;
    const note = (route, r) => {
        if (r.status === 0) { noAnswer++; return; }
        if (r.status === 503) { refused503++; return; }
        if (r.status >= 200 && r.status < 400) return;
        const k = `${route} ${r.status}`;
        other[k] = (other[k] || 0) + 1;
    };

    const ask = async (url, opt) => {
        inflight++;
        try { return await request(url, opt); } finally { inflight--; }
    };

    async function journey(u) {
        const give = Date.now() + (DRAIN + 120) * 1000;
        let unknown = 0;
        while (Date.now() < give) {
            const r = await ask(`${base}/api/register`, {
                method: "POST",
                body: { email: u.email, password: "correct horse battery staple",
                        name: "Fault Test", locale: "en" },
            });
            note("register", r);
            if (r.status === 202) { u.accepted = true; break; }
            if (r.status === 0) { unknown++; u.unknown = unknown; await sleep(500); continue; }
            if (r.status === 503) { await sleep(1000 * Number(r.headers["retry-after"] || 1)); continue; }
            u.failed = `register ${r.status}`;
            return;
        }
        if (!u.accepted) return;
        const token = await sink.waitFor(u.email);
        u.mailed = true;
        let cunknown = 0;
        while (Date.now() < give) {
            const r = await ask(`${base}/api/confirm`, { method: "POST", body: { token } });
            if (r.status === 410 && cunknown > 0) { u.confirmed = true; return; }
            note("confirm", r);
            if (r.status === 200) { u.confirmed = true; return; }
            if (r.status === 0) { cunknown++; await sleep(500); continue; }
            if (r.status === 503) { await sleep(1000 * Number(r.headers["retry-after"] || 1)); continue; }
            u.failed = `confirm ${r.status}`;
            return;
        }
    }

    // the load: RATE users a second until the injections are done
    let loading = true;
    const pending = [];
    const loader = (async () => {
        const start = Date.now();
        let n = 0;
        while (loading) {
            const due = start + (n * 1000) / RATE;
            if (due > Date.now()) await sleep(due - Date.now());
            const u = { email: `u${n}-${tag}@example.com` };
            users.push(u);
            pending.push(journey(u).finally(() => { u.done = true; }));
            n++;
        }
    })();

    const injected = [];
    const startedAt = Date.now();
    await sleep(3000);
    try {
        for (let i = 0; i < injections; i++) {
            for (const kind of runKinds) {
                await sleep(between(2000, 8000));
                injected.push(`${kind}/${await inject(kind, i, ctx)}`);
            }
        }
        await sleep(3000);
    } finally {
        loading = false;
        await loader;
    }
    const loadSecs = (Date.now() - startedAt) / 1000;
    log(`load stopped: ${users.length} users started in ${loadSecs.toFixed(0)} s; draining`);

    // drain: every journey over, nothing pending in the outbox or the queues, every
    // confirmed user in the CRM
    const deadline = Date.now() + DRAIN * 1000;
    let drained = false;
    let why = "";
    while (Date.now() < deadline) {
        const open = users.filter((u) => !u.done).length;
        const [ob, crmN, qe, qc] = await Promise.all([
            psql(`SELECT count(*) FROM outbox WHERE published_at IS NULL AND parked_at IS NULL `
                 + `AND payload->>'email' LIKE '%${tag}@example.com'`).catch(() => "?"),
            crmAdmin("GET", "/stats").then((s) => s.records).catch(() => -1),
            queueDepth(Q.email).catch(() => -1), queueDepth(Q.crm).catch(() => -1),
        ]);
        const confirmed = users.filter((u) => u.confirmed).length;
        why = `journeys open ${open}, outbox pending ${ob}, queues ${qe}+${qc}, `
            + `CRM ${crmN}/${confirmed}`;
        if (open === 0 && ob === "0" && qe === 0 && qc === 0 && crmN >= confirmed) {
            drained = true;
            break;
        }
        await sleep(1000);
    }
    log(drained ? "drained" : `NOT drained after ${DRAIN} s: ${why}`);
    await sleep(3000);          // late duplicates, if any, arrive now

    // the figures
    const accepted = users.filter((u) => u.accepted);
    const acceptedSet = new Set(accepted.map((u) => u.email));
    let mails = 0;
    let mailDup = 0;
    for (const [addr, ms] of sink.byRcpt) {
        if (!addr.endsWith(`${tag}@example.com`)) continue;
        mails++;
        mailDup += ms.length - 1;
    }
    const records = (await crmAdmin("GET", "/records"))
        .filter((r) => r.key.endsWith(`${tag}@example.com`));
    const stats = await crmAdmin("GET", "/stats");
    const crmDup = records.reduce((a, r) => a + r.upserts - 1, 0);
    const confirmed = users.filter((u) => u.confirmed).length;
    const inDb = Number(await psql(`SELECT count(*) FROM users WHERE email_normalized `
                                   + `LIKE '%${tag}@example.com'`));
    const confirmedInDb = Number(await psql(`SELECT count(*) FROM users WHERE email_normalized `
                                            + `LIKE '%${tag}@example.com' AND status = 'confirmed'`));
    const dlq = (await queueDepth(Q.email_dlq)) + (await queueDepth(Q.crm_dlq));
    const parked = Number(await psql(`SELECT count(*) FROM outbox WHERE parked_at IS NOT NULL `
                                     + `AND payload->>'email' LIKE '%${tag}@example.com'`));
    const lostMail = accepted.filter((u) => !sink.byRcpt.has(u.email)).length;
    const recKeys = new Set(records.map((r) => r.key));
    const lostCrm = users.filter((u) => u.confirmed && !recKeys.has(u.email)).length;
    const errs = [...web.errors(), ...disp.errors()]
        .filter((l) => !/exited on signal 9/.test(l));

    await web.stop();
    await disp.stop();
    instances.delete(web);
    instances.delete(disp);
    sink.close();
    proxy.close();
    await Promise.race([Promise.all(pending), sleep(2000)]);

    const res = {
        run: index, kinds: runKinds, injected, seed: seed0, rate: RATE, load_seconds: loadSecs,
        started: users.length, accepted: accepted.length, users_in_db: inDb,
        emails: mails, email_duplicates: mailDup, lost_emails: lostMail,
        confirmed, confirmed_in_db: confirmedInDb,
        crm_records: records.length, crm_duplicates: crmDup, lost_crm: lostCrm,
        busiest_crm_second: stats.max_calls_in_any_second,
        busiest_crm_second_accepted: stats.max_accepted_in_any_second, cap: CAP,
        crm_calls: stats.calls, crm_faults: stats.faults, crm_429: stats.rejected_429,
        dead_lettered: dlq, parked, refused_503: refused503, no_answer: noAnswer,
        unknown_register: users.filter((u) => u.unknown).length,
        other_answers: other, failed: users.filter((u) => u.failed).map((u) => u.failed),
        drained, drain_state: why, nginx_alerts: errs.slice(0, 10),
        extra_in_sink: [...sink.byRcpt.keys()].filter((a) => a.endsWith(`${tag}@example.com`)
                                                             && !acceptedSet.has(a)).length,
    };
    if (!drained) {
        res.web_dir = web.dir;
        res.dispatcher_dir = disp.dir;
    } else {
        fs.rmSync(web.dir, { recursive: true, force: true });
        fs.rmSync(disp.dir, { recursive: true, force: true });
    }
    console.log(`RESULT ${JSON.stringify(res)}`);
    return res;
}

// ---- main --------------------------------------------------------------------------------
function cleanup() {
    for (const n of instances) {
        for (const f of ["nginx.pid", "nginx.pid.oldbin"]) {
            try {
                process.kill(Number(fs.readFileSync(`${n.dir}/logs/${f}`, "utf8")), "SIGTERM");
            } catch { /* not running */ }
        }
    }
    if (stoppedSqs) {
        try { process.kill(stoppedSqs, "SIGCONT"); } catch { /* gone */ }
    }
    if (canPg) {
        const st = spawnSync("runuser", ["-u", "postgres", "--", `${PGBIN}/pg_ctl`, "-D", PGDATA,
                                         "status"], { cwd: "/" });
        if (st.status !== 0) {
            try { pgCtl(["start"]); } catch { /* reported by the runs */ }
        }
    }
}
for (const sig of ["SIGINT", "SIGTERM"]) {
    process.on(sig, () => { cleanup(); process.exit(130); });
}

log(`fault plan ${plan}: kinds ${kinds.join(", ")}; ${RATE} users/s; outages ${OUT_MIN}-${OUT_MAX} s; `
    + `${INJECTIONS} injection(s) per kind; CRM cap ${CAP}/s; seed ${seed0}`);
const results = [];
try {
    const runs = full ? kinds.map((k) => [k]) : [kinds];
    for (let i = 0; i < runs.length; i++) {
        log(`run ${i + 1}/${runs.length}: ${runs[i].join(" + ")}`);
        const r = await oneRun(i + 1, runs[i], INJECTIONS);
        results.push(r);
        log(`run ${i + 1}: accepted ${r.accepted}, emails ${r.emails} (+${r.email_duplicates}), `
            + `CRM ${r.crm_records} (+${r.crm_duplicates}), busiest CRM second `
            + `${r.busiest_crm_second}/${r.cap}, lost ${r.lost_emails}+${r.lost_crm}, `
            + `other answers ${JSON.stringify(r.other_answers)}`);
    }
} finally {
    cleanup();
}

const head = ["kind", "injections", "accepted", "emails", "CRM records", "duplicates",
              "busiest CRM s", "lost", "503s", "no answer", "other answers"];
const rows = results.map((r) => [
    r.kinds.join("+"), r.injected.length, r.accepted, r.emails, r.crm_records,
    `${r.email_duplicates}+${r.crm_duplicates}`, `${r.busiest_crm_second}/${r.cap}`,
    r.lost_emails + r.lost_crm + (r.accepted - r.confirmed), r.refused_503, r.no_answer,
    Object.entries(r.other_answers).map(([k, v]) => `${k}:${v}`).join(" ") || "-",
]);
const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
const line = (r) => `| ${r.map((c, i) => String(c).padEnd(w[i])).join(" | ")} |`;
console.log("");
console.log(line(head));
console.log(`|${w.map((x) => "-".repeat(x + 2)).join("|")}|`);
for (const r of rows) console.log(line(r));
console.log("");
console.log(`injections: ${Object.entries(counters).map(([k, v]) => `${k} ${v}`).join(", ")}`);
console.log(`load average: ${os.loadavg().map((x) => x.toFixed(2)).join(" ")} `
            + `(${os.cpus().length} CPUs; a shared machine disturbs timings, not the counts)`);
process.exit(0);
