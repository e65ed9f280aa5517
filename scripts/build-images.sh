#!/usr/bin/env bash
# Builds the image of every service from the one Dockerfile, tagged tollgate/<service>:<tag>
# (underscores become dashes: tollgate/budget-ledger), and the single-process suite's,
# tollgate/single-process:<tag>; shows progress and prints each image's size. `make images` runs
# it; so does the container test.
#
# The layers before `ARG SERVICE` in the Dockerfile are the same for every image, so the first
# build pays for the base, uv and the wheels and the others reuse them. Builds run one after
# the other: they share those layers and the machine's cores. The suite's image adds about 35 s
# to a build from scratch here (2 cores) and nothing when its sources are unchanged.
#
# Environment:
#   BASE_IMAGE          base to build on (default: the local one scripts/base-image.sh makes,
#                       because no registry is needed for it; the Dockerfile's own default is
#                       python:3.11-slim-bookworm, which production builds use)
#   TOLLGATE_IMAGE_TAG  tag of the images (default dev)
#   TOLLGATE_SERVICES   images to build, space separated module names (default: every folder
#                       under services/, single_process included)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
tag=${TOLLGATE_IMAGE_TAG:-dev}
services=${TOLLGATE_SERVICES:-$(for p in services/*/pyproject.toml; do basename "$(dirname "$p")"; done)}

if ! docker info >/dev/null 2>&1; then
  echo "no Docker engine answers: start one (as root) with scripts/docker-engine.sh" >&2
  exit 1
fi
base=${BASE_IMAGE:-$(scripts/base-image.sh)}

# BuildKit builds independent stages in parallel and commits no container per step, which makes
# it several times faster than the classic builder here. `docker buildx` provides it; Docker
# clients before 23.0 (such as Debian's docker.io) have it built in behind DOCKER_BUILDKIT=1.
# Without either, the classic builder builds the same Dockerfile.
builder() {
  local client major
  if docker buildx version >/dev/null 2>&1; then
    echo "docker buildx build --load --progress plain"
    return
  fi
  for client in $(type -ap docker); do
    major=$("$client" version --format '{{.Client.Version}}' 2>/dev/null | cut -d. -f1)
    if [[ $major =~ ^[0-9]+$ ]] && ((major < 23)); then
      echo "env DOCKER_BUILDKIT=1 $client build --progress plain"
      return
    fi
  done
  echo "docker build"
}
read -ra build <<<"$(builder)"

# Shows the builder's progress on one line (the classic builder's step numbers, BuildKit's
# finished steps as dots) and keeps its whole output in $1 for when it fails.
progress() {
  local line step
  while IFS= read -r line; do
    printf '%s\n' "$line" >>"$1"
    case $line in
      "Step "*) step=${line#Step }; printf '%s ' "${step%%/*}" ;;
      "#"[0-9]*" DONE"*) printf '.' ;;
    esac
  done
}

logdir=$(mktemp -d)
trap 'rm -rf "$logdir"' EXIT
total=$(wc -w <<<"$services")
n=0
started=$SECONDS
echo "building $total images on $base (tag $tag) with: ${build[*]}"
for service in $services; do
  n=$((n + 1))
  image="tollgate/${service//_/-}:$tag"
  log="$logdir/$service.log"
  t0=$SECONDS
  printf '  [%d/%d] %-36s ' "$n" "$total" "$image"
  if ! "${build[@]}" --build-arg "BASE_IMAGE=$base" --build-arg "SERVICE=$service" \
      --tag "$image" . 2>&1 | progress "$log"; then
    echo "FAILED"
    tail -n 30 "$log" >&2
    exit 1
  fi
  printf ' done in %ds\n' $((SECONDS - t0))
done
echo "built $total images in $((SECONDS - started))s:"
for service in $services; do
  image="tollgate/${service//_/-}:$tag"
  bytes=$(docker image inspect --format '{{.Size}}' "$image")
  printf '  %-36s %4d MB\n' "$image" $((bytes / 1000000))
done
