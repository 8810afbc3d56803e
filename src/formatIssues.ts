import type { z } from 'zod';

/** One line per problem, naming where it is: `targets.prod.url_env: Required`. */
export function formatZodIssues(error: z.ZodError, prefix = ''): string {
  return error.issues
    .map((issue) => {
      const path = [prefix, ...issue.path.map(String)].filter(Boolean).join('.');
      return `  - ${path || '(top level)'}: ${messageOf(issue)}`;
    })
    .join('\n');
}

/** A bad record key is reported by zod as "Invalid key in record"; say why it is invalid. */
function messageOf(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_key') {
    const reasons = issue.issues.map((inner) => inner.message).join('; ');
    return `invalid name: ${reasons}`;
  }
  if (issue.code === 'unrecognized_keys')
    return `unknown key ${issue.keys.map((key) => `"${key}"`).join(', ')}`;
  return issue.message;
}
