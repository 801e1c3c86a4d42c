package io.legate.upstream;

import io.legate.stats.StatsStore;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/** One host pick per policy over 16 (or 256) healthy hosts of mixed weights. */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class LoadBalancerBenchmark {
  @Param({"ROUND_ROBIN", "LEAST_REQUEST", "RANDOM", "RING_HASH", "MAGLEV"})
  public String policy;

  @Param({"16", "256"})
  public int hosts;

  private LoadBalancer lb;
  private long key;
  private final LoadBalancer.LbContext hashed =
      new LoadBalancer.LbContext() {
        @Override
        public long hashKey() {
          return key;
        }
      };

  @Setup
  public void setup() {
    List<Host> list = new ArrayList<>();
    for (int i = 0; i < hosts; i++) {
      list.add(new Host("bench", new InetSocketAddress("10.0." + (i / 250) + "." + (i % 250 + 1), 8080), "", 1 + i % 3, 0, ""));
    }
    LbFactory f =
        new LbFactory(LbFactory.Policy.valueOf(policy), 50, 2, 1.0, new StatsStore().counter("lb_healthy_panic"));
    lb = f.create(new PrioritySet(List.of(list)));
  }

  @Benchmark
  public Host pick() {
    key = key * 6364136223846793005L + 1442695040888963407L;
    return lb.chooseHost(hashed);
  }
}
