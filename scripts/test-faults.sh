#!/usr/bin/env bash
# test-faults.sh — faults under load (`make test-faults`): every fault kind of
# scripts/fault-load.mjs injected five times into a steady journey load
# (register → email → confirm → CRM), one run per kind, each ending when the
# queues drain; prints the table (kind × injections × accepted × emails ×
# CRM records × duplicates × busiest CRM second) and fails when anything is
# lost, duplicates pass 0.1 % or the CRM cap is exceeded. Takes about 20
# minutes. The services are the ones scripts/test.sh starts.
#
#   scripts/test-faults.sh                          every kind
#   XYZ_FAULT_KINDS=pg,smtp scripts/test-faults.sh  chosen kinds
# Further knobs (rate, outage length, injections, CRM cap, seed): see
# scripts/fault-load.mjs.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export XYZ_FAULT_PLAN=full
exec "$REPO/scripts/test.sh" -v t/055-faults.t
