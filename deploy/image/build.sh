#!/bin/sh
# npm run image: builds the driftwatch image from the repository's Dockerfile with whichever OCI
# builder this machine has - docker (with a reachable daemon), podman or buildah, in that order -
# and says so plainly when there is none. Extra arguments go to the builder (e.g. --platform).
#
#   IMAGE=registry.example.com/driftwatch:0.1.0 npm run image
#
# The Node.js version of the image is the Dockerfile's NODE_MAJOR default (one place).
set -eu
cd "$(dirname "$0")/../.."

version=$(node -p 'require("./package.json").version')
image=${IMAGE:-ghcr.io/driftwatch/driftwatch:$version}

if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
  builder=docker
elif command -v podman >/dev/null 2>&1; then
  builder=podman
elif command -v buildah >/dev/null 2>&1; then
  builder=buildah
else
  if command -v docker >/dev/null 2>&1; then
    echo "npm run image: docker is installed but its daemon is not reachable ('docker info' fails), and neither podman nor buildah is installed: no image built." >&2
  else
    echo "npm run image: no OCI image builder found (docker with a running daemon, podman or buildah): no image built." >&2
  fi
  exit 1
fi

echo "npm run image: building $image with $builder" >&2
case $builder in
  buildah) exec buildah bud -f Dockerfile -t "$image" "$@" . ;;
  *) exec "$builder" build -f Dockerfile -t "$image" "$@" . ;;
esac
