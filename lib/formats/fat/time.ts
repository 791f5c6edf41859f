/**
 * FAT timestamps (fatgen103 "Date and Time Formats"): date = day (bits 0–4), month (5–8),
 * years since 1980 (9–15); time = seconds/2 (0–4), minutes (5–10), hours (11–15). They hold
 * local time; we store UTC so that output never depends on the build host's TZ, and clamp to
 * the representable range 1980-01-01 00:00:00 … 2107-12-31 23:59:59.
 */
export interface FatTimestamp {
  readonly date: number;
  readonly time: number;
  /** 10 ms units (0–199) for DIR_CrtTimeTenth: 100 when the second is odd. */
  readonly hundredths: number;
}

const FIRST_SECONDS = Date.UTC(1980, 0, 1) / 1000;
const LAST_SECONDS = Date.UTC(2107, 11, 31, 23, 59, 59) / 1000;

export function fatTimestamp(epochSeconds: number): FatTimestamp {
  const seconds = Math.min(Math.max(Math.floor(epochSeconds), FIRST_SECONDS), LAST_SECONDS);
  const moment = new Date(seconds * 1000);
  const date = moment.getUTCDate() | ((moment.getUTCMonth() + 1) << 5) | ((moment.getUTCFullYear() - 1980) << 9);
  const time = (moment.getUTCSeconds() >> 1) | (moment.getUTCMinutes() << 5) | (moment.getUTCHours() << 11);
  return { date, time, hundredths: (moment.getUTCSeconds() & 1) * 100 };
}
