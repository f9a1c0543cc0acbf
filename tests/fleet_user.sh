# fleet_user.sh - the non-root login user of a test fleet (FLEET_USER), sourced by
# tests/fleet.sh, whose header says what a login as that user needs; uses its DIR,
# FLEET_GECOS, say and die.
# shellcheck shell=bash
# shellcheck disable=SC2154 # DIR and FLEET_GECOS come from fleet.sh

check_user_name() {
    [[ "$1" =~ ^[a-z_][a-z0-9_-]{0,31}$ ]] || die "FLEET_USER: bad user name '$1'"
    [ "$1" != root ] || die "FLEET_USER: root logs in anyway; name a non-root user"
}

# ensure_user NAME: the user exists, has a POSIX shell and an account sshd accepts without PAM
ensure_user() {
    local name=$1 ent shell pw
    check_user_name "$name"
    [ "$(id -u)" = 0 ] || die "FLEET_USER needs root (to create the user and hand it the app directories)"
    if ! ent=$(getent passwd "$name"); then
        command -v useradd >/dev/null || die "useradd not found (package passwd)"
        say "creating the system user $name for non-root logins"
        useradd --system --create-home --shell /bin/sh --password '*' \
            --comment "$FLEET_GECOS" "$name" || die "useradd $name failed"
        ent=$(getent passwd "$name") || die "user $name missing after useradd"
    fi
    shell=${ent##*:}
    case $shell in
        */nologin | */false | '') die "user $name has the login shell '$shell': sshd cannot run commands as it" ;;
    esac
    # without PAM, sshd refuses an account whose password field starts with '!' (locked)
    pw=$(getent shadow "$name" 2>/dev/null | cut -d: -f2) || pw=
    case $pw in
        '!'*) die "user $name is locked (its password field starts with '!'), so sshd would refuse it; fleet.sh does not change a user it did not create" ;;
    esac
}

# grant_user NAME: what a login as NAME needs in DIR (see the header)
grant_user() {
    local name=$1 hd
    chmod o+x "$DIR"
    chmod 0644 "$DIR/authorized_keys"
    for hd in "$DIR"/hosts/h*; do
        [ -d "$hd/app" ] || continue
        mkdir -p "$hd/app/shared/.oneoff/locks"
        chmod o+x "$hd"
        chown -R -h "$name:" "$hd/app" "$hd/home"
    done
    if command -v runuser >/dev/null; then
        runuser -u "$name" -- test -r "$DIR/authorized_keys" ||
            die "user $name cannot read $DIR/authorized_keys (is a parent directory of $DIR closed to others?)"
        runuser -u "$name" -- test -w "$DIR/hosts/h1/app/shared/.oneoff/locks" ||
            die "user $name cannot write $DIR/hosts/h1/app/shared/.oneoff/locks"
    fi
    printf '%s\n' "$name" >"$DIR/fleet_user"
}

cmd_remove_user() {
    [ $# -eq 1 ] || usage
    local name=$1 ent gecos
    check_user_name "$name"
    if ! ent=$(getent passwd "$name"); then say "remove-user: no user $name"; return 0; fi
    gecos=$(printf '%s' "$ent" | cut -d: -f5)
    [ "$gecos" = "$FLEET_GECOS" ] || die "remove-user: $name was not created by fleet.sh (comment '$gecos'); not deleting it"
    if pgrep -u "$name" >/dev/null 2>&1; then die "remove-user: $name still runs processes; not deleting it"; fi
    userdel --remove "$name" 2>/dev/null || userdel "$name" || die "userdel $name failed"
    say "remove-user: deleted $name"
}
