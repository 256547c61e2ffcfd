#!/usr/bin/env bash
# The image built and run as README "Docker" says, with no container registry (CI runs it after the tests):
# Debian's docker.io daemon, started here without its bridge and firewall rules (every build and run uses
# --network host), and a python:3.11-slim stand-in made offline: Debian 12 by debootstrap plus this machine's
# own CPython 3.11 (Debian's 3.11.2 is older than some locked packages allow). Needs root, Debian's apt
# repositories and PyPI. Adapted from a tested recipe (shared/recipes/docker-offline.sh).
# Proves: the batch process with named volumes (ran=4, then ran=0 reused=4), a models volume the app cannot
# write (one line, exit 2), the online process serving that model (/health, /predict), and Carol mode against
# the sandbox. If the engine cannot start, this fails: a CI that cannot run docker must not look green.
# W: work folder (daemon data, logs), removed at the end unless KEEP=1; a daemon already answering on
# $W/docker.sock and a python:3.11-slim already in it are reused.
set -euo pipefail
cd "$(dirname "$0")/.."
W=${W:-$(mktemp -d /tmp/docker-ci.XXXXXX)}
PYTHON=${PYTHON:-.venv/bin/python}   # the project's venv (make install-dev), for the sandbox
IMAGE=bostonhouse
mkdir -p "$W"
export DOCKER_HOST=unix://$W/docker.sock
T0=$(date +%s)
step() { local name=$1 s; shift; s=$(date +%s); "$@"; echo "STEP $name: $(( $(date +%s) - s )) s" >&2; }
fail() { echo "docker check FAILED: $*" >&2; exit 1; }

