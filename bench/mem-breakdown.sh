#!/usr/bin/env bash
# mem-breakdown.sh PID [LABEL] — one line: where a process's resident memory
# lies.  RSS and its peak (VmHWM), the anonymous part, and of that the brk
# heap (glibc malloc's main arena: nginx's pools, requests, buffers) against
# the other anonymous mappings (nginx's connection and event arrays, thread
# stacks and arenas, Argon2id's memory: libsodium mmaps it for each hash and
# unmaps it after), and what files and shared memory take.
set -euo pipefail
pid="$1"
awk -v s="${2:-}" '
    FNR == 1 { f++ }
    f == 1 && /^(VmRSS|VmHWM):/ { v[$1] = $2 }
    f == 2 && /^Anonymous:/ { anon = $2 }
    f == 3 && /^[0-9a-f]+-[0-9a-f]+ / { name = ($6 == "") ? "anon" : $6 }
    f == 3 && /^Rss:/ { m[name] += $2 }
    END {
        other = 0; for (k in m) if (k != "[heap]" && k != "anon") other += m[k]
        printf "%sRSS %6.1f MB (peak %6.1f): anonymous %6.1f = heap(brk) %6.1f + anonymous mappings %6.1f; files and shared %5.1f\n",
            (s == "" ? "" : sprintf("%-9s ", s)), v["VmRSS:"] / 1024, v["VmHWM:"] / 1024,
            anon / 1024, m["[heap]"] / 1024, m["anon"] / 1024, other / 1024
    }' "/proc/$pid/status" "/proc/$pid/smaps_rollup" "/proc/$pid/smaps"
