package io.legate.upstream;

import java.util.List;
import java.util.PriorityQueue;
import java.util.function.ToDoubleFunction;

/**
 * Envoy's earliest-deadline-first scheduler for weighted round robin: each entry's next deadline is
 * the current time plus {@code 1 / weight}; a pick takes the earliest deadline (ties in insertion
 * order) and re-adds the entry with its weight at that moment. Confined to one worker.
 */
final class EdfScheduler<T> {
  private static final class Entry<T> implements Comparable<Entry<T>> {
    final double deadline;
    final long order;
    final T item;

    Entry(double deadline, long order, T item) {
      this.deadline = deadline;
      this.order = order;
      this.item = item;
    }

    @Override
    public int compareTo(Entry<T> o) {
      int c = Double.compare(deadline, o.deadline);
      return c != 0 ? c : Long.compare(order, o.order);
    }
  }

  private final PriorityQueue<Entry<T>> queue = new PriorityQueue<>();
  private double currentTime;
  private long orderOffset;

  /**
   * Creates a scheduler holding {@code items}, advanced by {@code picks} picks (Envoy's
   * {@code createWithPicks}, which gives each worker a different starting point). The number of
   * emulated picks is reduced modulo the sum of the integer weights, one full period of the schedule.
   */
  static <T> EdfScheduler<T> createWithPicks(
      List<T> items, ToDoubleFunction<T> weight, long picks) {
    EdfScheduler<T> s = new EdfScheduler<>();
    long period = 0;
    for (T item : items) {
      double w = weight.applyAsDouble(item);
      s.add(w, item);
      period += Math.max(1L, (long) Math.ceil(w));
    }
    if (period > 0) {
      long n = Long.remainderUnsigned(picks, period);
      for (long i = 0; i < n; i++) {
        s.pickAndAdd(weight);
      }
    }
    return s;
  }

  void add(double weight, T item) {
    queue.add(new Entry<>(currentTime + 1.0 / weight, orderOffset++, item));
  }

  /** Returns the entry with the earliest deadline, re-added with its current weight; null if empty. */
  T pickAndAdd(ToDoubleFunction<T> weight) {
    Entry<T> e = queue.poll();
    if (e == null) {
      return null;
    }
    currentTime = e.deadline;
    add(weight.applyAsDouble(e.item), e.item);
    return e.item;
  }
}
