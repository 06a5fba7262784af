# One image, three roles. The task definition (or compose) picks the role by command:
#   node dist/intake.js | node dist/worker.js | node dist/gateway.js
# Both stages use the same pinned base so the bundles are built and run on the same Node (22.22.0).
# Dependabot (docker ecosystem) proposes digest bumps; keep the tag for humans, the digest for builds.

# ---- build: full dependency tree, esbuild bundles; nothing from here ships except dist/ ----
FROM node:22-slim@sha256:dd9d21971ec4395903fa6143c2b9267d048ae01ca6d3ea96f16cb30df6187d94 AS build
WORKDIR /src
# Lockfile first so the dependency layer is cached across source-only changes.
COPY package.json package-lock.json ./
# No NODE_ENV=production here: npm would skip devDependencies and esbuild with them.
# --ignore-scripts: no third-party install scripts run at build time (esbuild ships a platform package).
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json ./
COPY tools/bundle.mjs ./tools/bundle.mjs
COPY runtime/src ./runtime/src
# Prompts ship next to the bundles (dist/prompts); the worker hashes them into the prompt version.
COPY prompts ./prompts
RUN node tools/bundle.mjs

# ---- runtime: bundles, source maps and prompts only; no compiler, no node_modules, no npm ----
FROM node:22-slim@sha256:dd9d21971ec4395903fa6143c2b9267d048ae01ca6d3ea96f16cb30df6187d94 AS runtime
# tini as PID 1 forwards SIGTERM to node and reaps zombies, so `docker run`, compose and ECS
# (without initProcessEnabled) all drain the same way. npm, npx, corepack and yarn are removed:
# the services never call them and they carry most of the base image's CVE surface.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/* \
 && rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
           /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack \
           /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-*
# The heap cap keeps V8 below a 512 MiB task limit (Node's cgroup-based default has changed
# between releases); task definitions with more memory override NODE_OPTIONS.
ENV NODE_ENV=production \
    NODE_OPTIONS="--enable-source-maps --max-old-space-size=384"
WORKDIR /app
# Owned by root and not writable by the service user: the code cannot be modified at run time.
COPY --from=build /src/dist/ ./dist/
USER 1000:1000
EXPOSE 8080 8081 8090
# ECS ignores this (the CDK container definition declares the same check); compose and
# `docker run` use it. The script infers the role from PID 1's command line; PORT overrides the port.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "dist/healthcheck.js"]
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/intake.js"]
