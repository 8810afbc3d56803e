/**
 * Repairs UTF-8 text that was once decoded with an 8-bit code page and saved again, which
 * is how runbooks end up with headings like `ðŸš¨ Emergency` (Windows-1252) or
 * `üö® CRITICAL` (Mac OS Roman) instead of `🚨`. Each run of characters that the code page
 * can encode is turned back into its bytes; when those bytes are valid UTF-8 the run is
 * replaced by the decoded text, otherwise it is left exactly as written. Runs never span
 * ASCII because every byte of a multi-byte UTF-8 sequence is ≥ 0x80.
 */

/**
 * Windows-1252 bytes 0x80–0x9F. The five bytes the code page leaves undefined (0x81, 0x8D,
 * 0x8F, 0x90, 0x9D) decode to the C1 control of the same value, as browsers do. Written out
 * because Node 20's `TextDecoder('windows-1252')` decodes this range as Latin-1.
 */
const WINDOWS_1252_80_9F =
  '\u20ac\u0081\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u008d\u017d\u008f' +
  '\u0090\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u009d\u017e\u0178';

/** Mac OS Roman bytes 0x80–0xFF (0xF0 is the Apple logo, U+F8FF; 0xDB is the euro sign). */
const MAC_ROMAN_80_FF =
  'ÄÅÇÉÑÖÜáàâäãåçéèêëíìîïñóòôöõúùûü' +
  '†°¢£§•¶ß®©™´¨≠ÆØ∞±≤≥¥µ∂∑∏π∫ªºΩæø' +
  '¿¡¬√ƒ≈∆«»…\u00a0ÀÃÕŒœ–—“”‘’÷◊ÿŸ⁄€‹›ﬁﬂ' +
  '‡·‚„‰ÂÊÁËÈÍÎÏÌÓÔ\uf8ffÒÚÛÙıˆ˜¯˘˙˚¸˝˛ˇ';

type ReverseTable = ReadonlyMap<string, number>;

function windows1252Table(): ReverseTable {
  const table = new Map<string, number>();
  for (let byte = 0x80; byte <= 0xff; byte++) {
    // Text mis-decoded as Latin-1 (C1 controls instead of € ‚ ƒ …) is repaired too.
    table.set(String.fromCharCode(byte), byte);
  }
  for (const [index, char] of [...WINDOWS_1252_80_9F].entries()) table.set(char, 0x80 + index);
  return table;
}

function macRomanTable(): ReverseTable {
  const table = new Map<string, number>();
  for (const [index, char] of [...MAC_ROMAN_80_FF].entries()) table.set(char, 0x80 + index);
  return table;
}

const WINDOWS_1252 = windows1252Table();
const MAC_ROMAN = macRomanTable();
const TABLES: readonly ReverseTable[] = [WINDOWS_1252, MAC_ROMAN];

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function decodeStrict(bytes: number[]): string | undefined {
  try {
    return strictUtf8.decode(Uint8Array.from(bytes));
  } catch {
    return undefined;
  }
}

/** Emoji live in U+1F000–U+1FAFF: UTF-8 `F0 9F xx xx`. */
const isEmojiOnly = (text: string) => [...text].every((char) => /[\u{1F000}-\u{1FAFF}]/u.test(char));

/** The run as UTF-8 if its bytes in this code page decode cleanly to something new. */
function repairRun(run: string, table: ReverseTable): string | undefined {
  const bytes = [...run].map((char) => table.get(char) ?? 0);
  const decoded = decodeStrict(bytes);
  if (decoded !== undefined) return decoded !== run ? decoded : undefined;
  // Mac OS Roman writes the emoji lead byte F0 as the Apple logo (U+F8FF), a private-use
  // character that copy and paste often drops: `üö®` is `F0 9F 9A A8` without its F0.
  // Put it back only when the result is nothing but emoji, so real words stay as written.
  if (table === MAC_ROMAN && bytes[0] === 0x9f && bytes.length % 4 === 3) {
    const withLead = decodeStrict([0xf0, ...bytes]);
    if (withLead !== undefined && isEmojiOnly(withLead)) return withLead;
  }
  return undefined;
}

function repairWith(text: string, table: ReverseTable): string {
  let out = '';
  let run = '';
  const flush = () => {
    out += run.length > 1 ? (repairRun(run, table) ?? run) : run;
    run = '';
  };
  for (const char of text) {
    if (char.charCodeAt(0) >= 0x80 && table.has(char)) {
      run += char;
    } else {
      flush();
      out += char;
    }
  }
  flush();
  return out;
}

/** `ðŸš¨` → 🚨, `â€”` → —, `üö®` → 🚨, `‚ö°` → ⚡; anything that does not decode cleanly stays. */
export function repairMojibake(text: string): string {
  // ASCII-only text (most of every runbook) cannot hold mojibake.
  if (!/[\u0080-\uffff]/.test(text)) return text;
  return TABLES.reduce((repaired, table) => repairWith(repaired, table), text);
}
