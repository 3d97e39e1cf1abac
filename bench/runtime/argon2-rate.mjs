// argon2-rate.mjs — the raw Argon2id rate of Node's `argon2` npm package, the
// counterpart of bench/argon2_rate.c (libsodium) and Argon2Rate.java
// (BouncyCastle) for scripts/bench-runtime.sh.
//
//   node bench/runtime/argon2-rate.mjs [-t workers] [-d seconds] [-m KiB] [-i iterations]
//
// Each of the T workers is a process of its own (node:child_process fork of
// this file) with UV_THREADPOOL_SIZE=1, so that it hashes on one thread, and
// keeps exactly one argon2.hash() in flight: one hash after the other, as a
// Node service with one process per core does under load. argon2.hash() runs
// on the libuv thread pool; the package encodes the result as a PHC string,
// as libsodium's crypto_pwhash_str does. Parameters: type argon2id, version
// 0x13, memoryCost m KiB, timeCost t, parallelism 1, a 16-byte random salt.
//
// Every worker loads the package and hashes once before the clock starts
// (not counted), then hashes for D seconds; the rate is all hashes completed
// over the wall time until the last worker is done. Output: one line per
// worker on stderr, then one line on stdout, in the format of argon2_rate:
//   threads=2 m=19456 t=2 seconds=10.041 hashes=346 rate=34.46

import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

function usage() {
    process.stderr.write('usage: argon2-rate.mjs [-t workers] [-d seconds] [-m KiB] [-i iterations]\n');
    process.exit(2);
}

function positive(name, s, min) {
    if (!/^[0-9]+$/.test(s || '') || Number(s) < min) {
        process.stderr.write(`argon2-rate: invalid ${name} "${s}"\n`);
        process.exit(2);
    }
    return Number(s);
}

async function worker() {
    const argon2 = require('argon2');
    const opts = {
        type: argon2.argon2id,
        memoryCost: Number(process.env.RATE_M),
        timeCost: Number(process.env.RATE_T),
        parallelism: 1,
    };
    const id = process.env.RATE_ID;
    let hashes = 0;
    let stop = false;

    // one hash to load and warm up, then wait for the start signal
    await argon2.hash(`bench-pw-${id}-warmup`, opts);
    process.send({ ready: true });
    await new Promise((resolve) => process.once('message', resolve));

    const timer = setTimeout(() => { stop = true; }, Number(process.env.RATE_D) * 1000);
    while (!stop) {
        // a different 20-odd character password each time, like argon2_rate.c
        await argon2.hash(`bench-pw-${id}-${hashes}`, opts);
        hashes++;
    }
    clearTimeout(timer);
    process.send({ hashes });
    process.disconnect();
}

async function main() {
    const args = process.argv.slice(2);
    let threads = (await import('node:os')).availableParallelism();
    let seconds = 10;
    let m = 19456;
    let t = 2;

    for (let i = 0; i < args.length; i += 2) {
        switch (args[i]) {
        case '-t': threads = positive('worker count', args[i + 1], 1); break;
        case '-d': seconds = positive('duration', args[i + 1], 1); break;
        case '-m': m = positive('memory (KiB)', args[i + 1], 8); break;
        case '-i': t = positive('iterations', args[i + 1], 1); break;
        default: usage();
        }
    }

    const self = fileURLToPath(import.meta.url);
    const kids = [];
    for (let i = 0; i < threads; i++) {
        const child = fork(self, [], {
            env: { ...process.env, RATE_CHILD: '1', RATE_ID: String(i), RATE_M: String(m),
                   RATE_T: String(t), RATE_D: String(seconds), UV_THREADPOOL_SIZE: '1' },
            stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        });
        const exited = new Promise((resolve) => child.once('exit', resolve));
        kids.push({ child, exited });
    }

    const message = (child) => new Promise((resolve, reject) => {
        child.once('message', resolve);
        child.once('exit', (code) => reject(new Error(`worker exited with status ${code}`)));
    });

    await Promise.all(kids.map((k) => message(k.child)));           // all warmed up
    const results = kids.map((k) => message(k.child));
    const start = process.hrtime.bigint();
    for (const k of kids) k.child.send('go');
    const done = await Promise.all(results);
    const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
    await Promise.all(kids.map((k) => k.exited));

    let total = 0;
    done.forEach((d, i) => {
        process.stderr.write(`argon2-rate: worker ${i}: ${d.hashes} hashes\n`);
        total += d.hashes;
    });
    process.stdout.write(`threads=${threads} m=${m} t=${t} seconds=${elapsed.toFixed(3)} `
                         + `hashes=${total} rate=${(total / elapsed).toFixed(2)}\n`);
}

if (process.env.RATE_CHILD === '1') {
    worker().catch((err) => { process.stderr.write(`argon2-rate: ${err.stack}\n`); process.exit(1); });
} else {
    main().catch((err) => { process.stderr.write(`argon2-rate: ${err.message}\n`); process.exit(1); });
}
