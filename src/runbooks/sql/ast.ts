/** Every node `{ Type: {…} }` of a libpg-query parse tree, depth first, with its type name. */
export function* walk(node: unknown): Generator<[string, Record<string, unknown>]> {
  if (Array.isArray(node)) {
    for (const item of node) yield* walk(item);
    return;
  }
  if (!node || typeof node !== 'object') return;
  for (const [key, value] of Object.entries(node)) {
    if (/^[A-Z]/.test(key) && value && typeof value === 'object' && !Array.isArray(value))
      yield [key, value as Record<string, unknown>];
    yield* walk(value);
  }
}

/** The text of a list of `String` nodes (a qualified name's parts, as the parser folded them). */
export function strings(list: unknown): string[] {
  if (!Array.isArray(list)) return [];
  return list.flatMap((item) => {
    const text = (item as { String?: { sval?: string } }).String?.sval;
    return text === undefined ? [] : [text];
  });
}
