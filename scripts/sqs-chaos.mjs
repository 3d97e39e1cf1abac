// sqs-chaos.mjs — an HTTP proxy in front of the SQS emulator that answers
// SendMessageBatch badly on request, for t/025-chaos.t. Node.js built-ins only.
//
//   node scripts/sqs-chaos.mjs --port P --target http://127.0.0.1:EMULATOR_PORT
//
// Every request is passed to the target unchanged, except SendMessageBatch calls
// while a fault is set:
//   500        HTTP 500 {"__type": "...#InternalError"}; nothing reaches the queue
//   throttle   HTTP 400 {"__type": "...#ThrottlingException"}; nothing reaches it
//   partial    entries with an even Id (the outbox id) are sent on; those with an
//              odd one come back in "Failed" with SenderFault false and Code
//              InternalError (SQS's own failure: the entries are fine and may be
//              sent again), so a row fails every time while the fault lasts
//   garbage    HTTP 200 with a body that is not JSON; nothing reaches the queue
//   truncated  the batch reaches the queue and its answer is cut in half: the
//              outcome is unknown to the sender
//   empty      the batch reaches the queue and the answer is HTTP 200 "{}"
// Admin API:
//   POST /_chaos  {"mode": "none"|<above>, "count": N (calls, optional),
//                  "seconds": S (optional)}: the fault for the next N calls or S seconds
//   GET  /_chaos  {"mode", "faulted": calls answered with a fault so far, "batches":
//                  SendMessageBatch calls seen}
import http from "node:http";

function option(name, fallback) {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const port = Number(option("port", "0"));
const target = new URL(option("target", "http://127.0.0.1:4566"));
let fault = { mode: "none" };
let faulted = 0;
let batches = 0;

function forward(req, body, cb) {
    const headers = { ...req.headers, "content-length": Buffer.byteLength(body) };
    const up = http.request({ host: target.hostname, port: target.port, path: req.url,
                              method: req.method, headers }, (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => cb(null, res, Buffer.concat(chunks)));
    });
    up.on("error", (e) => cb(e));
    up.end(body);
}

function active() {
    if (fault.mode === "none") return null;
    if (fault.until !== undefined && Date.now() > fault.until) {
        fault = { mode: "none" };
        return null;
    }
    if (fault.count !== undefined) {
        if (fault.count <= 0) {
            fault = { mode: "none" };
            return null;
        }
        fault.count--;
    }
    return fault.mode;
}

function send(res, status, body, type = "application/x-amz-json-1.0") {
    res.writeHead(status, { "Content-Type": type, "Content-Length": Buffer.byteLength(body) });
    res.end(body);
}

const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
        const body = Buffer.concat(chunks).toString();
        if (req.url === "/_chaos") {
            if (req.method === "POST") {
                const b = JSON.parse(body || "{}");
                fault = { mode: b.mode || "none" };
                if (b.count) fault.count = b.count;
                if (b.seconds) fault.until = Date.now() + b.seconds * 1000;
            }
            return send(res, 200, JSON.stringify({ mode: fault.mode, faulted, batches }),
                        "application/json");
        }
        const op = (req.headers["x-amz-target"] || "").replace(/^AmazonSQS\./, "");
        const mode = op === "SendMessageBatch" ? (batches++, active()) : null;
        if (mode) faulted++;
        const pass = (b) => forward(req, b, (err, up, data) => {
            if (err) {
                res.destroy();
                return;
            }
            if (mode === "truncated") {
                res.writeHead(up.statusCode, { "Content-Type": up.headers["content-type"] || "" });
                res.end(data.subarray(0, Math.floor(data.length / 2)));
                return;
            }
            if (mode === "empty") return send(res, 200, "{}");
            res.writeHead(up.statusCode, up.headers);
            res.end(data);
        });
        switch (mode) {
        case null:
        case "truncated":
        case "empty":
            return pass(body);
        case "500":
            return send(res, 500, JSON.stringify({
                __type: "com.amazonaws.sqs#InternalError",
                message: "We encountered an internal error. Please try again." }));
        case "throttle":
            return send(res, 400, JSON.stringify({
                __type: "com.amazonaws.sqs#ThrottlingException", message: "Rate exceeded" }));
        case "garbage":
            return send(res, 200, "<html><body>502 Bad Gateway</body></html>\0\xff",
                        "text/html");
        case "partial": {
            const b = JSON.parse(body);
            const keep = b.Entries.filter((e) => Number(e.Id) % 2 === 0);
            const drop = b.Entries.filter((e) => Number(e.Id) % 2 === 1);
            if (keep.length === 0) {
                return send(res, 200, JSON.stringify({ Successful: [], Failed: drop.map((e) => ({
                    Id: e.Id, SenderFault: false, Code: "InternalError",
                    Message: "We encountered an internal error. Please try again." })) }));
            }
            return forward(req, JSON.stringify({ ...b, Entries: keep }), (err, up, data) => {
                if (err || up.statusCode !== 200) {
                    res.destroy();
                    return;
                }
                const r = JSON.parse(data.toString());
                r.Failed = [...(r.Failed || []), ...drop.map((e) => ({
                    Id: e.Id, SenderFault: false, Code: "InternalError",
                    Message: "We encountered an internal error. Please try again." }))];
                send(res, 200, JSON.stringify(r));
            });
        }
        default:
            return send(res, 500, "unknown chaos mode");
        }
    });
});

server.listen(port, "127.0.0.1", () => {
    console.log(`sqs-chaos: listening on 127.0.0.1:${server.address().port}, target ${target.href}`);
});
