import type { z } from 'zod';

/** One line per problem, naming where it is: `targets.prod.url_env: Required`. */
export function formatZodIssues(error: z.ZodError, prefix = ''): string {
  return error.issues
    .map((issue) => {
      const path = [prefix, ...issue.path.map(String)].filter(Boolean).join('.');
      return `  - ${path || '(top level)'}: ${issue.message}`;
    })
    .join('\n');
}
