package io.legate.stats;

import java.util.concurrent.atomic.AtomicLong;

/** A value that goes up and down (active connections, membership counts). */
public final class Gauge implements Metric {
  private final String name;
  private final AtomicLong value = new AtomicLong();
  private volatile boolean used;

  Gauge(String name) {
    this.name = name;
  }

  public void inc() {
    value.incrementAndGet();
    markUsed();
  }

  public void dec() {
    value.decrementAndGet();
    markUsed();
  }

  public void add(long n) {
    value.addAndGet(n);
    markUsed();
  }

  public void set(long n) {
    value.set(n);
    markUsed();
  }

  private void markUsed() {
    if (!used) {
      used = true;
    }
  }

  /** Returns whether the gauge was ever changed (Envoy's {@code used} flag). */
  public boolean used() {
    return used;
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
