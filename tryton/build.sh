#!/usr/bin/env bash
# Build a Tryton 8.2 install for erpsync, reusing whatever already exists:
#   tryton/build.sh DIR DATABASE PORT
# DIR/venv (the pinned packages), DIR/trytond.conf (SQLite in DIR/db, web on 127.0.0.1:PORT),
# the database DATABASE with account_invoice and analytic_invoice, and its books
# (tryton/setup_books.py). Prints the time each phase took.
set -euo pipefail

DIR=${1:?usage: tryton/build.sh DIR DATABASE PORT}
DB=${2:?usage: tryton/build.sh DIR DATABASE PORT}
PORT=${3:?usage: tryton/build.sh DIR DATABASE PORT}
HERE=$(cd "$(dirname "$0")" && pwd)
PYTHON=${TRYTON_PYTHON:-python3.13}
PACKAGES=$(cat "$HERE/requirements.txt")

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

# 2. The config file.
cat >"$CONF.new" <<CONF
[database]
uri = sqlite://
path = $DIR/db

[web]
listen = ${TRYTON_LISTEN_HOST:-127.0.0.1}:$PORT
CONF
mv "$CONF.new" "$CONF"

# 3. The database and its books; DB.ready marks a database that got all the way through.
if [[ -f "$DIR/db/$DB.ready" && -f "$DIR/db/$DB.sqlite" ]]; then
	phase "database reused"
else
	rm -f "$DIR/db/$DB.sqlite" "$DIR/db/$DB.ready"
	touch "$DIR/db/$DB.sqlite"
	PASSFILE=$(mktemp)
	trap 'rm -f "$PASSFILE"' EXIT
	echo "${TRYTON_ADMIN_PASSWORD:-admin}" >"$PASSFILE"
	TRYTONPASSFILE="$PASSFILE" "$VENV/bin/trytond-admin" -c "$CONF" -d "$DB" \
		--email admin@example.com \
		-u account_invoice analytic_invoice --activate-dependencies
	phase "database created (modules)"
	"$VENV/bin/python" "$HERE/setup_books.py" -c "$CONF" -d "$DB"
	touch "$DIR/db/$DB.ready"
	phase "books set up"
fi
