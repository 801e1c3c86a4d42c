package io.legate.stats;

import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.LongAdder;

/**
 * A latency histogram in milliseconds (Envoy records {@code upstream_rq_time} and friends in ms).
 * Log-linear buckets, lock-free recording; quantiles are estimated from the bucket upper bounds.
 * The bucket array is allocated on the first recorded value, so a histogram that is never written
 * costs a few dozen bytes. A histogram rejected by {@code stats_config.stats_matcher} is a no-op
 * instance that is not in the store.
 */
public sealed class Histogram implements Metric permits Histogram.Null {
  /** Upper bounds (inclusive) of Envoy's default Prometheus buckets, in ms; the last bucket is +Inf. */
  public static final double[] BUCKETS = {
    0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000,
    1800000, 3600000
  };

  // Fine-grained buckets for quantiles: value v (ms) falls into index fine(v).
  private static final int SUB = 16;
  private static final int FINE = 64 * SUB;

  private final String name;
  private final double[] bounds;
  private volatile AtomicLongArray fine;
  private final LongAdder count = new LongAdder();
  private final LongAdder sum = new LongAdder();
  // Fine counts at the previous sink flush; main thread only.
  private long[] flushed;

  Histogram(String name) {
    this(name, BUCKETS);
  }

  Histogram(String name, double[] bounds) {
    this.name = name;
    this.bounds = bounds;
  }

  /** Returns the upper bounds of this histogram's buckets ({@code histogram_bucket_settings} or Envoy's defaults). */
  public double[] bucketBounds() {
    return bounds.clone();
  }

  private AtomicLongArray fine() {
    AtomicLongArray f = fine;
    if (f == null) {
      synchronized (this) {
        f = fine;
        if (f == null) {
          f = new AtomicLongArray(FINE);
          fine = f;
        }
      }
    }
    return f;
  }

  @Override
  public String name() {
    return name;
  }

  /** Records one value. */
  public void record(long valueMs) {
    long v = Math.max(0, valueMs);
    fine().incrementAndGet(index(v));
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

  /** Returns cumulative counts for each bound in {@link #bucketBounds()}. */
  public long[] cumulativeBuckets() {
    return cumulative(snapshot());
  }

  private long[] cumulative(long[] snap) {
    long[] out = new long[bounds.length];
    for (int i = 0; i < snap.length; i++) {
      if (snap[i] == 0) {
        continue;
      }
      long ub = upperBound(i);
      long lb = i < SUB ? i : upperBound(i - 1) + 1;
      for (int b = 0; b < bounds.length; b++) {
        // attribute the bucket to the first bound that holds its lower edge
        if (lb <= bounds[b] || ub <= bounds[b]) {
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
    AtomicLongArray f = fine;
    if (f != null) {
      for (int i = 0; i < FINE; i++) {
        s[i] = f.get(i);
      }
    }
    return s;
  }

  /**
   * Returns the values recorded since the previous call as {@code [value, count, value, count,
   * ...]}: values below 16 ms are exact, larger ones are the upper bound of their sub-bucket (within
   * 1/16). Called by the sink flush on the main thread only.
   */
  long[] intervalValues() {
    AtomicLongArray f = fine;
    if (f == null) {
      return new long[0];
    }
    if (flushed == null) {
      flushed = new long[FINE];
    }
    long[] out = new long[16];
    int n = 0;
    for (int i = 0; i < FINE; i++) {
      long now = f.get(i);
      long d = now - flushed[i];
      if (d > 0) {
        flushed[i] = now;
        if (n + 2 > out.length) {
          out = java.util.Arrays.copyOf(out, out.length * 2);
        }
        out[n++] = upperBound(i);
        out[n++] = d;
      }
    }
    return java.util.Arrays.copyOf(out, n);
  }

  /** The histogram handed out for a rejected name: every value is dropped. */
  static final class Null extends Histogram {
    Null(String name) {
      super(name);
    }

    @Override
    public void record(long valueMs) {}
  }
}
