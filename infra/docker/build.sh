#!/usr/bin/env bash
# Offline images of the whole deployment, built from Debian packages only (no public image registry):
#   hslr-offline/base        debootstrap --variant=minbase bookworm, imported (docker import)
#   hslr-offline/kafka       + OpenJDK 17 + the broker jars infra/kafka/pom.xml pins (infra/kafka.sh libs)
#   hslr-offline/postgres    + postgresql-15          hslr-offline/redis       + redis-server
#   hslr-offline/prometheus  + prometheus             hslr-offline/hslr        + python3, the project's wheels
# Every image is tagged with a content hash of what goes into it (its recipe, Dockerfile and build
# context, and its base's hash) and skipped when that tag exists, so a second run costs seconds;
# `:latest` points at the newest build (docker-compose.offline.yml names those).
# Package downloads (Debian archive, PyPI wheels, Maven Central) happen here, at build time, through the
# host network (`--network host`: the engine runs with --iptables=false, so bridge networks have no NAT).
#
# Usage: infra/docker/build.sh [base|kafka|postgres|redis|prometheus|hslr|all]...   (default: all)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/infra/docker/images"
CACHE="${HSLR_DOCKER_CACHE:-$ROOT/.cache/docker}"
# wheelhouses are shared by every checkout of this machine (a CI clone reuses a developer's)
WHEELS="${HSLR_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hslr/wheels}"
PY="${HSLR_PYTHON:-$ROOT/.venv/bin/python}"
[[ -x "$PY" ]] || PY=python3
SUITE=bookworm
MIRROR="${HSLR_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
REPO=hslr-offline
SERVICES=(kafka postgres redis prometheus hslr)

die() { echo "build.sh: $*" >&2; exit 1; }
log() { echo "build.sh: $*" >&2; }
have_image() { docker image inspect "$1" >/dev/null 2>&1; }

