# smoke: the API service plus the Playwright suite it runs, on Playwright's
# own image so Chromium and its system libraries are already there.
#
#   docker build -t smoke .
#   docker run -p 8080:8080 -v smoke-data:/app/data \
#     -e PRODUCTION_URL=https://shop.example -e CANARY_URL=https://canary.shop.example smoke
#
# Every stage starts from the same image, tagged with exactly the
# @playwright/test version in package-lock.json: the browsers under
# /ms-playwright are the builds that version expects, and better-sqlite3's
# addon is compiled against that image's Node. server/packaging.test.ts checks both.

# Shared by the stages that run `npm ci`.
FROM mcr.microsoft.com/playwright:v1.65.1-noble AS toolchain
# better-sqlite3 downloads a prebuilt addon; when none fits this Node it
# compiles one with node-gyp, which needs a compiler and Python.
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential python3 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./

# Compiles server/ to dist/.
FROM toolchain AS build
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY server ./server
RUN npm run build

# The runtime's node_modules: no dev tools, addon built on this same image.
FROM toolchain AS prod-deps
RUN npm ci --omit=dev

FROM mcr.microsoft.com/playwright:v1.65.1-noble AS runtime
# PID 1 that forwards SIGTERM to node (which cancels runs and closes the
# store) and reaps the Chromium processes orphaned when a runner is killed.
RUN apt-get update \
 && apt-get install -y --no-install-recommends dumb-init \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production SMOKE_CONFIG=/app/smoke.config.yaml SMOKE_HOST=0.0.0.0
WORKDIR /app

# Its "type": "module" is what makes node load dist/ as ES modules.
COPY package.json ./
COPY --from=prod-deps /app/node_modules ./node_modules
# Only the service: demo/ is the local example shop, not part of the image.
COPY --from=build /app/dist/server ./dist/server
# The pages' stylesheet and script are served as files, which tsc does not copy.
COPY server/pages/assets ./dist/server/pages/assets
# The default suite, which the service hands to the Playwright CLI as source:
# the CLI transpiles it, so it ships as TypeScript. playwright.config.ts
# imports server/runner/browser.ts, so that one source file ships too.
COPY smoke.config.yaml playwright.config.ts ./
COPY tests ./tests
COPY server/runner/browser.ts ./server/runner/browser.ts

# Each run writes a short-lived .smoke-run-*.config.ts next to
# playwright.config.ts, so pwuser owns /app itself; the code it contains stays
# root-owned and read-only to the service. data/ holds the SQLite database
# and the artifacts of failed flows.
RUN mkdir -p /app/data && chown pwuser:pwuser /app /app/data
USER pwuser
# After the chown: a new named volume copies the owner of the image's folder,
# and changes made to a path after it is declared a VOLUME can be discarded.
VOLUME /app/data

EXPOSE 8080
# /healthz only says the process answers: /readyz launches Chromium, too heavy
# for a liveness check. There is no curl in the image, so Node's fetch.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

# On SIGTERM running verifications get runs.graceSeconds (default 10 s) to
# close their browsers: give `docker stop` / Kubernetes a longer grace period
# than that (e.g. `docker stop -t 30`) or they end with SIGKILL.
ENTRYPOINT ["dumb-init", "--"]
CMD ["node", "dist/server/main.js"]
