/**
 * How numbers, times and durations read in the panel: local date-times (no
 * epoch seconds or ISO strings on screen), short durations, binary sizes.
 */

const UNITS = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];

/** 1536 -> "1.5 KB" (powers of 1000, as the quotas are given). */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) {
    return '–';
  }
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${value.toFixed(digits)} ${UNITS[unit]}`;
}

/** Seconds as "45 s", "3 min 05 s", "2 h 07 min", "3 d 4 h". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) {
    return '–';
  }
  const s = Math.floor(seconds);
  if (s < 60) {
    return `${s} s`;
  }
  const pad = (n: number) => String(n).padStart(2, '0');
  const m = Math.floor(s / 60);
  if (m < 60) {
    return `${m} min ${pad(s % 60)} s`;
  }
  const h = Math.floor(m / 60);
  if (h < 24) {
    return `${h} h ${pad(m % 60)} min`;
  }
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

/** An ISO time from the server as the reader's local date and time (the
 * year only when it is not this one: narrow sidebars). */
export function formatDateTime(iso: string | null | undefined, now: Date = new Date()): string {
  if (!iso) {
    return '–';
  }
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) {
    return '–';
  }
  return when.toLocaleString(undefined, {
    year: when.getFullYear() === now.getFullYear() ? undefined : 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit'
  });
}

/** How long a run has lasted: to its end, or to `now` while it runs. */
export function runSeconds(
  createdAt: string,
  endedAt: string | null | undefined,
  now: number = Date.now()
): number {
  const start = Date.parse(createdAt);
  const end = endedAt ? Date.parse(endedAt) : now;
  return Math.max(0, (end - start) / 1000);
}

/** A percentage figure for the status bar: "12%", "0.4%". */
export function formatPercent(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) {
    return '–';
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)}%`;
}
