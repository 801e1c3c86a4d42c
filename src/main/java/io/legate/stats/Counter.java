package io.legate.stats;

import java.util.concurrent.atomic.LongAdder;

/**
 * A monotonically increasing count, safe to increment from any worker without locks. A counter
 * rejected by {@code stats_config.stats_matcher} is a no-op instance that is not in the store.
 */
public sealed class Counter implements Metric permits Counter.Null {
  private final String name;
  private final LongAdder value = new LongAdder();
  private volatile boolean used;
  // The value at the last sink flush; read and written on the main thread only.
  private long latched;

  Counter(String name) {
    this.name = name;
  }

  /** Adds one. */
  public void inc() {
    value.increment();
    if (!used) {
      used = true;
    }
  }

  /** Adds {@code n}. */
  public void add(long n) {
    value.add(n);
    if (!used) {
      used = true;
    }
  }

  /** Returns the current value. */
  public long value() {
    return value.sum();
  }

  /** Returns whether the counter was ever incremented (Envoy's {@code used} flag). */
  public boolean used() {
    return used;
  }

  @Override
  public String name() {
    return name;
  }

  /** Returns the increase since the previous call (Envoy's latched delta for sinks). */
  long latch() {
    long v = value.sum();
    long d = v - latched;
    latched = v;
    return Math.max(0, d);
  }

  /** Sets the value to zero ({@code /reset_counters}). */
  void reset() {
    value.reset();
    latched = 0;
  }

  /** The counter handed out for a rejected name: every update is dropped. */
  static final class Null extends Counter {
    Null(String name) {
      super(name);
    }

    @Override
    public void inc() {}

    @Override
    public void add(long n) {}
  }
}
