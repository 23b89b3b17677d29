/** Durations as people read them in logs, tables and summaries. */

/** `12.3`: seconds with one decimal. */
export const seconds = (ms: number): string => (ms / 1000).toFixed(1);

/** `12.3s`: for progress lines and per-service timings. */
export const formatSeconds = (ms: number): string => `${seconds(ms)}s`;

/** `850ms`, `42s`, `3m 07s`: for summaries, where a decimal is noise. */
export function formatDuration(ms: number | undefined): string {
  if (ms === undefined) return '';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
}
