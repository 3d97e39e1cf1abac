#!/usr/bin/env bash
# gzip-assets.sh — prepare the static front end for serving: versioned asset
# URLs and precompressed copies.
#
#   scripts/gzip-assets.sh [DIR]      DIR defaults to <repo>/html
#
# 1. Every reference "/assets/NAME?v=..." in DIR/*.html gets the first 12 hex
#    digits of NAME's SHA-256, so that a changed stylesheet or script gets a new
#    URL and the old one can be cached for a year ("immutable"). An HTML file
#    is rewritten only when a stamp changed (then commit it with the asset).
# 2. Every .html, .css, .js and .svg file gets a .gz copy next to it
#    (gzip -9, no name or time stamp inside), for nginx's gzip_static. A copy
#    is rewritten only when its content differs from the file, and takes the
#    file's modification time (so Last-Modified is the same either way);
#    copies no smaller than their file, and copies whose file is gone, are
#    removed. The .gz files are build output (git-ignored).
# Running it twice changes nothing.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${1:-$REPO/html}"
DIR="${DIR%/}"
[ -d "$DIR" ] || { echo "gzip-assets: no directory $DIR" >&2; exit 1; }

# ---- 1. version stamps -------------------------------------------------------------
stamps=()
if [ -d "$DIR/assets" ]; then
    while IFS= read -r -d '' f; do
        rel="${f#"$DIR"}"
        sum="$(sha256sum "$f" | cut -c1-12)"
        stamps+=("$rel=$sum")
    done < <(find "$DIR/assets" -type f \( -name '*.css' -o -name '*.js' \) -print0 | sort -z)
fi

if [ "${#stamps[@]}" -gt 0 ]; then
    while IFS= read -r -d '' page; do
        # Rewrites ?v=... after each known asset path; prints the page unchanged
        # otherwise. The result replaces the page only when it differs.
        perl -e '
            my %v = map { split /=/, $_, 2 } @ARGV[1 .. $#ARGV];
            open my $in, "<", $ARGV[0] or die "$ARGV[0]: $!\n";
            local $/;
            my $s = <$in>;
            $s =~ s{(["\x27])(/assets/[^"\x27?]+)\?v=[0-9A-Za-z]*(["\x27])}
                   {exists $v{$2} ? "$1$2?v=$v{$2}$3" : "$1$2?v=0$3"}ge;
            print $s;
        ' "$page" "${stamps[@]}" > "$page.tmp"
        if cmp -s "$page" "$page.tmp"; then
            rm -f "$page.tmp"
        else
            chmod --reference="$page" "$page.tmp"
            mv -f "$page.tmp" "$page"
            echo "gzip-assets: new asset versions in ${page#"$REPO/"}"
        fi
    done < <(find "$DIR" -maxdepth 1 -type f -name '*.html' -print0 | sort -z)
fi

# ---- 2. precompressed copies ---------------------------------------------------------
made=0
while IFS= read -r -d '' f; do
    gz="$f.gz"
    if [ -f "$gz" ] && gzip -dc "$gz" 2>/dev/null | cmp -s - "$f"; then
        touch -r "$f" "$gz"
        continue
    fi
    gzip -9 -n -c "$f" > "$gz.tmp"
    if [ "$(stat -c %s "$gz.tmp")" -ge "$(stat -c %s "$f")" ]; then
        rm -f "$gz.tmp" "$gz"
        continue
    fi
    touch -r "$f" "$gz.tmp"
    chmod 644 "$gz.tmp"
    mv -f "$gz.tmp" "$gz"
    made=$((made + 1))
done < <(find "$DIR" -type f \( -name '*.html' -o -name '*.css' -o -name '*.js' -o -name '*.svg' \) -print0)

# A copy whose file is gone would still be served: remove it.
while IFS= read -r -d '' gz; do
    [ -e "${gz%.gz}" ] || { rm -f "$gz"; echo "gzip-assets: removed stale ${gz#"$REPO/"}"; }
done < <(find "$DIR" -type f -name '*.gz' -print0)

[ "$made" -eq 0 ] || echo "gzip-assets: $made precompressed file(s) written under ${DIR#"$REPO/"}"
