package io.legate.router;

import io.netty.handler.codec.http2.Http2Headers;
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

/**
 * Route selection with 10 and 10,000 prefix routes (plus as many exact paths, a regex and a
 * catch-all), for a request matching the last prefix route and for a miss that falls through to
 * the catch-all.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class RouteMatchBenchmark {
  @Param({"10", "10000"})
  public int routes;

  private RouteTable table;
  private Http2Headers hit;
  private Http2Headers miss;
  private long random;

  @Setup
  public void setup() {
    StringBuilder sb = new StringBuilder("[");
    for (int i = 0; i < routes; i++) {
      sb.append("{\"name\":\"r").append(i).append("\",\"match\":{\"prefix\":\"/svc").append(i)
          .append("/\"},\"route\":{\"cluster\":\"c").append(i).append("\"}},");
      sb.append("{\"name\":\"p").append(i).append("\",\"match\":{\"path\":\"/exact").append(i)
          .append("\"},\"route\":{\"cluster\":\"c\"}},");
    }
    sb.append("{\"name\":\"regex\",\"match\":{\"safe_regex\":{\"regex\":\"/re/.*\"}},\"route\":{\"cluster\":\"re\"}},");
    sb.append("{\"name\":\"default\",\"match\":{\"prefix\":\"/\"},\"route\":{\"cluster\":\"d\"}}]");
    table = Fixtures.routes(sb.toString());
    hit = Fixtures.req("/svc" + (routes - 1) + "/items/42?x=1");
    miss = Fixtures.req("/nothing/here");
  }

  @Benchmark
  public Route hit() {
    return table.route(hit, random++);
  }

  @Benchmark
  public Route miss() {
    return table.route(miss, random++);
  }
}
