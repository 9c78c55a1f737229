#!/usr/bin/env bash
# A Docker engine for the compose test (tests/deploy/test_compose.py), on a Debian
# machine where no image registry may be reachable. `make test-compose` runs it
# first; .ci/run runs it before `make test`. Idempotent: under a second when the
# engine answers and the images exist, 1-2 min on a fresh machine.
#
#   tests/deploy/docker-engine.sh
#
# What it does, and why:
# 1. The engine. If no Docker engine answers, install Debian's docker.io (its
#    dockerd, and a client whose `docker build` has BuildKit built in, which the
#    Dockerfile's `RUN --mount` needs) and start dockerd in the background, log in
#    $DOCKERD_LOG. dockerd picks its storage driver: overlay2 where the kernel has
#    overlayfs (fast), else vfs (a full copy per layer: slow, several GB).
# 2. The public images the project names: the Dockerfile's `FROM` images and
#    compose.yaml's `image:` of every service it does not build. Each one present
#    is kept, else pulled, else - no registry reachable, as on an offline CI
#    machine - replaced by a local stand-in under the same name:
#      python:3.11-*  Debian bookworm's own Python 3.11 (debootstrap minbase with
#                     pip and venv; `python` and `pip` on PATH as in the official
#                     image), trusting the host's extra CAs (/usr/local/share/
#                     ca-certificates) so that the build's pip reaches PyPI through
#                     the same TLS-inspecting proxy as the host, if there is one
#      nginx:*        Debian's nginx-light and wget on that base, conf.d/ included,
#                     logs to the container's output, nginx in the foreground
#      postgres:*     Debian's PostgreSQL 15 on that base, with an entrypoint that
#                     keeps the official image's contract as compose.yaml uses it:
#                     POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB, the data in
#                     /var/lib/postgresql/data, port 5432, pg_isready on PATH
#    Stand-ins carry the label descentlab.stand-in
#    (`docker image ls --filter label=descentlab.stand-in`; `docker rmi` them to
#    make them anew). They behave like the official images for this project's
#    Dockerfile, compose.yaml and deploy/nginx.conf; they are not those images
#    (versions and sizes differ), so never push or deploy them.
# A base image this script has no recipe for, and cannot pull, stops it with a
# message. Root is needed only for what needs it: installing packages, starting
# dockerd, debootstrap.
set -euo pipefail
cd "$(dirname "$0")/../.."

DOCKERD_LOG=${DOCKERD_LOG:-/var/log/descentlab-dockerd.log}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
STAND_IN_LABEL=descentlab.stand-in

say() { echo "docker-engine: $*" >&2; }
fail() { say "$*"; exit 1; }
is_root() { [ "$(id -u)" = 0 ]; }
engine_answers() { docker info >/dev/null 2>&1; }

apt_install() {
    is_root || fail "needs $* (as root: apt-get install -y $*)"
    say "installing $* (Debian packages)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq "$@" >/dev/null
}

# Remove pid file $1 unless it names a live process called $2.
drop_stale_pid_file() {
    local pid state
    [ -f "$1" ] || return 0
    pid=$(cat "$1")
    state=$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null || true)
    if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" != "$2" ] || [ "$state" = Z ]; then
        rm -f "$1"
    fi
}

# Two runs at once (two checkouts, say) would start two dockerds or make the same
# stand-in twice.
if command -v flock >/dev/null 2>&1; then
    exec 9>"${TMPDIR:-/tmp}/descentlab-docker-engine.$(id -u).lock"
    flock 9
fi

# 1. The engine.
if ! engine_answers; then
    if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
        apt_install docker.io
    fi
    is_root || fail "no Docker engine answers (docker info) and starting one needs root: \
start Docker (e.g. sudo systemctl start docker) and add yourself to the docker group"
    # A dockerd killed at the end of a CI job leaves its pid files behind. A new one
    # refuses to start while its pid file names a process, and waits in vain for a
    # containerd whose pid file does - even an exited one that is not reaped yet.
    drop_stale_pid_file /var/run/docker.pid dockerd
    drop_stale_pid_file /var/run/docker/containerd/containerd.pid containerd
    say "starting dockerd (log: $DOCKERD_LOG)"
    # Its own session, so it outlives this script; without the lock's descriptor,
    # which it would otherwise hold for ever.
    setsid dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null 9>&- &
    for _ in $(seq 1 60); do engine_answers && break; sleep 1; done
    engine_answers || fail "dockerd did not answer within 60 s: see $DOCKERD_LOG"
fi

