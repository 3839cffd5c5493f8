# Throwaway PostgreSQL and Redis servers for the tests, each in its own temporary folder on a free
# loopback port, started and stopped by pid. Sourced by .ci/run; usable by hand:
#   source .ci/services.sh; start_postgres; export MEMSAFE_TEST_POSTGRES_URL; ...; stop_postgres
# PostgreSQL refuses to run as root: as root, the server runs as Debian's `postgres` user.

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

as_pg() {  # run a PostgreSQL program as a non-root user
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start_postgres() {
    local bin; bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
    PG_DIR="$(mktemp -d -t memsafe-pg.XXXXXX)"
    PG_PORT="$(free_port)"
    [ "$(id -u)" -ne 0 ] || chown postgres "$PG_DIR"
    as_pg "$bin/initdb" -D "$PG_DIR/data" -U memsafe --auth=trust >"$PG_DIR/initdb.log" 2>&1
    as_pg "$bin/postgres" -D "$PG_DIR/data" -h 127.0.0.1 -p "$PG_PORT" -k "$PG_DIR" \
        >"$PG_DIR/server.log" 2>&1 &
    PG_WRAPPER=$!   # postgres itself, or runuser waiting for it
    local i
    for i in $(seq 1 60); do
        [ -s "$PG_DIR/data/postmaster.pid" ] && "$bin/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" && break
        sleep 0.5
    done
    PG_PID="$(head -1 "$PG_DIR/data/postmaster.pid")"   # the server itself, not the runuser wrapper
    MEMSAFE_TEST_POSTGRES_URL="postgresql://memsafe@127.0.0.1:$PG_PORT/postgres"
    echo "$("$bin/postgres" -V) on 127.0.0.1:$PG_PORT (pid $PG_PID, $PG_DIR)"
}

stop_postgres() {
    [ -n "${PG_PID:-}" ] || return 0
    kill -INT "$PG_PID" 2>/dev/null || true   # fast shutdown
    local i
    for i in $(seq 1 60); do kill -0 "$PG_PID" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$PG_PID" 2>/dev/null || true
    wait "$PG_WRAPPER" 2>/dev/null || true
    rm -rf "$PG_DIR"
    PG_PID=""
}

start_redis() {
    REDIS_DIR="$(mktemp -d -t memsafe-redis.XXXXXX)"
    REDIS_PORT="$(free_port)"
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$REDIS_DIR" --save '' --appendonly no \
        --daemonize no >"$REDIS_DIR/server.log" 2>&1 &
    REDIS_PID=$!
    local i
    for i in $(seq 1 60); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.5; done
    MEMSAFE_TEST_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
    echo "Redis on 127.0.0.1:$REDIS_PORT (pid $REDIS_PID)"
}

stop_redis() {
    [ -n "${REDIS_PID:-}" ] || return 0
    kill -TERM "$REDIS_PID" 2>/dev/null || true
    wait "$REDIS_PID" 2>/dev/null || true
    rm -rf "$REDIS_DIR"
    REDIS_PID=""
}
