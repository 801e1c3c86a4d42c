package io.legate.stats;

import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.LongAdder;

/**
 * A latency histogram in milliseconds (Envoy records {@code upstream_rq_time} and friends in ms).
 * Log-linear buckets, lock-free recording; quantiles are estimated from the bucket upper bounds.
 * Besides every value ever recorded (cumulative), it keeps the values of the last completed
 * {@code stats_flush_interval} (interval), as Envoy's histograms do.
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
  private static final long[] EMPTY = new long[0];
  private static final int[] NO_INDEXES = new int[0];
  // Non-zero fine counts (index, count; ascending) and total at the previous stats flush; main
  // thread only.
  private int[] flushedIdx = NO_INDEXES;
  private long[] flushedVal = EMPTY;
  private long flushedCount;
  // The last completed flush interval as [fine index, count, ...]; written by the flush, read by admin.
  private volatile long[] interval = EMPTY;

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

  /** Returns the estimated value at quantile q in [0,1] of every value ever recorded, or NaN when empty. */
  public double quantile(double q) {
    return quantile(snapshot(), q);
  }

  /** Returns the estimated values at each quantile in {@code qs} of every value ever recorded (NaN when empty). */
  public double[] quantiles(double[] qs) {
    return quantiles(snapshot(), qs);
  }

  /** Returns the estimated values at each quantile in {@code qs} of the last completed flush interval. */
  public double[] intervalQuantiles(double[] qs) {
    return quantiles(intervalSnapshot(), qs);
  }

  private static double[] quantiles(long[] snap, double[] qs) {
    double[] out = new double[qs.length];
    for (int i = 0; i < qs.length; i++) {
      out[i] = quantile(snap, qs[i]);
    }
    return out;
  }

  private static double quantile(long[] snap, double q) {
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
   * Ends the current flush interval (Envoy merges its histograms at each {@code
   * stats_flush_interval}): the values recorded since the previous call become the interval that
   * {@link #intervalQuantile} and {@link #intervalCumulativeBuckets} describe until the next call.
   * Returns them as {@code [value, count, value, count, ...]} in ascending order for the sinks:
   * values below 16 ms are exact, larger ones are the upper bound of their sub-bucket (within 1/16).
   * Called by the stats flush on the main thread only.
   */
  long[] latchInterval() {
    AtomicLongArray f = fine;
    // record() counts the fine bucket before the total: an unchanged total means nothing new has
    // finished recording (a value caught half-way is taken by the next interval).
    long total = count.sum();
    if (f == null || total == flushedCount) {
      interval = EMPTY;
      return EMPTY;
    }
    flushedCount = total;
    // The counts at the previous flush are kept sparse (few buckets are ever used): walk them
    // alongside the live array and keep the new non-zero counts for the next flush.
    int[] prevIdx = flushedIdx;
    long[] prevVal = flushedVal;
    int p = 0;
    int[] nextIdx = new int[Math.max(8, prevIdx.length)];
    long[] nextVal = new long[nextIdx.length];
    int m = 0;
    long[] pairs = new long[16];
    int n = 0;
    for (int i = 0; i < FINE; i++) {
      long now = f.get(i);
      if (now == 0) {
        continue;
      }
      while (p < prevIdx.length && prevIdx[p] < i) {
        p++;
      }
      long before = p < prevIdx.length && prevIdx[p] == i ? prevVal[p] : 0;
      if (m == nextIdx.length) {
        nextIdx = java.util.Arrays.copyOf(nextIdx, m * 2);
        nextVal = java.util.Arrays.copyOf(nextVal, m * 2);
      }
      nextIdx[m] = i;
      nextVal[m++] = now;
      long d = now - before;
      if (d > 0) {
        if (n + 2 > pairs.length) {
          pairs = java.util.Arrays.copyOf(pairs, pairs.length * 2);
        }
        pairs[n++] = i;
        pairs[n++] = d;
      }
    }
    flushedIdx = java.util.Arrays.copyOf(nextIdx, m);
    flushedVal = java.util.Arrays.copyOf(nextVal, m);
    pairs = java.util.Arrays.copyOf(pairs, n);
    interval = pairs;
    long[] values = new long[n];
    for (int k = 0; k < n; k += 2) {
      values[k] = upperBound((int) pairs[k]);
      values[k + 1] = pairs[k + 1];
    }
    return values;
  }

  /** Returns the number of values in the last completed flush interval. */
  public long intervalCount() {
    long[] pairs = interval;
    long total = 0;
    for (int k = 1; k < pairs.length; k += 2) {
      total += pairs[k];
    }
    return total;
  }

  /**
   * Returns the estimated value at quantile q in [0,1] of the last completed flush interval, or NaN
   * when that interval recorded nothing.
   */
  public double intervalQuantile(double q) {
    return quantile(intervalSnapshot(), q);
  }

  /** Returns the last completed flush interval's cumulative counts for each bound in {@link #bucketBounds()}. */
  public long[] intervalCumulativeBuckets() {
    return cumulative(intervalSnapshot());
  }

  private long[] intervalSnapshot() {
    long[] pairs = interval;
    long[] s = new long[FINE];
    for (int k = 0; k < pairs.length; k += 2) {
      s[(int) pairs[k]] = pairs[k + 1];
    }
    return s;
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
