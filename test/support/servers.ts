import type {} from 'vitest';
/** A Postgres server the integration tests run against, reachable as a superuser. */
export interface TestServer {
  label: string;
  /** URL of the server's `postgres` database. */
  url: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    postgresServers: TestServer[];
  }
}
