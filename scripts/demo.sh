#!/usr/bin/env bash
# demo.sh - oneoff on a three-host loopback fleet with a tiny deployed app.
#
# Starts three real sshd "hosts" on 127.0.0.11..13 (tests/fleet.sh), each
# with the release of demo/app deployed under app/releases/<id> and a
# shared/.env holding the app's secrets, then rehearses a real SQLite
# migration on a copy of the primary's database (stage "rehearsal", the
# first link of the promotion chain), promotes it to the real database of
# stage "demo", shows the gate refusing a task that skipped the rehearsal,
# runs a report on every host and an ad-hoc command, and shows the logs
# and the run record. Stops the fleet at the end.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd -P)
ONEOFF=$ROOT/build/oneoff
DIR=$(mktemp -d /tmp/oneoff-demo.XXXXXX)

cleanup() {
    bash "$ROOT/tests/fleet.sh" down "$DIR" >/dev/null 2>&1 || true
    rm -rf "$DIR"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@" || printf '(exit %d)\n' "$?"; }

step "starting three sshd hosts on 127.0.0.11-13 with the app deployed"
FLEET_APP=$ROOT/demo/app bash "$ROOT/tests/fleet.sh" up "$DIR" 3 demo
for i in 1 2 3; do
    app=$DIR/hosts/h$i/app
    cat >"$app/shared/.env" <<EOF
DATABASE_URL=sqlite://$app/shared/db.sqlite3
SECRET_KEY_BASE=s3cr3t-from-env-file
APP_HOST=h$i
EOF
done
# The project folder: the fleet's inventory and the demo's tasks.
mkdir -p "$DIR/app/tasks"
cp "$ROOT"/demo/tasks/*.yml "$DIR/app/tasks/"
sed -i 's/^  port:/  env: { RAILS_ENV: production }\n  port:/' "$DIR/app/hosts/demo.yml"
# The rehearsal stage: the primary host alone, with the same release and
# environment, but DATABASE_URL pointing at a scratch copy of its database
# (a second env file, sourced after the first, so it can name the real one).
app1=$DIR/hosts/h1/app
# shellcheck disable=SC2016 # $DATABASE_URL is for the env file
printf 'SOURCE_DATABASE_URL=$DATABASE_URL\nDATABASE_URL=sqlite://%s/shared/rehearsal.sqlite3\n' \
    "$app1" >"$app1/shared/.env.rehearsal"
sed -e 's/^stage: demo$/stage: rehearsal/' \
    -e 's|^  env_file: shared/.env$|  env_file: [shared/.env, shared/.env.rehearsal]|' \
    -e '/^  h[23]:/d' "$DIR/app/hosts/demo.yml" >"$DIR/app/hosts/rehearsal.yml"
# ... and the demo stage takes nothing that has not passed the rehearsal.
sed -i 's/^stage: demo$/stage: demo\npromote_from: rehearsal/' "$DIR/app/hosts/demo.yml"
cd "$DIR/app"
o() { local c=$1; shift; "$ONEOFF" "$c" --known-hosts "$DIR/known_hosts" "$@"; }

step "the inventory and the tasks"
show cat hosts/demo.yml
show cat hosts/rehearsal.yml
show "$ONEOFF" tasks
show "$ONEOFF" hosts -s demo

step "what a migration would do (--dry-run connects nowhere)"
show "$ONEOFF" run db-migrate -s demo --dry-run

step "rehearsal: copy the primary's database to a scratch file"
show o run db-copy -s rehearsal
step "promote: migrate the copy, then, only if that succeeded, the real database"
show o promote db-migrate --from rehearsal --to demo --yes --report log/promote.json
step "migrate again: nothing left to apply"
show o run db-migrate -s demo

step "the gate: a task that has not passed the rehearsal is refused on demo (exit 4)"
show o run report -s demo
step "a report on every host (release, revision, environment, schema), through the rehearsal"
show o promote report --from rehearsal --to demo --yes

step "an ad-hoc command, with the same release and environment"
show o exec -s demo -l 'h2,h3' -- 'echo "$APP_HOST runs in $PWD with RAILS_ENV=$RAILS_ENV"'

step "a failing host does not stop the others (exit code 1)"
show o exec -s demo -- 'test "$APP_HOST" != h2 || { echo "h2 is unhappy" >&2; exit 7; }; echo fine'

step "what stays behind"
last=$(ls -1t log | head -n 1)
show ls log/"$last"
show cat log/"$last"/h2.log
show head -n 24 log/"$last"/run.json

step "done; stopping the fleet"
