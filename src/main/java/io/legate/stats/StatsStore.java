package io.legate.stats;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * All stats of the process, by full name. Stats are created at config time and held by the objects
 * that update them, so the data path never looks a name up or builds a string.
 *
 * <p>A name rejected by {@code stats_config.stats_matcher} gets a no-op stat that is not stored: it
 * never shows in {@code /stats}, Prometheus or the sinks, and updating it costs a virtual call.
 */
public final class StatsStore {
  private final ConcurrentHashMap<String, Counter> counters = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, Gauge> gauges = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, Histogram> histograms = new ConcurrentHashMap<>();
  private final StatsOptions options;

  /** Creates a store with Envoy's default {@code stats_config}. */
  public StatsStore() {
    this(StatsOptions.DEFAULTS);
  }

  /** Creates a store that applies {@code options} (the bootstrap's {@code stats_config}). */
  public StatsStore(StatsOptions options) {
    this.options = Objects.requireNonNull(options, "options");
  }

  /** Returns the compiled {@code stats_config}. */
  public StatsOptions options() {
    return options;
  }

  /** Returns the tag extraction of this store ({@code stats_tags}, {@code use_all_default_tags}). */
  public TagExtractor tagExtractor() {
    return options.tagExtractor();
  }

  /** Returns the counter with this name, creating it on first use; a no-op one when rejected. */
  public Counter counter(String name) {
    Counter c = counters.get(name);
    if (c != null) {
      return c;
    }
    if (!options.accepts().test(name)) {
      return new Counter.Null(name);
    }
    return counters.computeIfAbsent(name, Counter::new);
  }

  /** Returns the gauge with this name, creating it on first use; a no-op one when rejected. */
  public Gauge gauge(String name) {
    Gauge g = gauges.get(name);
    if (g != null) {
      return g;
    }
    if (!options.accepts().test(name)) {
      return new Gauge.Null(name);
    }
    return gauges.computeIfAbsent(name, Gauge::new);
  }

  /** Returns the histogram with this name, creating it on first use; a no-op one when rejected. */
  public Histogram histogram(String name) {
    Histogram h = histograms.get(name);
    if (h != null) {
      return h;
    }
    if (!options.accepts().test(name)) {
      return new Histogram.Null(name);
    }
    return histograms.computeIfAbsent(name, n -> new Histogram(n, options.bucketsFor(n)));
  }

  /** Sets every counter to zero (Envoy's {@code /reset_counters}); call on the main thread. */
  public void resetCounters() {
    for (Counter c : counters.values()) {
      c.reset();
    }
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
