package io.legate.stats;

import java.util.concurrent.atomic.LongAdder;

/** A monotonically increasing count, safe to increment from any worker without locks. */
public final class Counter implements Metric {
  private final String name;
  private final LongAdder value = new LongAdder();
  private volatile boolean used;

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
}
