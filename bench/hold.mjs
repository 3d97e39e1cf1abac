// hold.mjs — holds N keep-alive connections to nginx for scripts/worker-memory.sh.
//
//   node bench/hold.mjs --url http://127.0.0.1:PORT --n N --tag TAG
//
// Reads commands on stdin, one a line, and answers "ok <what>" on stdout when
// done:
//   idle      each connection sends GET / and keeps the connection open
//   one       the first connection sends one registration and waits for its
//             answer (the worker learns how long a hash takes, as it does
//             when a crowd's registrations come over a few seconds)
//   post      each connection sends POST /api/register (a new address each) and
//             does not wait for the answer (the requests wait in the hash queue)
//   answers   waits until every POST has its answer; prints the statuses
//   close     closes every connection
import net from "node:net";
import readline from "node:readline";

const o = { url: "", n: 1000, tag: "h" + Date.now() };
for (let i = 2; i < process.argv.length; i += 2) o[process.argv[i].slice(2)] = process.argv[i + 1];
const u = new URL(o.url);
const n = Number(o.n);
const socks = [];
const pending = new Map();          // socket -> resolve of the current request
const status = {};

function connect(i) {
    return new Promise((resolve, reject) => {
        const local = `127.${1 + (i >> 16 & 0xff)}.${i >> 8 & 0xff}.${i & 0xff}`;
        const s = net.connect({ host: u.hostname, port: Number(u.port), localAddress: local });
        s.setNoDelay(true);
        let buf = "";
        s.on("data", (d) => {
            buf += d.toString("latin1");
            const h = buf.indexOf("\r\n\r\n");
            if (h < 0) return;
            const len = Number((/content-length:\s*(\d+)/i.exec(buf.slice(0, h)) || [0, 0])[1]);
            if (buf.length < h + 4 + len) return;
            const code = buf.slice(9, 12);
            buf = buf.slice(h + 4 + len);
            const r = pending.get(s);
            pending.delete(s);
            if (r) r(code);
        });
        s.on("error", (e) => { const r = pending.get(s); pending.delete(s); if (r) r("err"); });
        s.on("connect", () => resolve(s));
        s.once("error", reject);
    });
}

function send(s, req) {
    return new Promise((resolve) => { pending.set(s, resolve); s.write(req); });
}

const rl = readline.createInterface({ input: process.stdin });
let posts = [];
const register = (s, i) => {
    const body = JSON.stringify({ email: `${o.tag}-${i}@hold.example.com`,
        password: "journey password long enough", name: `Hold ${i}`,
        locale: "en", marketing_consent: false });
    return send(s, `POST /api/register HTTP/1.1\r\nHost: ${u.host}\r\n`
        + `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
};
for await (const line of rl) {
    const cmd = line.trim();
    if (cmd === "idle") {
        for (let i = socks.length; i < n; i++) socks.push(await connect(i));
        const codes = await Promise.all(socks.map((s) =>
            send(s, `GET / HTTP/1.1\r\nHost: ${u.host}\r\n\r\n`)));
        for (const c of codes) status["GET " + c] = (status["GET " + c] || 0) + 1;
    } else if (cmd === "one") {
        const c = await register(socks[0], "first");
        status["first POST " + c] = 1;
    } else if (cmd === "post") {
        posts = socks.map((s, i) => register(s, i));
    } else if (cmd === "answers") {
        for (const c of await Promise.all(posts)) status["POST " + c] = (status["POST " + c] || 0) + 1;
    } else if (cmd === "close") {
        for (const s of socks) s.destroy();
        socks.length = 0;
    }
    console.log(`ok ${cmd} ${JSON.stringify(status)}`);
}