tree_hash() {  # tree_hash DIR: sha256 of every file's relative path and content, in a fixed order
  (cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
}

# --- base -----------------------------------------------------------------------------------------
base_recipe() {
  # Everything that decides the root file system; a change here makes a new base (and new images).
  printf 'debootstrap --variant=minbase %s %s\nrev 2: nodoc (man1 kept for update-alternatives), norecommends, no apt lists\n' "$SUITE" "$MIRROR"
}

build_base() {
  local hash tag rootfs
  hash="$(base_recipe | sha256sum | cut -c1-16)"
  tag="$REPO/base:$hash"
  if ! have_image "$tag"; then
    command -v debootstrap >/dev/null || die "debootstrap is missing (infra/docker/engine.sh up installs it)"
    rootfs="$CACHE/rootfs-$hash"
    rm -rf "$rootfs"
    mkdir -p "$CACHE"
    log "debootstrap $SUITE (minbase) from $MIRROR"
    debootstrap --variant=minbase "$SUITE" "$rootfs" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 \
      || die "debootstrap failed; see $CACHE/debootstrap.log"
    # Later apt-get installs in the service images skip documentation and recommended packages.
    cat >"$rootfs/etc/dpkg/dpkg.cfg.d/01-hslr-nodoc" <<'CFG'
path-exclude /usr/share/doc/*
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
CFG
    printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\nAPT::Get::Assume-Yes "true";\n' \
      >"$rootfs/etc/apt/apt.conf.d/01-hslr"
    printf 'deb %s %s main\ndeb %s %s-updates main\n' "$MIRROR" "$SUITE" "$MIRROR" "$SUITE" \
      >"$rootfs/etc/apt/sources.list"
    rm -rf "$rootfs"/usr/share/{doc,man,info}/* "$rootfs"/var/cache/apt/*.bin \
      "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    mkdir -p "$rootfs/usr/share/man/man1"  # update-alternatives links man pages there (OpenJDK fails without)
    tar -C "$rootfs" -c . | docker import \
      -c 'ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8' -c 'CMD ["/bin/bash"]' - "$tag" >/dev/null
    rm -rf "$rootfs"
  fi
  docker tag "$tag" "$REPO/base:latest"
  echo "$tag"
}

# --- build contexts ---------------------------------------------------------------------------------
ctx_kafka() {
  local libs
  libs="$(bash "$ROOT/infra/kafka.sh" libs)"
  mkdir -p "$1/libs"
  cp -l "$libs"/*.jar "$1/libs/" 2>/dev/null || cp "$libs"/*.jar "$1/libs/"
  cp "$HERE"/kafka-entrypoint.sh "$HERE"/kafka-broker-api-versions.sh "$1/"
}
ctx_postgres() { cp "$HERE/postgres-entrypoint.sh" "$1/"; }
ctx_redis() { :; }
ctx_prometheus() { :; }

wheelhouse() {
  # The project's runtime requirements and their dependencies, as wheels, at the versions installed in
  # the checkout's venv (the versions the tests ran with); sdists are built into wheels here. The image
  # installs exactly these files. Cached by the requirement list and the pins.
  local reqs hash dir
  reqs="$("$PY" - "$ROOT/pyproject.toml" <<'PYEOF'
import subprocess, sys, tomllib
deps = tomllib.load(open(sys.argv[1], "rb"))["project"]["dependencies"]
frozen = subprocess.run([sys.executable, "-m", "pip", "freeze", "--exclude-editable"],
                        capture_output=True, text=True, check=True).stdout.splitlines()
print("\n".join(deps))
print("# constraints")
print("\n".join(line for line in frozen if "==" in line and not line.startswith("-e")))
PYEOF
)"
  hash="$(printf '%s' "$reqs" | sha256sum | cut -c1-16)"
  dir="$WHEELS/$hash"
  if [[ ! -f "$dir/.complete" ]]; then
    rm -rf "$dir"; mkdir -p "$dir"
    printf '%s\n' "$reqs" | sed -n '1,/^# constraints$/p' | grep -v '^#' >"$dir/requirements.txt"
    printf '%s\n' "$reqs" | sed -n '/^# constraints$/,$p' | grep -v '^#' >"$dir/constraints.txt"
    log "wheelhouse: pip wheel $(wc -l <"$dir/requirements.txt") requirements"
    "$PY" -m pip wheel -q --wheel-dir "$dir" -r "$dir/requirements.txt" -c "$dir/constraints.txt" >&2 \
      || die "pip wheel failed"
    touch "$dir/.complete"
  fi
  echo "$dir"
}

ctx_hslr() {
  local wheels f
  wheels="$(wheelhouse)"
  mkdir -p "$1/wheels" "$1/app"
  cp -l "$wheels"/*.whl "$1/wheels/" 2>/dev/null || cp "$wheels"/*.whl "$1/wheels/"
  # the source the image runs: tracked and untracked-but-not-ignored files of the runtime packages
  (cd "$ROOT" && git ls-files -z --cached --others --exclude-standard -- \
      streams models backtest schemas infra/db/migrations pyproject.toml \
    | while IFS= read -r -d '' f; do [[ -f "$f" ]] && printf '%s\0' "$f"; done \
    | tar --null -T - -cf -) | tar -C "$1/app" -xf -
}

build_service() {  # build_service NAME BASE_TAG
  local name="$1" base="$2" ctx hash tag
  ctx="$CACHE/ctx/$name"
  rm -rf "$ctx"; mkdir -p "$ctx"
  "ctx_$name" "$ctx"
  cp "$HERE/$name.Dockerfile" "$ctx/Dockerfile"
  echo "$base" >"$ctx/.base"
  hash="$(tree_hash "$ctx")"
  tag="$REPO/$name:$hash"
  if ! have_image "$tag"; then
    log "building $tag"
    docker build -q --network host --build-arg "BASE=$base" -t "$tag" "$ctx" >/dev/null \
      || die "docker build of $name failed (context $ctx)"
  fi
  docker tag "$tag" "$REPO/$name:latest"
  rm -rf "$ctx"
  # older builds of this image go (their layers stay while the new one shares them): disk stays bounded
  docker images "$REPO/$name" --format '{{.Repository}}:{{.Tag}}' | grep -v -e ":latest$" -e "^$tag$" \
    | xargs -r docker rmi >/dev/null 2>&1 || true
  echo "$tag"
}

main() {
  docker info >/dev/null 2>&1 || die "no Docker engine answers (start one: infra/docker/engine.sh up)"
  local targets=("$@") base t0
  [[ ${#targets[@]} -eq 0 || " ${targets[*]} " == *" all "* ]] && targets=(base "${SERVICES[@]}")
  base="$(build_base)"
  for name in "${targets[@]}"; do
    [[ "$name" == base ]] && { echo "$base"; continue; }
    [[ " ${SERVICES[*]} " == *" $name "* ]] || die "unknown image '$name' (base ${SERVICES[*]} all)"
    t0=$SECONDS
    build_service "$name" "$base"
    log "$name ready in $((SECONDS - t0)) s"
  done
}

main "$@"
