package io.legate.stats;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

class StatsFormatterTest {
  private static StatsStore store() {
    StatsStore store = new StatsStore();
    store.counter("cluster.backend.upstream_rq_total").add(4);
    store.counter("cluster.backend.upstream_cx_total");
    store.gauge("cluster.backend.upstream_cx_active").set(2);
    store.gauge("server.live").set(1);
    store.counter("cluster.backend-b.x").inc();
    Histogram h = store.histogram("cluster.backend.upstream_rq_time");
    for (int i = 1; i <= 10; i++) {
      h.record(i);
    }
    store.histogram("cluster.backend.upstream_cx_length_ms");
    return store;
  }

  @Test
  void textMergesCountersAndGaugesThenHistograms() {
    assertThat(StatsFormatter.text(store(), StatsFormatter.Query.ALL)).isEqualTo("""
        cluster.backend.upstream_cx_active: 2
        cluster.backend.upstream_cx_total: 0
        cluster.backend.upstream_rq_total: 4
        cluster.backend-b.x: 1
        server.live: 1
        cluster.backend.upstream_cx_length_ms: No recorded values
        cluster.backend.upstream_rq_time: P0(nan,1) P25(nan,3) P50(nan,5) P75(nan,8) \
        P90(nan,9) P95(nan,10) P99(nan,10) P99.5(nan,10) P99.9(nan,10) P100(nan,10)
        """);
  }

  @Test
  void usedOnlyFilterAndType() {
    StatsStore s = store();
    assertThat(StatsFormatter.text(s,
        new StatsFormatter.Query(true, Pattern.compile("backend\\."), StatsFormatter.Type.ALL)))
        .isEqualTo("""
            cluster.backend.upstream_cx_active: 2
            cluster.backend.upstream_rq_total: 4
            cluster.backend.upstream_rq_time: P0(nan,1) P25(nan,3) P50(nan,5) P75(nan,8) \
            P90(nan,9) P95(nan,10) P99(nan,10) P99.5(nan,10) P99.9(nan,10) P100(nan,10)
            """);
    assertThat(StatsFormatter.text(s,
        new StatsFormatter.Query(false, null, StatsFormatter.Type.GAUGES)))
        .isEqualTo("cluster.backend.upstream_cx_active: 2\nserver.live: 1\n");
  }

  @Test
  void json() {
    StatsStore s = store();
    assertThat(StatsFormatter.json(s,
        new StatsFormatter.Query(false, Pattern.compile("server|rq_time"), StatsFormatter.Type.ALL)))
        .isEqualTo("{\"stats\":[{\"name\":\"server.live\",\"value\":1},{\"histograms\":{"
            + "\"supported_quantiles\":[0,25,50,75,90,95,99,99.5,99.9,100],"
            + "\"computed_quantiles\":[{\"name\":\"cluster.backend.upstream_rq_time\",\"values\":["
            + "{\"cumulative\":1,\"interval\":null},{\"cumulative\":3,\"interval\":null},"
            + "{\"cumulative\":5,\"interval\":null},{\"cumulative\":8,\"interval\":null},"
            + "{\"cumulative\":9,\"interval\":null},{\"cumulative\":10,\"interval\":null},"
            + "{\"cumulative\":10,\"interval\":null},{\"cumulative\":10,\"interval\":null},"
            + "{\"cumulative\":10,\"interval\":null},{\"cumulative\":10,\"interval\":null}]}]}}]}");
    assertThat(StatsFormatter.json(s,
        new StatsFormatter.Query(false, Pattern.compile("nothing"), StatsFormatter.Type.ALL)))
        .isEqualTo("{\"stats\":[]}");
  }

  @Test
  void numbers() {
    assertThat(StatsFormatter.formatNumber(1.025)).isEqualTo("1.025");
    assertThat(StatsFormatter.formatNumber(3600000)).isEqualTo("3600000");
    assertThat(StatsFormatter.formatNumber(0.5)).isEqualTo("0.5");
    assertThat(StatsFormatter.formatNumber(Double.NaN)).isEqualTo("nan");
  }

  @Test
  void intervalHalfIsTheLastCompletedFlushInterval() {
    StatsStore s = store();
    Histogram h = s.histogram("cluster.backend.upstream_rq_time");
    StatsSink.snapshot(s); // a flush: 1..10 become the interval
    h.record(100); // in the next interval, not yet completed: cumulative only
    StatsFormatter.Query q = new StatsFormatter.Query(true, Pattern.compile("rq_time"), StatsFormatter.Type.ALL);
    assertThat(StatsFormatter.text(s, q)).isEqualTo("""
        cluster.backend.upstream_rq_time: P0(1,1) P25(3,3) P50(5,6) P75(8,9) \
        P90(9,10) P95(10,103) P99(10,103) P99.5(10,103) P99.9(10,103) P100(10,103)
        """);
    StatsSink.snapshot(s);
    assertThat(StatsFormatter.text(s, q)).isEqualTo("""
        cluster.backend.upstream_rq_time: P0(103,1) P25(103,3) P50(103,6) P75(103,9) \
        P90(103,10) P95(103,103) P99(103,103) P99.5(103,103) P99.9(103,103) P100(103,103)
        """);
    assertThat(StatsFormatter.textWithBuckets(s, new StatsFormatter.Query(true, Pattern.compile("rq_time"),
        StatsFormatter.Type.ALL), true))
        .startsWith("cluster.backend.upstream_rq_time: B0.5(0,0) B1(0,1) B5(0,5) B10(0,10) B25(0,10) B50(0,10)"
            + " B100(1,11) B250(1,11) B500(1,11)");
    assertThat(StatsFormatter.json(s, q)).contains("{\"cumulative\":1,\"interval\":103}");
    StatsSink.snapshot(s); // an interval without values
    assertThat(StatsFormatter.text(s, q)).startsWith("cluster.backend.upstream_rq_time: P0(nan,1) P25(nan,3)");
  }
}
