package io.legate.http.filters.healthcheck;

import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * Envoy's {@code HealthCheckCacheManager}: in pass-through mode, the upstream's answer to a health
 * check is reused for the rest of the current {@code cache_time} period (periods start when the
 * filter is configured, as Envoy's repeating timer). Shared by all workers; lock-free.
 */
final class HealthCheckCache {
  private final long periodNanos;
  private final long startNanos;
  private final LongSupplier clock;
  /** Bits: status (16) | degraded (1) << 16; with the period index it is valid for. */
  private final AtomicLong entry = new AtomicLong(-1);
  private final AtomicLong validPeriod = new AtomicLong(-1);

  HealthCheckCache(long periodNanos, LongSupplier clock) {
    this.periodNanos = periodNanos;
    this.clock = clock;
    this.startNanos = clock.getAsLong();
  }

  private long period() {
    return (clock.getAsLong() - startNanos) / periodNanos;
  }

  /** Returns whether a cached answer may be used now. */
  boolean useCachedResponse() {
    return validPeriod.get() == period() && entry.get() >= 0;
  }

  /** Records the answer to a health check. */
  void setCachedResponse(int status, boolean degraded) {
    entry.set(status | (degraded ? 1L << 16 : 0));
    validPeriod.set(period());
  }

  /** Returns the cached status. */
  int cachedStatus() {
    return (int) (entry.get() & 0xffff);
  }

  /** Returns whether the cached answer was degraded. */
  boolean cachedDegraded() {
    return (entry.get() & (1L << 16)) != 0;
  }
}
