# syntax=docker/dockerfile:1
# ncii-match: build with dev dependencies, run with production ones only, as a
# non-root user, with the database on the /data volume. Uploads never touch
# disk (they are hashed in memory), so the image needs no writable scratch.

ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
# better-sqlite3 compiles from source when no prebuilt binary fits the platform.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
# Without scripts first: `prepare` compiles the TypeScript, which is not copied yet.
RUN npm ci --ignore-scripts \
 && npm rebuild better-sqlite3 sharp
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build-web.ts ./scripts/build-web.ts
COPY src ./src
# Drop dev dependencies here, keeping the native builds, so the runtime stage needs no compiler.
RUN npm run build \
 && npm prune --omit=dev --ignore-scripts

FROM ${NODE_IMAGE} AS runtime
# VIPS_DISC_THRESHOLD: belt and braces. src/image/vips-memory-only.ts already sets
# it before the first decode, so libvips never puts a large decode (a big WebP) in
# a temp file; from the environment it also holds in any thread, from the start.
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    DATA_DIR=/data \
    VIPS_DISC_THRESHOLD=1024g
WORKDIR /app
COPY package.json ./
COPY migrations ./migrations
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The code stays root-owned (read-only to the service); only /data belongs to it.
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 3000
# No curl in slim images: ask /healthz with Node's own fetch.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/cli/main.js", "serve"]
