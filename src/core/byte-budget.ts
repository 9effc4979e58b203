/**
 * A node-wide budget of message bytes held in memory at once (request bodies being read, parsed and
 * accepted), shared by the HTTP API and both SMTP listeners. Each request takes a hold, grows it as
 * bytes arrive and releases it when its answer has gone out. A hold that would pass the limit is
 * refused, unless it is the only one in flight: one message up to the size limit always gets through,
 * so the budget never makes a legal message impossible, it only queues the crowd (503 / 452 4.3.1).
 */
export interface BudgetHold {
  /** Bytes this hold has reserved. */
  readonly bytes: number;
  /** Reserves `n` more bytes; false (nothing reserved) when that would pass the budget. */
  grow(n: number): boolean;
  /** Gives every reserved byte back; later calls do nothing. */
  release(): void;
}

export interface ByteBudget {
  /** The budget in bytes; 0 means unlimited. */
  readonly limit: number;
  inFlight(): number;
  /** True when `n` more bytes would fit now (a hint for refusing early, e.g. at SMTP MAIL SIZE=). */
  fits(n: number): boolean;
  hold(): BudgetHold;
}

export function createByteBudget(limit: number): ByteBudget {
  let used = 0;
  const fitsWith = (n: number, own: number) => limit <= 0 || used + n <= limit || used - own === 0;
  return {
    limit,
    inFlight: () => used,
    fits: (n) => fitsWith(n, 0),
    hold() {
      let bytes = 0;
      let released = false;
      return {
        get bytes() {
          return bytes;
        },
        grow(n) {
          if (released || !fitsWith(n, bytes)) return false;
          bytes += n;
          used += n;
          return true;
        },
        release() {
          if (released) return;
          released = true;
          used -= bytes;
          bytes = 0;
        },
      };
    },
  };
}
