// open-loop.mjs — open-loop (fixed arrival rate) registration load for
// `make bench-open` (scripts/bench-open.sh), and the queueing model next to it.
//
//   node bench/open-loop.mjs --url http://127.0.0.1:PORT --rate R --duration S \
//        [--connections K] [--tag TAG] [--drain S] [--out FILE]
//   node bench/open-loop.mjs --model --rate R --capacity C --servers W
//
// Load: POST /api/register with a new address each time, arrivals a Poisson
// process of rate R per second (exponential gaps) for S seconds, whatever the
// server does: a slow answer does not hold the next request back (that is a
// closed loop, which measures its own queue). Requests go out over up to K
// keep-alive connections (opened before the clock starts, used in turn); a
// request that finds them all busy waits in the generator, and that wait counts.
// Latency is from the planned arrival time to the end of the answer, so that
// neither the generator's lag nor a full connection pool hides any time
// ("coordinated omission"); the generator's own lag (send time - planned time)
// is reported too, and the p99 counted from the actual send (p99_from_send_ms:
// what the server alone took, when the generator itself fell behind). After S seconds the requests still out get --drain seconds to
// finish; any later is counted as unanswered.
//
// Output, one JSON line on stdout (and in --out): target and achieved rate,
// answers by status, goodput (2xx answers completed within the S seconds, per
// second), p50/p90/p99/max of the 2xx answers' latency,
// generator lag p99, the generator's CPU (process.cpuUsage).
//
// --model: the queueing model's prediction for the same numbers: W workers
// (nginx worker processes, each with one hashing thread and its own queue;
// connections, hence requests, spread evenly), service time D = W / C (C: the
// capacity measured by the closed loop), each worker an M/D/1 queue with
// arrivals R / W. The waiting-time distribution is simulated (Lindley's
// recursion, 2,000,000 arrivals); p50 and p99 of wait + D; the mean also from
// Pollaczek-Khinchine; and, as a lower bound, the W servers sharing one queue
// (M/D/W, simulated the same way: shared_p50_ms, shared_p99_ms). At R >= C the
// queue grows without bound: "unstable".

import http from "node:http";
import fs from "node:fs";

function options(argv) {
    const o = { url: "", rate: 0, duration: 15, connections: 512, tag: "", drain: 30, out: "",
                model: false, capacity: 0, servers: 2, timeout: 60 };
    for (let i = 2; i < argv.length; i++) {
        const k = argv[i].replace(/^--/, "");
        if (k === "model") { o.model = true; continue; }
        if (!(k in o)) throw new Error(`unknown option ${argv[i]}`);
        const v = argv[++i];
        o[k] = typeof o[k] === "number" ? Number(v) : v;
    }
    if (!(o.rate > 0)) throw new Error("--rate must be > 0");
    return o;
}

const opt = options(process.argv);
const pct = (s, p) => (s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] : 0);

// ---- the model ------------------------------------------------------------------

function model() {
    const W = opt.servers, C = opt.capacity, R = opt.rate;
    const D = W / C;                  // seconds per request of one worker
    const lam = R / W;                // arrivals per second at one worker
    const rho = lam * D;
    if (rho >= 1) return { rho, D_ms: D * 1000, unstable: true };
    const n = 2000000;
    const s = new Float64Array(n);
    let w = 0;
    for (let i = 0; i < n; i++) {
        s[i] = w + D;
        const gap = -Math.log(1 - Math.random()) / lam;
        w = Math.max(0, w + D - gap);
    }
    s.sort();
    // the same W servers sharing one queue (M/D/W): a lower bound, what one
    // queue for all hashing threads would give
    const c = new Float64Array(n);
    const free = new Float64Array(W);
    let t = 0;
    for (let i = 0; i < n; i++) {
        t += -Math.log(1 - Math.random()) / R;
        let k = 0;
        for (let j = 1; j < W; j++) if (free[j] < free[k]) k = j;
        const begin = Math.max(t, free[k]);
        free[k] = begin + D;
        c[i] = free[k] - t;
    }
    c.sort();
    return { rho, D_ms: D * 1000, p50_ms: 1000 * pct(s, 50), p99_ms: 1000 * pct(s, 99),
             mean_ms: 1000 * (D + (rho * D) / (2 * (1 - rho))),
             shared_p50_ms: 1000 * pct(c, 50), shared_p99_ms: 1000 * pct(c, 99), unstable: false };
}

