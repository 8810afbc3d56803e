/** Threshold values are typed by unit so `8GB`, `10min` and `90%` mean what they say. */
export type Unit = 'count' | 'seconds' | 'bytes' | 'percent' | 'milliseconds';

const BYTE_FACTORS: Record<string, number> = {
  b: 1,
  kb: 1024,
  mb: 1024 ** 2,
  gb: 1024 ** 3,
  tb: 1024 ** 4,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
};
const SECOND_FACTORS: Record<string, number> = {
  ms: 0.001,
  s: 1,
  sec: 1,
  m: 60,
  min: 60,
  h: 3600,
  d: 86400,
};
const MILLISECOND_FACTORS: Record<string, number> = { ms: 1, s: 1000, sec: 1000, m: 60_000, min: 60_000 };
const COUNT_FACTORS: Record<string, number> = { k: 1e3, m: 1e6, b: 1e9 };

const UNIT_EXAMPLES: Record<Unit, string> = {
  count: '60, 1.3B',
  seconds: '30, 30s, 10min, 2h, 1d',
  bytes: '8GB, 512MB, 1073741824',
  percent: '90, 90%',
  milliseconds: '1000, 1000ms, 2s',
};

/** Parses `raw` in `unit`, or returns an error message saying what is accepted. */
export function parseUnitValue(raw: string, unit: Unit): number | { error: string } {
  const match = /^\s*(-?\d+(?:\.\d+)?)\s*([a-z%]*)\s*$/i.exec(raw.replaceAll('_', ''));
  const bad = { error: `"${raw}" is not a valid ${unit} value (examples: ${UNIT_EXAMPLES[unit]})` };
  if (!match) return bad;
  const number = Number(match[1]);
  const suffix = (match[2] ?? '').toLowerCase();
  let factor: number | undefined;
  switch (unit) {
    case 'bytes':
      factor = suffix === '' ? 1 : BYTE_FACTORS[suffix];
      break;
    case 'seconds':
      factor = suffix === '' ? 1 : SECOND_FACTORS[suffix];
      break;
    case 'milliseconds':
      factor = suffix === '' ? 1 : MILLISECOND_FACTORS[suffix];
      break;
    case 'percent':
      factor = suffix === '' || suffix === '%' ? 1 : undefined;
      break;
    case 'count':
      factor = suffix === '' ? 1 : COUNT_FACTORS[suffix];
      break;
  }
  if (factor === undefined || number < 0) return bad;
  if (unit === 'percent' && number > 100) return { error: `"${raw}" is more than 100%` };
  // Counts and sizes are compared with integer columns: 1.5KB means 1536 bytes, 10.5 means 11.
  return unit === 'count' || unit === 'bytes' ? Math.round(number * factor) : number * factor;
}

export function formatUnitValue(value: number, unit: Unit): string {
  switch (unit) {
    case 'bytes':
      return formatBytes(value);
    case 'seconds':
      return formatSeconds(value);
    case 'milliseconds':
      return `${formatNumber(value)} ms`;
    case 'percent':
      return `${formatNumber(value)}%`;
    case 'count':
      return formatNumber(value);
  }
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let index = 0;
  while (Math.abs(value) >= 1024 && index < units.length - 1) {
    value /= 1024;
    index += 1;
  }
  return `${formatNumber(Math.round(value * 10) / 10)} ${units[index]}`;
}

export function formatSeconds(seconds: number): string {
  if (seconds < 120) return `${formatNumber(Math.round(seconds * 10) / 10)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172_800) return `${formatNumber(Math.round((seconds / 3600) * 10) / 10)} h`;
  return `${formatNumber(Math.round((seconds / 86400) * 10) / 10)} d`;
}

/**
 * How long a run took, one way in the terminal and Slack alike: "230 ms" under a second,
 * "4.0 s" under a minute (a tenth of a second is what a reader compares runs by), then
 * "2 min 5 s" and "1 h 3 min".
 */
export function formatDuration(ms: number): string {
  if (ms < 999.5) return `${Math.max(0, Math.round(ms))} ms`;
  const tenths = Math.round(ms / 100);
  if (tenths < 600) return `${(tenths / 10).toFixed(1)} s`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
  const minutes = Math.round(seconds / 60);
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** Made once: toLocaleString with options builds a formatter on every call (~14 µs each). */
const NUMBER_FORMAT = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });

export function formatNumber(value: number): string {
  return NUMBER_FORMAT.format(value);
}
