#!/usr/bin/env bash
# create-admin.sh EMAIL — makes a registered account the first administrator:
# confirms it and gives it the admin role. Register the address first
# (the sign-up page or POST /api/register), then run this as an operator
# with access to the database.
#
# DSN: XYZ_DATABASE_URL, or the local cluster's `xyz` database.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if [ "$#" -ne 1 ]; then
    echo "usage: $0 EMAIL" >&2
    exit 2
fi

DSN="${XYZ_DATABASE_URL:-$("$REPO/scripts/pg.sh" url xyz)}"

n="$(psql -X -q -At -v ON_ERROR_STOP=1 -v email="$1" -d "$DSN" <<'SQL'
WITH u AS (
    UPDATE users
       SET role = 'admin', status = 'confirmed',
           confirmed_at = coalesce(confirmed_at, now()), updated_at = now()
     WHERE email_normalized = lower(trim(:'email'))
    RETURNING id
)
SELECT count(*) FROM u;
SQL
)"

if [ "$n" != "1" ]; then
    echo "create-admin: no account for $1; register it first" >&2
    exit 1
fi

echo "create-admin: $1 is an administrator (log in again to get the role)"