if (opt.model) {
    console.log(JSON.stringify(model()));
    process.exit(0);
}

// ---- the load -------------------------------------------------------------------

const base = new URL(opt.url);
const tag = opt.tag || "o" + Math.random().toString(16).slice(2, 10);
const agent = new http.Agent({ keepAlive: true, maxSockets: opt.connections,
                               maxFreeSockets: opt.connections, scheduling: "fifo" });

function send(method, path, body) {
    return new Promise((resolve) => {
        const h = { Host: base.host };
        if (body) { h["Content-Type"] = "application/json"; h["Content-Length"] = Buffer.byteLength(body); }
        const req = http.request({ host: base.hostname, port: base.port, method, path, headers: h, agent,
                                   timeout: opt.timeout * 1000 }, (res) => {
            res.on("data", () => {});
            res.on("end", () => resolve(res.statusCode));
            res.on("error", () => resolve("error"));
        });
        req.on("timeout", () => req.destroy(new Error("timeout")));
        req.on("error", () => resolve("error"));
        if (body) req.write(body);
        req.end();
    });
}

async function main() {
    // open the connections before the clock starts
    await Promise.all(Array.from({ length: opt.connections }, () => send("GET", "/index.html")));

    const status = {};
    const lat2xx = [];
    const latSend = [];          // from the actual send: without the generator's lag
    const lag = [];
    let inWindow2xx = 0, sent = 0, answered = 0, n = 0;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const end = opt.duration * 1000;
    let next = 0;                                  // planned time of the next arrival, ms
    const pending = new Set();

    await new Promise((done) => {
        function tick() {
            const now = performance.now() - t0;
            while (next <= now && next < end) {
                const planned = next;
                const body = JSON.stringify({ email: `${tag}-${n++}@open.example.com`,
                    password: "open loop password long enough", name: "Open Loop",
                    locale: "en", marketing_consent: false });
                lag.push(now - planned);
                sent++;
                const sentAt = performance.now() - t0;
                const p = send("POST", "/api/register", body).then((st) => {
                    const t = performance.now() - t0;
                    answered++;
                    status[st] = (status[st] || 0) + 1;
                    if (typeof st === "number" && st >= 200 && st < 300) {
                        lat2xx.push(t - planned);
                        latSend.push(t - sentAt);
                        if (t <= end) inWindow2xx++;
                    }
                    pending.delete(p);
                });
                pending.add(p);
                next += (-Math.log(1 - Math.random()) / opt.rate) * 1000;
            }
            if (next >= end) return done();
            setTimeout(tick, Math.max(0, Math.min(1, next - now)));
        }
        tick();
    });
    const sendWall = (performance.now() - t0) / 1000;
    const drained = Promise.all(pending);
    await Promise.race([drained, new Promise((r) => setTimeout(r, opt.drain * 1000))]);
    const cpu = process.cpuUsage(cpu0);
    const wall = (performance.now() - t0) / 1000;
    lat2xx.sort((a, b) => a - b);
    latSend.sort((a, b) => a - b);
    lag.sort((a, b) => a - b);
    const r = {
        target_rate: opt.rate, duration_s: opt.duration, sent, achieved_rate: sent / sendWall,
        answered, unanswered: sent - answered, status,
        goodput: inWindow2xx / opt.duration,
        p50_ms: pct(lat2xx, 50), p90_ms: pct(lat2xx, 90), p99_ms: pct(lat2xx, 99),
        max_ms: lat2xx.length ? lat2xx[lat2xx.length - 1] : 0,
        p99_from_send_ms: pct(latSend, 99), lag_p99_ms: pct(lag, 99), connections: opt.connections,
        generator_cpu_s: (cpu.user + cpu.system) / 1e6,
        generator_cpu_share: (cpu.user + cpu.system) / 1e6 / wall,
    };
    const line = JSON.stringify(r);
    console.log(line);
    if (opt.out) fs.writeFileSync(opt.out, line + "\n");
    agent.destroy();
    process.exit(0);
}

main().catch((e) => { console.error(`open-loop: ${e.stack || e}`); process.exit(2); });
