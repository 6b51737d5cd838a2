# Tide: one image for every component (queue-proxy, activator, autoscaler). Build: docker build -t tide .
# Multi-stage: compile TypeScript with dev dependencies, then ship only production dependencies and dist/.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY . .
RUN npm run build

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY common/proto ./common/proto
COPY examples ./examples
# queue-proxy ports (Knative's numbers): serving, admin, stats (gRPC), metrics.
EXPOSE 8012 8022 9090 9091
USER node
# The queue-proxy's launch flags (proxy/node-flags.ts QUEUE_PROXY_NODE_FLAGS; test/proxy/node-flags.test.ts checks this line).
ENTRYPOINT ["node", "/app/bin/tide.js"]
CMD ["queue-proxy"]
