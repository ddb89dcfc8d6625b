#!/usr/bin/env bash
# run.sh BUILD_DIR: the README's main job. Starts a local socpd on loopback
# (127.0.0.1:${SOCP_PORT:-8765}) unless one is already listening there, then
# opens the socp client connected to it. Run it again in a second terminal
# with another data directory to chat with yourself:
#     make run                     # first user, data in ./.socp
#     SOCP_HOME=./bob make run     # second user, same local server
# The server keeps its state in ./.socpd (log: ./.socpd/socpd.log) and keeps
# running after the client exits; stop it with: kill "$(cat .socpd/socpd.pid)"
set -euo pipefail
dir=${1:-build/cc}
shift || true
port=${SOCP_PORT:-8765}
srv_dir=${SOCPD_HOME:-./.socpd}

listening() {
    # A TCP probe of the loopback port (bash's /dev/tcp; no data is sent).
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
}

if listening; then
    echo "run: reusing the socpd already listening on 127.0.0.1:$port" >&2
else
    mkdir -p "$srv_dir"
    chmod 700 "$srv_dir"
    echo "run: starting socpd on 127.0.0.1:$port (state in $srv_dir, log in $srv_dir/socpd.log)" >&2
    nohup "$dir/socpd" --host 127.0.0.1 --port "$port" --data-dir "$srv_dir" --plain-key \
        >"$srv_dir/socpd.out" 2>"$srv_dir/socpd.log" </dev/null &
    echo $! >"$srv_dir/socpd.pid"
    for _ in $(seq 1 100); do
        listening && break
        if ! kill -0 "$(cat "$srv_dir/socpd.pid")" 2>/dev/null; then
            echo "run: socpd failed to start; see $srv_dir/socpd.log" >&2
            tail -n 5 "$srv_dir/socpd.log" >&2 || true
            exit 1
        fi
        sleep 0.1
    done
fi

echo "run: opening the client (data in ${SOCP_HOME:-./.socp}); type /help" >&2
exec "$dir/socp" --server "ws://127.0.0.1:$port" "$@"
