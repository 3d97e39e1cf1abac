/*
 * Argon2Rate — the raw Argon2id rate of Java's BouncyCastle (Debian's
 * libbcprov-java), the counterpart of bench/argon2_rate.c (libsodium) and
 * bench/runtime/argon2-rate.mjs (Node's argon2) for scripts/bench-runtime.sh.
 *
 *   java -cp build/bench/runtime:/usr/share/java/bcprov.jar Argon2Rate \
 *        [-t threads] [-d seconds] [-m KiB] [-i iterations]
 *
 * Each of the T threads calls Argon2BytesGenerator (Argon2id, version 0x13,
 * m KiB, t iterations, parallelism 1, a 16-byte random salt, 32-byte output:
 * what libsodium's crypto_pwhash_str computes before it encodes the PHC
 * string) in a loop.  The JIT compiles BouncyCastle's pure-Java Argon2 while
 * it runs, so every thread first hashes for WARMUP seconds (2, not counted),
 * as a long-running service would have done before it takes load; then all
 * start together and hash for D seconds.  The rate is all completed hashes
 * over the wall time until the last thread is done.
 *
 * Output: one line per thread on stderr, then one line on stdout, in the
 * format of argon2_rate:
 *   threads=2 m=19456 t=2 seconds=10.041 hashes=346 rate=34.46
 */

import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicBoolean;

import org.bouncycastle.crypto.generators.Argon2BytesGenerator;
import org.bouncycastle.crypto.params.Argon2Parameters;

public final class Argon2Rate {

    private static final double WARMUP = 2.0;

    private static long arg(String name, String s, long min) {
        long v;
        try {
            v = Long.parseLong(s);
        } catch (NumberFormatException | NullPointerException e) {
            v = -1;
        }
        if (v < min) {
            System.err.println("Argon2Rate: invalid " + name + " \"" + s + "\"");
            System.exit(2);
        }
        return v;
    }

    private static void hash(SecureRandom random, int m, int t, String password) {
        byte[] salt = new byte[16];
        byte[] out = new byte[32];

        random.nextBytes(salt);

        Argon2Parameters params = new Argon2Parameters.Builder(Argon2Parameters.ARGON2_id)
            .withVersion(Argon2Parameters.ARGON2_VERSION_13)
            .withMemoryAsKB(m)
            .withIterations(t)
            .withParallelism(1)
            .withSalt(salt)
            .build();

        Argon2BytesGenerator gen = new Argon2BytesGenerator();
        gen.init(params);
        gen.generateBytes(password.getBytes(StandardCharsets.UTF_8), out);
    }

    public static void main(String[] args) throws Exception {
        int threads = Runtime.getRuntime().availableProcessors();
        long seconds = 10;
        int m = 19456;
        int t = 2;

        for (int i = 0; i < args.length; i += 2) {
            String v = i + 1 < args.length ? args[i + 1] : null;
            switch (args[i]) {
            case "-t": threads = (int) arg("thread count", v, 1); break;
            case "-d": seconds = arg("duration", v, 1); break;
            case "-m": m = (int) arg("memory (KiB)", v, 8); break;
            case "-i": t = (int) arg("iterations", v, 1); break;
            default:
                System.err.println("usage: Argon2Rate [-t threads] [-d seconds] [-m KiB] [-i iterations]");
                System.exit(2);
            }
        }

        final int fm = m, ft = t;
        final long[] hashes = new long[threads];
        final AtomicBoolean stop = new AtomicBoolean();
        final CyclicBarrier start = new CyclicBarrier(threads + 1);
        Thread[] workers = new Thread[threads];

        for (int i = 0; i < threads; i++) {
            final int id = i;
            workers[i] = new Thread(() -> {
                SecureRandom random = new SecureRandom();
                long warm = 0;
                long until = System.nanoTime() + (long) (WARMUP * 1e9);
                while (System.nanoTime() < until || warm == 0) {
                    hash(random, fm, ft, "bench-pw-" + id + "-w" + warm++);
                }
                try {
                    start.await();
                } catch (Exception e) {
                    return;
                }
                long n = 0;
                while (!stop.get()) {
                    hash(random, fm, ft, "bench-pw-" + id + "-" + n);
                    n++;
                }
                hashes[id] = n;
            });
            workers[i].start();
        }

        start.await();
        long t0 = System.nanoTime();
        Thread.sleep(seconds * 1000);
        stop.set(true);

        long total = 0;
        for (int i = 0; i < threads; i++) {
            workers[i].join();
            total += hashes[i];
        }
        double elapsed = (System.nanoTime() - t0) / 1e9;

        for (int i = 0; i < threads; i++) {
            System.err.println("Argon2Rate: thread " + i + ": " + hashes[i] + " hashes");
        }
        System.out.printf("threads=%d m=%d t=%d seconds=%.3f hashes=%d rate=%.2f%n",
                          threads, m, t, elapsed, total, total / elapsed);
    }
}
