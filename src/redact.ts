/**
 * Scrubs secrets out of free text before it reaches a log line, a report or a terminal.
 * Connection strings are the usual leak: drivers and users paste them into error messages.
 */

// postgres://user:secret@host → postgres://user:***@host (any scheme with userinfo); the
// password runs to the last @ before the host, since passwords may contain @ themselves.
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^:/?#\s@]*):[^\s/]*@(?=[^@\s]*(?:[/?#\s]|$))/gi;
// SQL: CREATE/ALTER ROLE … PASSWORD 'secret', CREATE USER MAPPING … OPTIONS (password 'secret')
const SQL_PASSWORD = /\b(password)\s+'(?:[^']|'')*'/gi;
// key=value style connection strings: password=secret, sslpassword='x y'
const KEYWORD_PASSWORD = /\b(password|sslpassword|pwd)\s*=\s*('(?:[^'\\]|\\.)*'|"[^"]*"|[^\s;&]+)/gi;
// Slack tokens and signing secrets that end up in text
const SLACK_TOKEN = /\bxox[abposr]-[A-Za-z0-9-]+|\bxapp-[A-Za-z0-9-]+/g;

export const REDACTED = '***';

export function redactText(text: string): string {
  return text
    .replace(URL_PASSWORD, `$1:${REDACTED}@`)
    .replace(KEYWORD_PASSWORD, `$1=${REDACTED}`)
    .replace(SQL_PASSWORD, `$1 '${REDACTED}'`)
    .replace(SLACK_TOKEN, REDACTED);
}

/** Keys whose values are secrets wherever they appear in a logged object. */
const SECRET_KEYS =
  /^(password|pass|secret|token|signingSecret|signing_secret|connectionString|url|.*_url|.*Url|authorization|routingKey|routing_key|apiKey|api_key)$/i;

/** Deep copy of a loggable value with secret-looking keys masked and strings scrubbed. */
export function redactValue(value: unknown, depth = 0): unknown {
  if (depth > 8) return '[deep]';
  if (typeof value === 'string') return redactText(value);
  if (Array.isArray(value)) return value.map((item) => redactValue(item, depth + 1));
  if (value instanceof Error) {
    return {
      type: value.name,
      message: redactText(value.message),
      stack: value.stack && redactText(value.stack),
    };
  }
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value)) {
      out[key] =
        SECRET_KEYS.test(key) && typeof inner === 'string'
          ? maskSecretField(inner)
          : redactValue(inner, depth + 1);
    }
    return out;
  }
  return value;
}

/** URLs keep their host and database (useful when debugging); everything else is hidden. */
function maskSecretField(value: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? describeUrl(value) : REDACTED;
}

/** `postgres://user@host:5432/db`, never the password or query-string secrets. */
export function describeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    const user = parsed.username ? `${decodeURIComponent(parsed.username)}@` : '';
    return `${parsed.protocol}//${user}${parsed.host}${parsed.pathname}`;
  } catch {
    return REDACTED;
  }
}

/** An error's message for people and the audit log, secrets scrubbed. */
export function errorText(err: unknown): string {
  return redactText(err instanceof Error ? err.message : String(err));
}
