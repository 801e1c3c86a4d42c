package io.legate.stats;

import java.util.concurrent.atomic.AtomicLong;

/**
 * A value that goes up and down (active connections, membership counts). A gauge rejected by
 * {@code stats_config.stats_matcher} is a no-op instance (value 0) that is not in the store.
 */
public sealed class Gauge implements Metric permits Gauge.Null {
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

  /** The gauge handed out for a rejected name: every update is dropped. */
  static final class Null extends Gauge {
    Null(String name) {
      super(name);
    }

    @Override
    public void inc() {}

    @Override
    public void dec() {}

    @Override
    public void add(long n) {}

    @Override
    public void set(long n) {}
  }
}