DOCKERD_PID= SANDBOX_PID=
cleanup() {
    local rc=$?
    [ "$rc" = 0 ] || tail -n 25 "$W"/*.log 2>/dev/null || true
    [ -z "$SANDBOX_PID" ] || kill "$SANDBOX_PID" 2>/dev/null || true
    docker rm -f "$IMAGE-online" >/dev/null 2>&1 || true
    mountpoint -q "$W/rootfs/proc" 2>/dev/null && umount "$W/rootfs/proc"
    if [ "${KEEP:-0}" != 1 ]; then
        if [ -n "$DOCKERD_PID" ]; then
            kill "$DOCKERD_PID" 2>/dev/null || true
            for _ in $(seq 1 60); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.5; done
        fi
        for m in $(grep -o " $W/[^ ]*" /proc/mounts | sort -r); do umount "$m" 2>/dev/null || true; done
        # the daemon's layers are many small files (about 100 s to delete): removed after this script ends
        mv "$W" "$W.removing" && (setsid rm -rf "$W.removing" >/dev/null 2>&1 &)
    fi
    echo "docker check TOTAL: $(( $(date +%s) - T0 )) s (exit $rc)" >&2
}
trap cleanup EXIT

engine() {
    [ "$(id -u)" = 0 ] || fail "needs root: it starts its own dockerd"
    if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker.io debootstrap >"$W/apt.log" 2>&1 ||
            fail "apt-get install docker.io debootstrap failed (see $W/apt.log)"
    fi
    docker info >/dev/null 2>&1 && return 0
    dockerd --data-root "$W/docker" --exec-root "$W/exec" --pidfile "$W/dockerd.pid" -H "$DOCKER_HOST" \
        --bridge=none --iptables=false >"$W/dockerd.log" 2>&1 &
    DOCKERD_PID=$!
    for _ in $(seq 1 120); do
        docker info >/dev/null 2>&1 && break
        kill -0 "$DOCKERD_PID" 2>/dev/null || fail "dockerd exited at start (see $W/dockerd.log)"
        sleep 0.25
    done
    docker info >/dev/null 2>&1 || fail "dockerd did not answer within 30 s (see $W/dockerd.log)"
    docker info --format 'engine {{.ServerVersion}}, {{.Driver}}, cgroup v{{.CgroupVersion}}'
}

# The stand-in for python:3.11-slim: Debian 12 minbase, the shared libraries CPython needs, and the CPython 3.11
# running this script copied to /usr/local without its site-packages (pip comes from its own ensurepip).
base_image() {
    docker image inspect python:3.11-slim >/dev/null 2>&1 && return 0
    local R=$W/rootfs prefix mirror
    prefix=$(python3 -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version; print(sys.base_prefix)') ||
        fail "python3 on this machine is not CPython 3.11"
    mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null ||
             awk '/^deb /{print $2; exit}' /etc/apt/sources.list)
    rm -rf "$R"
    debootstrap --variant=minbase bookworm "$R" "$mirror" >"$W/debootstrap.log" 2>&1 || fail "debootstrap failed"
    cp /etc/apt/sources.list.d/*.sources "$R/etc/apt/sources.list.d/" 2>/dev/null && rm -f "$R/etc/apt/sources.list" || true
    mount -t proc proc "$R/proc"
    chroot "$R" sh -c 'export DEBIAN_FRONTEND=noninteractive; apt-get update -q && apt-get install -y -q \
        --no-install-recommends ca-certificates libssl3 libsqlite3-0 libffi8 libuuid1 libbz2-1.0 liblzma5 zlib1g \
        libreadline8 libncursesw6 libexpat1' >"$W/chroot-apt.log" 2>&1 || fail "apt-get in the stand-in failed"
    umount "$R/proc"
    # the machine's own CAs (TLS to the package registries may be intercepted); PIP_CERT below points pip at them
    cp /usr/local/share/ca-certificates/*.crt "$R/usr/local/share/ca-certificates/" 2>/dev/null || true
    chroot "$R" update-ca-certificates >/dev/null 2>&1
    tar -C "$prefix" --exclude=lib/python3.11/site-packages --exclude=lib/python3.11/test --exclude='*/__pycache__' \
        --exclude='*.a' -c lib include |
        tar -C "$R/usr/local" -x
    cp "$prefix/bin/python3.11" "$R/usr/local/bin/"
    mkdir -p "$R/usr/local/lib/python3.11/site-packages"
    chroot "$R" ldconfig  # a --enable-shared build finds its libpython in /usr/local/lib
    chroot "$R" /usr/local/bin/python3.11 -c 'import ssl, sqlite3, ctypes, lzma, bz2, zlib, uuid, readline' ||
        fail "the copied CPython does not run in the stand-in"
    chroot "$R" /usr/local/bin/python3.11 -m ensurepip --default-pip >"$W/ensurepip.log" 2>&1 || fail "ensurepip failed"
    for n in python python3; do ln -sf python3.11 "$R/usr/local/bin/$n"; done
    chroot "$R" apt-get clean
    rm -rf "$R"/var/lib/apt/lists/* "$R"/usr/share/doc/* "$R"/usr/share/man/* "$R"/usr/share/locale/*
    tar -C "$R" -c . | docker import --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
        --change 'CMD ["python3"]' - python:3.11-slim >/dev/null
    rm -rf "$R"
}

build() {
    docker build -q --network host --force-rm -t "$IMAGE" . >"$W/build.log" 2>&1 || fail "docker build failed (see $W/build.log)"
    docker images --format '{{.Repository}}:{{.Tag}} {{.Size}}' "$IMAGE"
}

# summary LOG: the last line a run printed
summary() { tail -n 1 "$1"; }
expect_summary() {  # expect_summary NAME PATTERN -- docker run arguments
    local name=$1 pattern=$2; shift 3
    docker run --rm --network host "$@" >"$W/$name.out" 2>"$W/$name.log" || true
    summary "$W/$name.out" | grep -Eq "$pattern" || fail "$name: expected '$pattern', got: $(summary "$W/$name.out")"
    echo "$name: $(summary "$W/$name.out")"
}

batch() {
    [ "$(docker run --rm --network host "$IMAGE" id -u)" = 10001 ] || fail "the image does not run as uid 10001"
    docker volume rm -f "$IMAGE-targets" "$IMAGE-models" >/dev/null
    local volumes=(-v "$IMAGE-targets:/app/luigi_targets" -v "$IMAGE-models:/app/models")
    expect_summary batch-1 '^summary: status=SUCCESS ran=4 reused=0 deployed=[0-9]' -- "${volumes[@]}" "$IMAGE"
    expect_summary batch-2 '^summary: status=SUCCESS ran=0 reused=4 deployed=none' -- "${volumes[@]}" "$IMAGE"
}

unwritable_models() {
    mkdir -p "$W/root-owned" && chmod 755 "$W/root-owned"
    local rc=0
    docker run --rm --network host -v "$IMAGE-targets:/app/luigi_targets" -v "$W/root-owned:/app/models" "$IMAGE" \
        >"$W/unwritable.out" 2>"$W/unwritable.log" || rc=$?
    [ "$rc" = 2 ] || fail "a models folder the app cannot write: exit $rc, expected 2"
    grep -q "cannot be written by this user" "$W/unwritable.log" && ! grep -q Traceback "$W/unwritable.log" ||
        fail "a models folder the app cannot write: $(cat "$W/unwritable.log")"
    echo "unwritable models folder: exit 2, $(grep -m1 '^error:' "$W/unwritable.log")"
}

online() {
    local port url
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    url=http://127.0.0.1:$port
    # as README says, but on a free loopback port (--network host shares the machine's ports)
    docker run -d --name "$IMAGE-online" --network host -e PROCESS_TYPE=online \
        -v "$IMAGE-models:/app/models:ro" "$IMAGE" python start.py --bind "127.0.0.1:$port" >/dev/null
    for _ in $(seq 1 240); do curl -sf "$url/health" >/dev/null && break; sleep 0.25; done
    docker logs "$IMAGE-online" >"$W/online.log" 2>&1
    curl -sf "$url/health" >/dev/null || fail "online: /health did not answer 200 within 60 s"
    curl -sf -X POST "$url/predict" -H 'Content-Type: application/json' -d '{"CRIM": 0.02, "ZN": 0, "INDUS": 7.1,
      "CHAS": 0, "NOX": 0.47, "RM": 6.4, "AGE": 79, "DIS": 4.97, "RAD": 2, "TAX": 242, "PTRATIO": 17.8,
      "B": 396.9, "LSTAT": 9.1}' | grep -q '"predictions":\[' || fail "online: /predict did not answer a prediction"
    echo "online: /health 200, /predict 200"
    docker rm -f "$IMAGE-online" >/dev/null
}

# Carol mode: the sandbox (sandbox/README.md) on this machine's loopback, which --network host shares
carol_mode() {
    local folder=$W/sandbox
    mkdir -p "$folder"
    "$PYTHON" -m sandbox --folder "$folder" --carol-port 0 --storage-port 0 --storage-read-port 0 \
        --env-file "$folder/.env.sandbox" >"$W/sandbox.log" 2>&1 &
    SANDBOX_PID=$!
    for _ in $(seq 1 240); do [ -s "$folder/.env.sandbox" ] && break; sleep 0.25; done
    [ -s "$folder/.env.sandbox" ] || fail "the sandbox did not start (see $W/sandbox.log)"
    chmod -R a+rX "$folder"
    # the same paths inside the container: the env file names the sandbox's CA by its path here
    expect_summary carol-1 '^summary: status=SUCCESS ran=4 reused=0 deployed=[0-9]' -- \
        --env-file "$folder/.env.sandbox" -v "$folder:$folder:ro" "$IMAGE"
    expect_summary carol-2 '^summary: status=SUCCESS ran=0 reused=4 deployed=none' -- \
        --env-file "$folder/.env.sandbox" -v "$folder:$folder:ro" "$IMAGE"
}

step engine engine
step base-image base_image
step build build
step batch batch
step unwritable unwritable_models
step online online
step carol-mode carol_mode
echo "docker check: OK"
