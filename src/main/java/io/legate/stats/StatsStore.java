package io.legate.stats;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * All stats of the process, by full name. Stats are created at config time and held by the objects
 * that update them, so the data path never looks a name up or builds a string.
 */
public final class StatsStore {
  private final ConcurrentHashMap<String, Counter> counters = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, Gauge> gauges = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, Histogram> histograms = new ConcurrentHashMap<>();

  /** Returns the counter with this name, creating it on first use. */
  public Counter counter(String name) {
    return counters.computeIfAbsent(name, Counter::new);
  }

  /** Returns the gauge with this name, creating it on first use. */
  public Gauge gauge(String name) {
    return gauges.computeIfAbsent(name, Gauge::new);
  }

  /** Returns the histogram with this name, creating it on first use. */
  public Histogram histogram(String name) {
    return histograms.computeIfAbsent(name, Histogram::new);
  }

  /** Returns a view that prefixes every name with {@code prefix} (which should end with a dot). */
  public Scope scope(String prefix) {
    return new Scope(this, prefix);
  }

  public List<Counter> counters() {
    return sorted(counters.values(), Counter::name);
  }

  public List<Gauge> gauges() {
    return sorted(gauges.values(), Gauge::name);
  }

  public List<Histogram> histograms() {
    return sorted(histograms.values(), Histogram::name);
  }

  private static <T> List<T> sorted(java.util.Collection<T> in, Function<T, String> key) {
    List<T> out = new ArrayList<>(in);
    out.sort(Comparator.comparing(key));
    return out;
  }

  /** A prefix over a store. */
  public static final class Scope {
    private final StatsStore store;
    private final String prefix;

    Scope(StatsStore store, String prefix) {
      this.store = store;
      this.prefix = prefix;
    }

    public Counter counter(String name) {
      return store.counter(prefix + name);
    }

    public Gauge gauge(String name) {
      return store.gauge(prefix + name);
    }

    public Histogram histogram(String name) {
      return store.histogram(prefix + name);
    }

    public Scope scope(String more) {
      return new Scope(store, prefix + more);
    }

    public String prefix() {
      return prefix;
    }

    public StatsStore store() {
      return store;
    }
  }
}
