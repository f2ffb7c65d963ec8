# shellcheck shell=bash
# Helpers for scripts/test: install what the tests need and run the services
# they talk to, each in a throwaway folder, stopped by PID at the end.

log() { echo "scripts/test: $*" >&2; }

# need_debs PKG:PROBE... installs the Debian packages whose probe (a command
# name or a path glob) is missing.
need_debs() {
  local missing=() spec pkg probe
  for spec in "$@"; do
    pkg=${spec%%:*} probe=${spec#*:}
    if [[ $probe == /* ]]; then
      compgen -G "$probe" >/dev/null && continue
    else
      command -v "$probe" >/dev/null 2>&1 && continue
    fi
    missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  local sudo=
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  (
    flock -w 600 9 || true
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -q >/dev/null &&
      $sudo apt-get install -y -q --no-install-recommends \
        -o DPkg::Lock::Timeout=300 -o Dpkg::Use-Pty=0 "${missing[@]}" >/dev/null
  ) 9>/tmp/capship-apt.lock </dev/null
}

# need_capgo_cli prints the path of the pinned Capgo CLI, installing it once
# into the user's cache.
CAPGO_CLI_VERSION=8.68.1
need_capgo_cli() {
  local dir="${XDG_CACHE_HOME:-$HOME/.cache}/capship-test/capgo-cli-$CAPGO_CLI_VERSION"
  local bin="$dir/node_modules/.bin/capgo"
  if [ ! -x "$bin" ]; then
    log "installing @capgo/cli@$CAPGO_CLI_VERSION into $dir"
    mkdir -p "$dir"
    (cd "$dir" && npm install --silent --no-audit --no-fund "@capgo/cli@$CAPGO_CLI_VERSION" >/dev/null </dev/null)
  fi
  echo "$bin"
}

# need_capgo_plugin prints the folder of the pinned @capgo/capacitor-updater
# npm package (its Android sources are under android/src/main/java), unpacked
# once into the user's cache.
CAPGO_PLUGIN_VERSION=8.51.23
need_capgo_plugin() {
  local dir="${XDG_CACHE_HOME:-$HOME/.cache}/capship-test/capgo-plugin-$CAPGO_PLUGIN_VERSION" tmp
  if [ ! -f "$dir/package.json" ]; then
    log "unpacking @capgo/capacitor-updater@$CAPGO_PLUGIN_VERSION into $dir"
    mkdir -p "${dir%/*}" && tmp=$(mktemp -d "$dir.XXXXXX") || return
    (cd "$tmp" && npm pack --silent "@capgo/capacitor-updater@$CAPGO_PLUGIN_VERSION" >/dev/null </dev/null &&
      tar -xzf ./*.tgz && { mv -T package "$dir" 2>/dev/null || [ -f "$dir/package.json" ]; })
    local rc=$?
    rm -rf -- "$tmp"
    [ $rc -eq 0 ] || return $rc
  fi
  echo "$dir"
}

# need_versitygw prints the path of the pinned Versity S3 gateway, the
# S3-protocol server the upload tests talk to, built once from its Go module
# into the user's cache (about 3.5 minutes on 2 cores, downloads included).
VERSITYGW_VERSION=v1.8.0
need_versitygw() {
  local dir="${XDG_CACHE_HOME:-$HOME/.cache}/capship-test/versitygw-$VERSITYGW_VERSION"
  if [ ! -x "$dir/versitygw" ]; then
    log "building versitygw@$VERSITYGW_VERSION into $dir"
    mkdir -p "$dir"
    (cd "$dir" && GOBIN="$dir" GOFLAGS= go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION" </dev/null)
  fi
  echo "$dir/versitygw"
}

pids=()
stop_services() {
  local pid i
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || continue
    for ((i = 0; i < 60; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  if [ -n "${pg_dir:-}" ] && [ -f "$pg_dir/data/postmaster.pid" ]; then
    runuser -u postgres -- "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1 || true
  fi
}

# start_keyring DIR: a private session bus with an unlocked gnome-keyring
# "login" collection; exports DBUS_SESSION_BUS_ADDRESS for the tests.
start_keyring() {
  local dir=$1 deadline addr
  mkdir -p -m 700 "$dir"/{home,run,data,config,cache}
  local env=(env -u GNOME_KEYRING_CONTROL -u DISPLAY -u WAYLAND_DISPLAY
    -u DBUS_SESSION_BUS_ADDRESS HOME="$dir/home" XDG_RUNTIME_DIR="$dir/run"
    XDG_DATA_HOME="$dir/data" XDG_CONFIG_HOME="$dir/config" XDG_CACHE_HOME="$dir/cache")
  "${env[@]}" dbus-daemon --session --nofork --nopidfile --address="unix:path=$dir/bus" \
    --print-address=3 3>"$dir/bus.addr" </dev/null >/dev/null 2>"$dir/dbus.log" &
  pids+=($!)
  deadline=$((SECONDS + 20))
  until [ -s "$dir/bus.addr" ]; do
    [ $SECONDS -lt $deadline ] || { cat "$dir/dbus.log" >&2; log "dbus-daemon did not start"; return 1; }
    sleep 0.02
  done
  addr=$(head -n 1 "$dir/bus.addr")
  printf 'capship-test' | "${env[@]}" DBUS_SESSION_BUS_ADDRESS="$addr" \
    gnome-keyring-daemon --foreground --unlock --components=secrets \
    >"$dir/gkd.out" 2>"$dir/gkd.log" &
  pids+=($!)
  local call=(env DBUS_SESSION_BUS_ADDRESS="$addr" dbus-send --session --print-reply)
  # Ask the bus (NameHasOwner never activates anything) before talking to
  # org.freedesktop.secrets: a call to it while our daemon is still starting
  # would D-Bus-activate a second, locked gnome-keyring that takes the name.
  until "${call[@]}" --dest=org.freedesktop.DBus /org/freedesktop/DBus \
    org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q 'boolean true' &&
    "${call[@]}" --dest=org.freedesktop.secrets /org/freedesktop/secrets/collection/login \
    org.freedesktop.DBus.Properties.Get string:org.freedesktop.Secret.Collection string:Locked \
    2>/dev/null | grep -q 'boolean false'; do
    [ $SECONDS -lt $deadline ] || { cat "$dir/gkd.log" >&2; log "gnome-keyring did not unlock"; return 1; }
    sleep 0.05
  done
  export DBUS_SESSION_BUS_ADDRESS="$addr"
  export GNOME_KEYRING_CONTROL="$dir/run/keyring"
}

# start_postgres DIR: a throwaway PostgreSQL cluster listening only on a unix
# socket in DIR; exports CAPSHIP_TEST_POSTGRES (a postgres:// URL).
start_postgres() {
  pg_dir=$1
  pg_bin=$(dirname "$(compgen -G '/usr/lib/postgresql/*/bin/postgres' | sort -V | tail -n 1)")
  mkdir -p "$pg_dir"
  chown postgres "$pg_dir" 2>/dev/null || true
  chmod 755 "$(dirname "$pg_dir")"
  runuser -u postgres -- "$pg_bin/initdb" -D "$pg_dir/data" -A trust -U capship >"$pg_dir/initdb.log" 2>&1 ||
    { cat "$pg_dir/initdb.log" >&2; return 1; }
  runuser -u postgres -- "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w -t 30 \
    -o "-c listen_addresses='' -c unix_socket_directories='$pg_dir' -c fsync=off" start >/dev/null ||
    { cat "$pg_dir/server.log" >&2; return 1; }
  runuser -u postgres -- "$pg_bin/createdb" -h "$pg_dir" -U capship capship_test
  export CAPSHIP_TEST_POSTGRES="postgres://capship@/capship_test?host=$pg_dir&sslmode=disable"
}

# start_s3 BIN DIR: the Versity S3 gateway on a free loopback port, storing
# buckets as folders under DIR, with a fresh access key and secret; exports
# CAPSHIP_TEST_S3_ENDPOINT, CAPSHIP_TEST_S3_ACCESS_KEY and _SECRET_KEY (the
# root account's: each test creates the buckets it uses), and
# CAPSHIP_TEST_S3_USER_ACCESS_KEY and _USER_SECRET_KEY: an account of the
# "user" role, made through the gateway's admin API, that the root's
# buckets refuse (403 AccessDenied).
start_s3() {
  local bin=$1 dir=$2 port admin try deadline pid
  mkdir -p "$dir/data" "$dir/iam"
  local access="capship$RANDOM$RANDOM" secret user="user$RANDOM$RANDOM" user_secret
  secret=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
  user_secret=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
  for try in 1 2 3 4 5; do
    port=$((20000 + RANDOM % 20000))
    admin=$((port + 1))
    ROOT_ACCESS_KEY_ID=$access ROOT_SECRET_ACCESS_KEY=$secret \
      "$bin" --port "127.0.0.1:$port" --admin-port "127.0.0.1:$admin" --iam-dir "$dir/iam" \
      posix "$dir/data" </dev/null >"$dir/server.log" 2>&1 &
    pid=$!
    deadline=$((SECONDS + 20))
    until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && (exec 3<>"/dev/tcp/127.0.0.1/$admin") 2>/dev/null; do
      kill -0 "$pid" 2>/dev/null || break
      [ $SECONDS -lt $deadline ] || { kill "$pid"; break; }
      sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null; then
      pids+=("$pid")
      if ! "$bin" admin --access "$access" --secret "$secret" --endpoint-url "http://127.0.0.1:$admin" \
        create-user --access "$user" --secret "$user_secret" --role user </dev/null >>"$dir/server.log" 2>&1; then
        cat "$dir/server.log" >&2
        log "versitygw did not create its user account"
        return 1
      fi
      export CAPSHIP_TEST_S3_ENDPOINT="http://127.0.0.1:$port"
      export CAPSHIP_TEST_S3_ACCESS_KEY=$access CAPSHIP_TEST_S3_SECRET_KEY=$secret
      export CAPSHIP_TEST_S3_USER_ACCESS_KEY=$user CAPSHIP_TEST_S3_USER_SECRET_KEY=$user_secret
      return 0
    fi
    wait "$pid" 2>/dev/null || true
  done
  cat "$dir/server.log" >&2
  log "versitygw did not start"
  return 1
}
