package io.legate.stats;

import java.util.List;
import java.util.Objects;

/**
 * Envoy's {@code Stats::Sink}: receives a snapshot of the stats every {@code stats_flush_interval}
 * on the main thread. Implementations must not block: they hand bytes to non-blocking sockets and
 * drop (and count) what cannot be sent.
 */
public interface StatsSink extends AutoCloseable {
  /** Sends one snapshot; called on the main thread. */
  void flush(Snapshot snapshot);

  /** Releases the sink's sockets. */
  @Override
  void close();

  /** A counter and its increase since the previous flush. */
  record CounterDelta(Counter counter, long delta) {}

  /**
   * A histogram and the values recorded since the previous flush.
   *
   * @param values {@code [value, count, value, count, ...]} in ascending value order
   */
  record HistogramValues(Histogram histogram, long[] values) {}

  /** What one flush sends: every stored counter with its delta, every gauge, every histogram's new values. */
  record Snapshot(List<CounterDelta> counters, List<Gauge> gauges, List<HistogramValues> histograms) {
    public Snapshot {
      counters = List.copyOf(counters);
      gauges = List.copyOf(gauges);
      histograms = List.copyOf(histograms);
    }
  }

  /** Ends the histograms' flush interval without taking a snapshot (a flush without sinks). */
  static void latchHistograms(StatsStore store) {
    for (Histogram h : store.histograms()) {
      h.latchInterval();
    }
  }

  /** Returns the snapshot of {@code store}, latching counter deltas and histogram intervals. */
  static Snapshot snapshot(StatsStore store) {
    Objects.requireNonNull(store, "store");
    List<CounterDelta> counters = new java.util.ArrayList<>();
    for (Counter c : store.counters()) {
      counters.add(new CounterDelta(c, c.latch()));
    }
    List<HistogramValues> histograms = new java.util.ArrayList<>();
    for (Histogram h : store.histograms()) {
      long[] v = h.latchInterval();
      if (v.length > 0) {
        histograms.add(new HistogramValues(h, v));
      }
    }
    return new Snapshot(counters, store.gauges(), histograms);
  }
}
