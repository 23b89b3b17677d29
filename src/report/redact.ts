/** Replaces every secret with *** (longest first, so a secret containing another is fully hidden). */
export function redact(text: string, secrets: readonly string[]): string {
  return [...secrets]
    .filter((s) => s.length > 0)
    .sort((a, b) => b.length - a.length)
    .reduce((acc, s) => acc.split(s).join('***'), text);
}
