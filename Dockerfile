# Tide: one image for every component (queue-proxy, activator, autoscaler, webhook, and the tide CLI).
# Build: docker build -t tide .   (not built by CI here: that machine has no Docker engine)
# Multi-stage: compile TypeScript with dev dependencies, then ship only production dependencies and dist/.
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY . .
RUN npm run build

FROM node:24-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY common/proto ./common/proto
COPY examples ./examples
# queue-proxy ports (Knative's numbers): serving, admin, stats (gRPC), metrics; the webhook's 8443.
EXPOSE 8012 8022 9090 9091 8443
# The image's `node` user by number, so Kubernetes can check runAsNonRoot without running the image.
USER 1000:1000
# The queue-proxy's launch flags (proxy/node-flags.ts QUEUE_PROXY_NODE_FLAGS; test/proxy/node-flags.test.ts checks this line).
ENTRYPOINT ["node", "/app/bin/tide.js"]
CMD ["queue-proxy"]
