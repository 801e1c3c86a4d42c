package io.legate.stats;

import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * A counter increment and a histogram record, from one thread and from two threads hitting the same
 * stat (the workers share every cluster's and listener's stats).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class StatsBenchmark {
  private Counter counter;
  private Histogram histogram;

  @Setup
  public void setup() {
    StatsStore store = new StatsStore();
    counter = store.counter("cluster.bench.upstream_rq_total");
    histogram = store.histogram("cluster.bench.upstream_rq_time");
  }

  @Benchmark
  @Threads(1)
  public void counterIncOneThread() {
    counter.inc();
  }

  @Benchmark
  @Threads(2)
  public void counterIncTwoThreads() {
    counter.inc();
  }

  @Benchmark
  @Threads(1)
  public void histogramRecordOneThread() {
    histogram.record(7);
  }

  @Benchmark
  @Threads(2)
  public void histogramRecordTwoThreads() {
    histogram.record(7);
  }
}
