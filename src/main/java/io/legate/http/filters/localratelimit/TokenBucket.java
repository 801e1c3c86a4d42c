package io.legate.http.filters.localratelimit;

import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * A lock-free token bucket refilled continuously from a clock, as Envoy's {@code
 * AtomicTokenBucketImpl}: it starts full with {@code maxTokens}, gains {@code tokensPerFill} every
 * {@code fillInterval} (pro rata, never above {@code maxTokens}), and each request takes one token.
 * Safe from any thread: all workers share one bucket unless limits are per connection.
 *
 * <p>The state is one atomic: the instant at which the bucket was (or would be) empty. The tokens
 * at {@code now} are {@code (now - emptyAt) / cost}, capped; taking one moves {@code emptyAt}
 * forward by one token's cost.
 */
public final class TokenBucket {
  private final long maxTokens;
  private final long costNanos;
  private final long capacityNanos;
  private final LongSupplier clock;
  private final AtomicLong emptyAt;

  /**
   * Creates a full bucket.
   *
   * @param clock monotonic nanoseconds ({@code System::nanoTime}; tests pass their own)
   */
  public TokenBucket(long maxTokens, long tokensPerFill, long fillIntervalNanos, LongSupplier clock) {
    if (maxTokens <= 0 || tokensPerFill <= 0 || fillIntervalNanos <= 0) {
      throw new IllegalArgumentException("max_tokens, tokens_per_fill and fill_interval must be > 0");
    }
    this.maxTokens = maxTokens;
    this.costNanos = Math.max(1, Math.round(fillIntervalNanos / (double) tokensPerFill));
    this.capacityNanos = Math.multiplyExact(maxTokens, costNanos);
    this.clock = clock;
    this.emptyAt = new AtomicLong(clock.getAsLong() - capacityNanos);
  }

  /** Takes one token if there is one; returns whether it did. */
  public boolean tryConsume() {
    long now = clock.getAsLong();
    while (true) {
      long old = emptyAt.get();
      long base = Math.max(old, now - capacityNanos);
      if (now - base < costNanos) {
        return false;
      }
      if (emptyAt.compareAndSet(old, base + costNanos)) {
        return true;
      }
    }
  }

  /** Returns max_tokens. */
  public long maxTokens() {
    return maxTokens;
  }

  /** Returns the whole tokens left now. */
  public long remainingTokens() {
    long now = clock.getAsLong();
    long base = Math.max(emptyAt.get(), now - capacityNanos);
    return Math.min(maxTokens, (now - base) / costNanos);
  }

  /**
   * Returns the whole seconds until the next token (0 when one is available), as Envoy's {@code
   * resetSeconds} for the {@code x-ratelimit-reset} header.
   */
  public long resetSeconds() {
    long now = clock.getAsLong();
    long base = Math.max(emptyAt.get(), now - capacityNanos);
    long wait = base + costNanos - now;
    return wait <= 0 ? 0 : wait / 1_000_000L / 1000L;
  }
}
