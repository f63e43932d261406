# syntax=docker/dockerfile:1
#
# The driftwatch image: one image, two roles (`driftwatch agent` for the DaemonSet, `driftwatch
# collector` for the Deployment; deploy/daemonset passes the role as the first argument).
#
#   npm run image          (docker, podman or buildah: deploy/image/build.sh)
#   docker build -t ghcr.io/driftwatch/driftwatch:0.1.0 .
#
# NODE_MAJOR is the one place the image's Node.js version is set: a supported LTS (24, "Krypton",
# maintained until April 2028). Both stages follow it, and test/deploy/dockerfile.test.ts reads it
# from here. Pin the base images by digest for reproducible builds, e.g.
#   --build-arg NODE_IMAGE=node:24-bookworm-slim@sha256:<digest>
#   --build-arg RUNTIME_IMAGE=gcr.io/distroless/nodejs24-debian12:nonroot@sha256:<digest>
# Both stages are Debian 12 (glibc 2.36) with the same Node.js major (same ABI), so the
# better-sqlite3 addon compiled in the build stage loads in the runtime stage.
ARG NODE_MAJOR=24
ARG NODE_IMAGE=node:${NODE_MAJOR}-bookworm-slim
ARG RUNTIME_IMAGE=gcr.io/distroless/nodejs${NODE_MAJOR}-debian12:nonroot

FROM ${NODE_IMAGE} AS build
WORKDIR /src
# node-gyp toolchain, for when better-sqlite3 has no prebuilt binary for the platform.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
# Dependencies first (cached until the lock file changes). --ignore-scripts: the package's own
# `prepare` would compile before the sources are here, and no dependency's install script runs
# unasked; the one native addon is built explicitly, from source, for this stage's Node.js.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund \
 && npm rebuild better-sqlite3 --build-from-source
COPY . .
RUN npm run build \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm pack --ignore-scripts --pack-destination /tmp \
 && mkdir /app \
 && tar -xzf /tmp/driftwatch-*.tgz -C /app --strip-components=1 \
 && cp -R node_modules /app/node_modules
# /app now holds exactly what npm would publish (package.json "files": dist, proto, baselines,
# ui, demo) plus production dependencies only.

FROM ${RUNTIME_IMAGE}
WORKDIR /app
# Owned by root and not writable by the runtime user: the process cannot modify its own code.
COPY --from=build --chown=0:0 /app /app
# distroless "nonroot": uid/gid 65532, no shell, no package manager. Nothing is written outside
# the data directory (a volume) at run time, so the root filesystem can be read-only
# (readOnlyRootFilesystem: true in deploy/daemonset).
USER 65532:65532
ENV NODE_ENV=production
# collector gRPC (mTLS) 7443, collector API/UI 8080, agent ops 9090, agent falco-http 8766
EXPOSE 7443 8080 9090 8766
ENTRYPOINT ["/nodejs/bin/node", "dist/cli/main.js"]
CMD ["--help"]
