// sqs-emulator.mjs — run the fauxqs SQS emulator (npm package, node_modules/) on one
// address. Started by scripts/sqs.sh; not meant to be run by hand.
//
// fauxqs's own command line always listens on 0.0.0.0; this starts the same
// application (buildApp) on XYZ_SQS_ADDR only, so the unauthenticated emulator is
// not reachable from other machines.
//
// Environment:
//   XYZ_SQS_ADDR      listen address          [127.0.0.1]
//   FAUXQS_PORT       listen port             [4566]
//   FAUXQS_HOST       host part of queue URLs, http://sqs.<region>.<host>:<port>/<account>/<name>,
//                     where <port> is the one in the Host header of the CreateQueue request
//                     and <account> is always 000000000000  [localhost]
//   FAUXQS_DEFAULT_REGION  region of ARNs and URLs when a request carries no SigV4
//                     credential scope        [us-east-1]
//   FAUXQS_LOGGER     one JSON log line per request (true/false)  [true]
//   XYZ_SQS_PID_FILE  where to write the process id once listening  [none]
//
// State is in memory only: stopping the process loses every queue and message.
import { writeFileSync, rmSync } from "node:fs";
import { buildApp } from "fauxqs";

const addr = process.env.XYZ_SQS_ADDR || "127.0.0.1";
const port = parseInt(process.env.FAUXQS_PORT || "4566", 10);
const host = process.env.FAUXQS_HOST || "localhost";
const defaultRegion = process.env.FAUXQS_DEFAULT_REGION || "us-east-1";
const logger = (process.env.FAUXQS_LOGGER || "true") !== "false";
const pidFile = process.env.XYZ_SQS_PID_FILE;

const app = buildApp({ logger, host, defaultRegion });

let stopping = false;
async function stop(signal) {
    if (stopping) {
        return;
    }
    stopping = true;
    // Long polls are cancelled and connections closed (forceCloseConnections).
    const timer = setTimeout(() => process.exit(0), 2000);
    timer.unref();
    try {
        await app.close();
    } finally {
        if (pidFile) {
            rmSync(pidFile, { force: true });
        }
        console.error(`sqs-emulator: stopped (${signal})`);
        process.exit(0);
    }
}
process.on("SIGTERM", () => stop("SIGTERM"));
process.on("SIGINT", () => stop("SIGINT"));

try {
    const address = await app.listen({ port, host: addr });
    if (pidFile) {
        writeFileSync(pidFile, `${process.pid}\n`);
    }
    console.error(`sqs-emulator: fauxqs listening on ${address} (pid ${process.pid})`);
} catch (err) {
    console.error(`sqs-emulator: cannot listen on ${addr}:${port}: ${err.message}`);
    process.exit(1);
}
