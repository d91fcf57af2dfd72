import { randomBytes } from 'node:crypto';

/** Base36 digits of the time: 8 hold epoch milliseconds until 2059, and match the ids written before this module. */
const TIME_DIGITS = 8;
/** Base36 digits of the per-millisecond counter: 1.6 million ids in one millisecond before order within it is lost. */
const COUNTER_DIGITS = 4;
/** Random bytes (hex) after them: ids made in the same millisecond by two replicas still differ. */
const RANDOM_BYTES = 5;

let lastMs = 0;
let counter = 0;

/**
 * A new id, `<prefix>_<time><counter><random>`: sorts by creation within this
 * process (the time never steps back here, even when the clock does, and a
 * counter orders ids of one millisecond), unique across replicas without
 * coordination. Listings order by `created_at DESC, id DESC` on both engines.
 */
export function newId(prefix: string): string {
  const now = Date.now();
  if (now > lastMs) {
    lastMs = now;
    counter = 0;
  } else {
    counter++;
  }
  const time = lastMs.toString(36).padStart(TIME_DIGITS, '0');
  const count = (counter % 36 ** COUNTER_DIGITS).toString(36).padStart(COUNTER_DIGITS, '0');
  return `${prefix}_${time}${count}${randomBytes(RANDOM_BYTES).toString('hex')}`;
}
