package io.legate.stats;

import java.util.concurrent.atomic.AtomicLong;

/** A value that goes up and down (active connections, membership counts). */
public final class Gauge implements Metric {
  private final String name;
  private final AtomicLong value = new AtomicLong();

  Gauge(String name) {
    this.name = name;
  }

  public void inc() {
    value.incrementAndGet();
  }

  public void dec() {
    value.decrementAndGet();
  }

  public void add(long n) {
    value.addAndGet(n);
  }

  public void set(long n) {
    value.set(n);
  }

  /** Returns the current value. */
  public long value() {
    return value.get();
  }

  @Override
  public String name() {
    return name;
  }
}
