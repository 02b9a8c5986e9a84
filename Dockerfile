# Production image of the Staybook API. Build: docker build -t staybook .
# Run with DATABASE_URL and REDIS_URL set (see docker-compose.yml); without them it
# uses the embedded PGlite in /app/.data, which suits a demo, not production.
FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY spec ./spec
COPY generated ./generated
COPY server ./server
COPY handlers ./handlers
COPY db ./db
COPY scripts ./scripts
USER node
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s CMD node -e "fetch('http://127.0.0.1:3000/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "--import", "tsx", "server/main.ts"]
