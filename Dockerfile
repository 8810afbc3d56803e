# runbook-bot: one image for the bot and the workers (the command picks the mode).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

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
