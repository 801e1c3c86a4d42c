package io.legate.stats;

import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.LongAdder;

/**
 * A latency histogram in milliseconds (Envoy records {@code upstream_rq_time} and friends in ms).
 * Log-linear buckets, lock-free recording; quantiles are estimated from the bucket upper bounds.
 */
public final class Histogram implements Metric {
  /** Upper bounds (inclusive) of Envoy's default Prometheus buckets, in ms; the last bucket is +Inf. */
  public static final double[] BUCKETS = {
    0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000,
    1800000, 3600000
  };

  // Fine-grained buckets for quantiles: value v (ms) falls into index fine(v).
  private static final int SUB = 16;
  private static final int FINE = 64 * SUB;

  private final String name;
  private final AtomicLongArray fine = new AtomicLongArray(FINE);
  private final LongAdder count = new LongAdder();
  private final LongAdder sum = new LongAdder();

  Histogram(String name) {
    this.name = name;
  }

  @Override
  public String name() {
    return name;
  }

  /** Records one value. */
  public void record(long valueMs) {
    long v = Math.max(0, valueMs);
    fine.incrementAndGet(index(v));
    count.increment();
    sum.add(v);
  }

  static int index(long v) {
    if (v < SUB) {
      return (int) v;
    }
    int exp = 63 - Long.numberOfLeadingZeros(v); // >= 4
    int shift = exp - 4;
    int mantissa = (int) ((v >>> shift) & (SUB - 1));
    int idx = (exp - 3) * SUB + mantissa;
    return Math.min(idx, FINE - 1);
  }

  static long upperBound(int idx) {
    if (idx < SUB) {
      return idx;
    }
    int exp = idx / SUB + 3;
    int mantissa = idx % SUB;
    int shift = exp - 4;
    return ((long) (SUB + mantissa) << shift) + (1L << shift) - 1;
  }

  /** Returns the number of recorded values. */
  public long count() {
    return count.sum();
  }

  /** Returns the sum of recorded values. */
  public long sum() {
    return sum.sum();
  }

  /** Returns the estimated value at quantile q in [0,1], or NaN when empty. */
  public double quantile(double q) {
    long[] snap = snapshot();
    long total = 0;
    for (long c : snap) {
      total += c;
    }
    if (total == 0) {
      return Double.NaN;
    }
    long rank = Math.max(1, (long) Math.ceil(q * total));
    long seen = 0;
    for (int i = 0; i < snap.length; i++) {
      seen += snap[i];
      if (seen >= rank) {
        return upperBound(i);
      }
    }
    return upperBound(snap.length - 1);
  }

  /** Returns cumulative counts for each bound in {@link #BUCKETS}. */
  public long[] cumulativeBuckets() {
    long[] snap = snapshot();
    long[] out = new long[BUCKETS.length];
    for (int i = 0; i < snap.length; i++) {
      if (snap[i] == 0) {
        continue;
      }
      long ub = upperBound(i);
      long lb = i < SUB ? i : upperBound(i - 1) + 1;
      for (int b = 0; b < BUCKETS.length; b++) {
        // attribute the bucket to the first bound that holds its lower edge
        if (lb <= BUCKETS[b] || ub <= BUCKETS[b]) {
          out[b] += snap[i];
          break;
        }
      }
    }
    for (int b = 1; b < out.length; b++) {
      out[b] += out[b - 1];
    }
    return out;
  }

  private long[] snapshot() {
    long[] s = new long[FINE];
    for (int i = 0; i < FINE; i++) {
      s[i] = fine.get(i);
    }
    return s;
  }
}
