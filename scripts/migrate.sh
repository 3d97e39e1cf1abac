#!/usr/bin/env bash
# migrate.sh — apply the SQL migrations in sql/ to a database.
#
#   scripts/migrate.sh [DSN]     DSN: libpq keyword string or URL;
#                                default: the private cluster's `xyz` database
#                                (scripts/pg.sh url xyz, or XYZ_DATABASE_URL when set)
#
# Files sql/NNN_name.sql are applied in name order. Each file runs in one transaction
# together with the insert of its name into schema_migrations(version), so a file is
# either applied and recorded, or neither. Files already recorded are skipped:
# running the script twice changes nothing.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DSN="${1:-$("$REPO/scripts/pg.sh" url xyz)}"
PSQL=(psql -X -q -v ON_ERROR_STOP=1 --no-psqlrc)

"${PSQL[@]}" -d "$DSN" -c "CREATE TABLE IF NOT EXISTS schema_migrations (
    version    text PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
)" 2>&1 | { grep -v '^NOTICE:' || true; } >&2

applied="$("${PSQL[@]}" -d "$DSN" -At -c "SELECT version FROM schema_migrations")"

count=0
shopt -s nullglob
files=("$REPO"/sql/[0-9][0-9][0-9]_*.sql)
shopt -u nullglob
# Glob expansion is already sorted; force byte order regardless of the locale.
mapfile -t files < <(printf '%s\n' "${files[@]}" | LC_ALL=C sort)

for f in "${files[@]}"; do
    [ -n "$f" ] || continue
    v="$(basename "$f")"
    if [[ ! "$v" =~ ^[0-9]{3}_[A-Za-z0-9_.-]+\.sql$ ]]; then
        echo "migrate: unexpected file name $v (want NNN_name.sql)" >&2
        exit 1
    fi
    if grep -qxF "$v" <<<"$applied"; then
        continue
    fi
    echo "migrate: applying $v"
    "${PSQL[@]}" -d "$DSN" -1 -f "$f" \
        -c "INSERT INTO schema_migrations (version) VALUES ('$v')"
    count=$((count + 1))
done

if [ "$count" -eq 0 ]; then
    echo "migrate: up to date"
else
    echo "migrate: $count migration(s) applied"
fi
