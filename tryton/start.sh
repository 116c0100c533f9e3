#!/usr/bin/env bash
# (Re)start the trytond built by tryton/build.sh in the background:
#   tryton/start.sh DIR DATABASE
# The pid goes to DIR/trytond.pid, the log to DIR/trytond.log. Waits until it answers.
set -euo pipefail

DIR=$(cd "${1:?usage: tryton/start.sh DIR DATABASE}" && pwd)
DB=${2:?usage: tryton/start.sh DIR DATABASE}
CONF="$DIR/trytond.conf"
PIDFILE="$DIR/trytond.pid"
LISTEN=$(sed -n 's/^listen *= *//p' "$CONF")

if [[ -f "$PIDFILE" ]]; then
	OLD=$(cat "$PIDFILE")
	if kill -0 "$OLD" 2>/dev/null && grep -q trytond "/proc/$OLD/cmdline" 2>/dev/null; then
		kill "$OLD"
		for _ in $(seq 50); do kill -0 "$OLD" 2>/dev/null || break; sleep 0.1; done
		echo "[tryton] stopped the previous server (pid $OLD)"
	fi
	rm -f "$PIDFILE"
fi

: >"$DIR/trytond.log"
nohup "$DIR/venv/bin/trytond" -c "$CONF" -d "$DB" >>"$DIR/trytond.log" 2>&1 &
echo $! >"$PIDFILE"
BODY='{"method":"common.server.version","params":[],"id":1}'
for _ in $(seq 100); do
	if curl -fsS -m 2 -H 'Content-Type: application/json' -d "$BODY" "http://$LISTEN/rpc/" >/dev/null 2>&1; then
		echo "[tryton] trytond (pid $(cat "$PIDFILE")) answers on http://$LISTEN/ database $DB"
		exit 0
	fi
	kill -0 "$(cat "$PIDFILE")" 2>/dev/null || break
	sleep 0.2
done
echo "[tryton] trytond did not start; see $DIR/trytond.log" >&2
tail -n 20 "$DIR/trytond.log" >&2
exit 1
