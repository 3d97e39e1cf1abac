#!/usr/bin/env bash
# create-admin.sh EMAIL — makes a confirmed account the first administrator:
# gives it the admin role. Register the address first (the sign-up page or
# POST /api/register) and confirm it with the link in the email, then run
# this as an operator with access to the database.
#
# A pending account is refused: until its address is confirmed, anybody may
# have registered it (and chosen its password).
#
# DSN: XYZ_DATABASE_URL, or the local cluster's `xyz` database.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if [ "$#" -ne 1 ]; then
    echo "usage: $0 EMAIL" >&2
    exit 2
fi

DSN="${XYZ_DATABASE_URL:-$("$REPO/scripts/pg.sh" url xyz)}"

r="$(psql -X -q -At -v ON_ERROR_STOP=1 -v email="$1" -d "$DSN" <<'SQL'
WITH u AS (
    UPDATE users
       SET role = 'admin', updated_at = now()
     WHERE email_normalized = lower(trim(:'email')) AND status = 'confirmed'
    RETURNING id
)
SELECT coalesce((SELECT 'promoted' FROM u),
                (SELECT status FROM users
                  WHERE email_normalized = lower(trim(:'email'))),
                'none');
SQL
)"

case "$r" in
promoted)
    ;;
none)
    echo "create-admin: no account for $1; register it first" >&2
    exit 1
    ;;
pending)
    echo "create-admin: the account $1 is not confirmed; open the link in" \
         "the confirmation email first (anybody may have registered an" \
         "unconfirmed address)" >&2
    exit 1
    ;;
*)
    echo "create-admin: the account $1 is $r; only a confirmed account" \
         "can become an administrator" >&2
    exit 1
    ;;
esac

echo "create-admin: $1 is an administrator (log in again to get the role)"