# 2. The public images. The Dockerfile's FROM images that are not its own stages:
dockerfile_images() {
    awk 'toupper($1) == "FROM" {
             image = ""
             for (i = 2; i <= NF; i++) if ($i !~ /^--/) { image = $i; break }
             if (!(tolower(image) in stage)) print image
             if (toupper($(i + 1)) == "AS") stage[tolower($(i + 2))] = 1
         }' Dockerfile
}
# compose.yaml's images of the services it runs as they are (no `build:`).
compose_images() {
    awk 'function flush() { if (service != "" && !built && image != "") print image }
         /^services:/ { in_services = 1; next }
         in_services && /^[^ #]/ { flush(); service = ""; in_services = 0 }
         in_services && /^  [A-Za-z0-9._-]+:/ { flush(); service = $1; built = 0; image = "" }
         in_services && /^    build:/ { built = 1 }
         in_services && /^    image:/ { image = $2; gsub(/["\047]/, "", image) }
         END { flush() }' compose.yaml
}

present() { docker image inspect "$1" >/dev/null 2>&1; }
# Where a registry is reachable but slow, two minutes is plenty for these images.
pull() {
    if command -v timeout >/dev/null 2>&1; then
        timeout 120 docker pull -q "$1"
    else
        docker pull -q "$1"
    fi
}

# A scratch folder for debootstrap, removed however the script ends - but never
# through a mount: debootstrap unmounts the proc, sys (and /dev) it mounts in the
# new system, and if one were left, rm -rf would reach into the host's.
scratch=""
remove_scratch() {
    [ -n "$scratch" ] && [ -d "$scratch" ] || return 0
    if awk -v dir="$scratch/" 'index($2, dir) == 1 { found = 1 } END { exit !found }' /proc/mounts; then
        say "left $scratch in place: something is still mounted under it"
    else
        rm -rf "$scratch"
    fi
}
trap remove_scratch EXIT

python_stand_in() {
    local image=$1 root
    command -v debootstrap >/dev/null 2>&1 || apt_install debootstrap
    is_root || fail "making the stand-in for $image needs root (debootstrap)"
    scratch=$(mktemp -d /var/tmp/descentlab-stand-in.XXXXXX)
    root=$scratch
    say "making a local stand-in for $image: debootstrap bookworm (~1.5 min)"
    debootstrap --variant=minbase --include=python3,python3-pip,python3-venv,ca-certificates \
        bookworm "$root/fs" "$DEBIAN_MIRROR" >"$root/debootstrap.log" 2>&1 \
        || { tail -20 "$root/debootstrap.log" >&2; fail "debootstrap failed"; }
    # Like the official image: pip installs into the system Python, python/pip on PATH.
    rm -f "$root"/fs/usr/lib/python3*/EXTERNALLY-MANAGED
    ln -sf /usr/bin/python3 "$root/fs/usr/local/bin/python"
    ln -sf /usr/bin/pip3 "$root/fs/usr/local/bin/pip"
    if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
        cp /usr/local/share/ca-certificates/*.crt "$root/fs/usr/local/share/ca-certificates/"
        chroot "$root/fs" update-ca-certificates >/dev/null 2>&1
    fi
    # Slim: no package lists, downloaded packages, docs or translations.
    rm -rf "$root"/fs/var/cache/apt/archives/*.deb "$root"/fs/var/lib/apt/lists/* \
        "$root"/fs/usr/share/doc "$root"/fs/usr/share/man "$root"/fs/usr/share/locale
    tar -C "$root/fs" -c . | docker import \
        -c 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
        -c 'ENV LANG=C.UTF-8' -c 'CMD ["python3"]' -c "LABEL $STAND_IN_LABEL=$image" \
        - "$image" >/dev/null
    remove_scratch
}

nginx_stand_in() {
    local image=$1 base container
    base=$(dockerfile_images | grep -m1 '^python:3\.11') \
        || fail "the nginx stand-in is made on the Dockerfile's python:3.11 image, which it no longer names"
    say "making a local stand-in for $image: Debian's nginx-light on $base"
    container=descentlab-stand-in-nginx-$$
    docker rm -f "$container" >/dev/null 2>&1 || true
    docker run --name "$container" "$base" sh -c '
        export DEBIAN_FRONTEND=noninteractive
        { apt-get update -qq && apt-get install -y -qq --no-install-recommends nginx-light wget; } \
            >/tmp/apt.log 2>&1 || { cat /tmp/apt.log; exit 1; }
        rm -rf /tmp/apt.log /var/lib/apt/lists/* /var/cache/apt/*.bin /etc/nginx/sites-enabled/default
        ln -sf /dev/stdout /var/log/nginx/access.log && ln -sf /dev/stderr /var/log/nginx/error.log' \
        >/dev/null || { docker rm -f "$container" >/dev/null; fail "installing nginx in the stand-in failed"; }
    docker commit -c 'CMD ["nginx", "-g", "daemon off;"]' -c 'EXPOSE 80' \
        -c "LABEL $STAND_IN_LABEL=$image" "$container" "$image" >/dev/null
    docker rm "$container" >/dev/null
}

postgres_stand_in() {
    local image=$1 base container
    base=$(dockerfile_images | grep -m1 '^python:3\.11') \
        || fail "the postgres stand-in is made on the Dockerfile's python:3.11 image, which it no longer names"
    say "making a local stand-in for $image: Debian's PostgreSQL 15 on $base"
    container=descentlab-stand-in-postgres-$$
    docker rm -f "$container" >/dev/null 2>&1 || true
    docker run --name "$container" "$base" sh -c '
        export DEBIAN_FRONTEND=noninteractive
        { apt-get update -qq && apt-get install -y -qq --no-install-recommends postgresql-15; } \
            >/tmp/apt.log 2>&1 || { cat /tmp/apt.log; exit 1; }
        rm -rf /tmp/apt.log /var/lib/apt/lists/* /var/cache/apt/*.bin
        cat >/usr/local/bin/docker-entrypoint.sh <<"SH"
#!/bin/sh
# The official image'"'"'s contract, as far as compose.yaml uses it.
set -eu
BIN=/usr/lib/postgresql/15/bin
PGDATA=/var/lib/postgresql/data
user=${POSTGRES_USER:-postgres}
mkdir -p "$PGDATA" /var/run/postgresql
chown -R postgres:postgres "$PGDATA" /var/run/postgresql
chmod 700 "$PGDATA"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    printf "%s" "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is required}" >/tmp/pw
    chown postgres /tmp/pw
    su postgres -c "$BIN/initdb -D $PGDATA -U $user --pwfile=/tmp/pw --auth-local=trust --auth-host=scram-sha-256" >/dev/null
    rm -f /tmp/pw
    echo "listen_addresses = '"'"'*'"'"'" >>"$PGDATA/postgresql.conf"
    echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
    db=${POSTGRES_DB:-$user}
    if [ "$db" != postgres ]; then
        su postgres -c "$BIN/pg_ctl -D $PGDATA -o \"-c listen_addresses=\" -w start" >/dev/null
        su postgres -c "$BIN/psql -U $user -d postgres -c \"CREATE DATABASE \\\"$db\\\"\"" >/dev/null
        su postgres -c "$BIN/pg_ctl -D $PGDATA -m fast -w stop" >/dev/null
    fi
fi
exec su postgres -c "exec $BIN/postgres -D $PGDATA"
SH
        chmod +x /usr/local/bin/docker-entrypoint.sh' \
        >/dev/null || { docker rm -f "$container" >/dev/null; fail "installing PostgreSQL in the stand-in failed"; }
    docker commit -c 'ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
        -c 'CMD ["/usr/local/bin/docker-entrypoint.sh"]' -c 'EXPOSE 5432' \
        -c "LABEL $STAND_IN_LABEL=$image" "$container" "$image" >/dev/null
    docker rm "$container" >/dev/null
}

made=()
# The Dockerfile's first: the nginx stand-in is made on its Python base.
for image in $( (dockerfile_images; compose_images) | awk '!seen[$0]++'); do
    if present "$image"; then
        labels='{{with .Config.Labels}}{{index . "'$STAND_IN_LABEL'"}}{{end}}'
        if [ -n "$(docker image inspect -f "$labels" "$image")" ]; then
            made+=("$image (local stand-in)")
        else
            made+=("$image")
        fi
        continue
    fi
    if pull "$image" >/dev/null 2>&1; then
        made+=("$image (pulled)")
        continue
    fi
    case $image in
        python:3.11-*) python_stand_in "$image" ;;
        nginx:*) nginx_stand_in "$image" ;;
        postgres:*) postgres_stand_in "$image" ;;
        *) fail "cannot pull $image and have no local stand-in for it: add a recipe to $0" ;;
    esac
    made+=("$image (local stand-in, new)")
done

list=$(printf '%s, ' "${made[@]}")
say "ready: Docker $(docker version --format '{{.Server.Version}}'); images: ${list%, }"
