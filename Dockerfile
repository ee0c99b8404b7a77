# syntax=docker/dockerfile:1
# Build: compile TypeScript with the dev dependencies.
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npx tsc -p tsconfig.build.json

# Runtime: production dependencies, the compiled code and the protos it loads at start.
FROM node:20-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /src/dist ./dist
COPY proto ./proto
COPY config/adapter.yaml config/providers.yaml ./config/
# The node image's unprivileged user (uid 1000), as the chart's securityContext expects.
USER 1000:1000
EXPOSE 15051 15080
# tini forwards SIGTERM so the daemon drains its xDS streams and closes its registry sessions.
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/app/dist/cli.js"]
CMD ["run", "--config", "/etc/dubbo-istio-adapter/config/adapter.yaml"]
