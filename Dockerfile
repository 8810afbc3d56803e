# runbook-bot: one image for the bot and the workers (the command picks the mode).
FROM node:20-bookworm-slim AS build
WORKDIR /app
# `npm ci` builds (the package's prepare script), so the sources come first.
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
RUN npm ci --no-audit --no-fund && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY migrations ./migrations
# The built-in runbooks are read at run time (a team's own come from RUNBOOKS_DIR).
COPY --from=build /app/src/runbooks/library ./src/runbooks/library
USER node
EXPOSE 3000
ENTRYPOINT ["node", "dist/main.js"]
CMD ["bot"]
