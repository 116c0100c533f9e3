#!/usr/bin/env bash
# Build a Tryton 8.0 (LTS) install for erpsync, reusing whatever already exists:
#   tryton/build.sh DIR DATABASE PORT
# DIR/venv (the pinned packages), DIR/sao (Tryton's web client from npm, with its own npm
# dependencies), DIR/trytond.conf (SQLite in DIR/db, web on 127.0.0.1:PORT serving DIR/sao at /),
# the database DATABASE with account_invoice and analytic_invoice, and its books
# (tryton/setup_books.py). Prints the time each phase took. Needs python3.13 and npm.
set -euo pipefail

DIR=${1:?usage: tryton/build.sh DIR DATABASE PORT}
DB=${2:?usage: tryton/build.sh DIR DATABASE PORT}
PORT=${3:?usage: tryton/build.sh DIR DATABASE PORT}
HERE=$(cd "$(dirname "$0")" && pwd)
PYTHON=${TRYTON_PYTHON:-python3.13}
PACKAGES=$(cat "$HERE/requirements.txt")
# sao refuses a server whose major.minor differs from its own ("Incompatible version of the
# server"), and npm has sao only for the LTS series (8.0, 7.0): keep it in step with trytond.
SAO_PACKAGE=tryton-sao@8.0.11

mkdir -p "$DIR/db"
DIR=$(cd "$DIR" && pwd)
CONF="$DIR/trytond.conf"
VENV="$DIR/venv"
SECONDS_AT=$(date +%s.%N)

phase() {
	local now
	now=$(date +%s.%N)
	printf '[tryton] %-28s %6.1f s\n' "$1" "$(awk "BEGIN { print $now - $SECONDS_AT }")"
	SECONDS_AT=$now
}

# 1. The venv, rebuilt when the pinned requirements change.
if [[ ! -x "$VENV/bin/trytond" ]] || ! cmp -s "$HERE/requirements.txt" "$VENV/.requirements"; then
	rm -rf "$VENV"
	"$PYTHON" -m venv "$VENV"
	# shellcheck disable=SC2086
	"$VENV/bin/pip" install --quiet --disable-pip-version-check $PACKAGES 2>&1 |
		{ grep -v "^WARNING: Location 'file:" || true; }
	cp "$HERE/requirements.txt" "$VENV/.requirements"
	phase "venv installed"
else
	phase "venv reused"
fi

# 2. sao, reinstalled when SAO_PACKAGE changes (TRYTON_SAO=0: none, the server serves no web
# client). npm installs its dependencies inside the package because its index.html loads them
# from node_modules/ beside it. --legacy-peer-deps: one of its dev dependencies asks for
# grunt 0.4 as a peer, which npm otherwise refuses even with --omit=dev.
SAO="$DIR/sao"
WEB_ROOT=""
if [[ "${TRYTON_SAO:-1}" == 0 ]]; then
	phase "sao skipped (TRYTON_SAO=0)"
elif [[ -f "$SAO/dist/tryton-sao.js" && "$(cat "$SAO/.package" 2>/dev/null)" == "$SAO_PACKAGE" ]]; then
	WEB_ROOT="root = $SAO"
	phase "sao reused"
else
	command -v npm >/dev/null || {
		echo "[tryton] npm is missing (Tryton's web client comes from npm): apt-get install" \
			"npm, or TRYTON_SAO=0 for a server without it" >&2
		exit 1
	}
	rm -rf "$SAO" "$SAO.new"
	mkdir -p "$SAO.new"
	TARBALL=$(cd "$SAO.new" && npm pack --silent "$SAO_PACKAGE")
	tar -xzf "$SAO.new/$TARBALL" -C "$SAO.new" --strip-components=1
	rm "$SAO.new/$TARBALL"
	(cd "$SAO.new" && npm install --silent --omit=dev --ignore-scripts --no-audit --no-fund \
		--legacy-peer-deps --no-package-lock >/dev/null)
	# Every page load asks for custom.js and custom.css (a site's own additions) and for
	# locale/<language>.json, and English, sao's source language, has no catalogue: empty ones
	# spare the browser console an error per file (trytond answers a missing file with 405).
	: >"$SAO.new/custom.js"
	: >"$SAO.new/custom.css"
	for lang in en en_US; do echo '{"": {}}' >"$SAO.new/locale/$lang.json"; done
	echo "$SAO_PACKAGE" >"$SAO.new/.package"
	mv "$SAO.new" "$SAO"
	WEB_ROOT="root = $SAO"
	phase "sao installed"
fi
if [[ -n "$WEB_ROOT" ]]; then
	SERVER_SERIES=$("$VENV/bin/python" -c 'import trytond; print(*trytond.__version__.split(".")[:2], sep=".")')
	SAO_SERIES=$(sed -n 's/^ *"version": *"\([0-9]*\.[0-9]*\)\..*/\1/p' "$SAO/package.json")
	if [[ "$SERVER_SERIES" != "$SAO_SERIES" ]]; then
		echo "[tryton] sao $SAO_SERIES refuses trytond $SERVER_SERIES: align SAO_PACKAGE in" \
			"tryton/build.sh with tryton/requirements.txt" >&2
		exit 1
	fi
fi

# 3. The config file.
cat >"$CONF.new" <<CONF
[database]
uri = sqlite://
path = $DIR/db

[web]
listen = ${TRYTON_LISTEN_HOST:-127.0.0.1}:$PORT
$WEB_ROOT
CONF
mv "$CONF.new" "$CONF"

# 4. The database and its books; DB.ready marks a database that got all the way through and
# holds the requirements it was made with: a database made by other packages (Tryton 8.2's,
# before the move to 8.0) cannot be opened by these, so it is made again.
READY="$DIR/db/$DB.ready"
if [[ -f "$READY" && -f "$DIR/db/$DB.sqlite" ]] && cmp -s "$HERE/requirements.txt" "$READY"; then
	phase "database reused"
else
	if [[ -f "$READY" ]]; then
		echo "[tryton] database $DB was made with other Tryton packages: making it again" \
			"(what it held is gone)"
	fi
	# With its -wal and -shm files: a server still running on the old database keeps them
	# open, and SQLite would read them as the new database's (disk I/O error).
	rm -f "$DIR/db/$DB.sqlite" "$DIR/db/$DB.sqlite-wal" "$DIR/db/$DB.sqlite-shm" \
		"$DIR/db/$DB.sqlite-journal" "$READY"
	touch "$DIR/db/$DB.sqlite"
	PASSFILE=$(mktemp)
	trap 'rm -f "$PASSFILE"' EXIT
	echo "${TRYTON_ADMIN_PASSWORD:-admin}" >"$PASSFILE"
	TRYTONPASSFILE="$PASSFILE" "$VENV/bin/trytond-admin" -c "$CONF" -d "$DB" \
		--email admin@example.com \
		-u account_invoice analytic_invoice --activate-dependencies
	phase "database created (modules)"
	"$VENV/bin/python" "$HERE/setup_books.py" -c "$CONF" -d "$DB"
	cp "$HERE/requirements.txt" "$READY"
	phase "books set up"
fi
