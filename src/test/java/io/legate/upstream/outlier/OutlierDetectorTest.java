package io.legate.upstream.outlier;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.Gson;
import com.google.protobuf.util.JsonFormat;
import io.legate.stats.StatsStore;
import io.legate.upstream.Cluster;
import io.legate.upstream.ClusterInfo;
import io.legate.upstream.Host;
import io.legate.upstream.PrioritySet;
import io.netty.channel.DefaultEventLoop;
import io.netty.channel.EventLoop;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The detector's decisions with an injected clock and intervals run by hand. */
class OutlierDetectorTest {
  private final EventLoop loop = new DefaultEventLoop();
  private final StatsStore stats = new StatsStore();
  private final AtomicLong nanos = new AtomicLong(1_000_000_000L);

  @AfterEach
  void stop() {
    loop.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
  }

  /** A cluster whose hosts the test publishes. */
  static final class TestCluster extends Cluster {
    TestCluster(ClusterInfo info, EventLoop loop) {
      super(info, loop);
    }

    @Override
    protected void startPreInit() {
      onPreInitComplete();
    }

    void set(List<Host> hosts) {
      publish(new PrioritySet(List.of(hosts)));
    }
  }

  private TestCluster cluster;
  private OutlierDetector detector;
  private final List<Host> hosts = new ArrayList<>();

  private void setUp(String outlierYaml, int hostCount) throws Exception {
    io.envoyproxy.envoy.config.cluster.v3.Cluster.Builder b =
        io.envoyproxy.envoy.config.cluster.v3.Cluster.newBuilder();
    JsonFormat.parser()
        .merge(new Gson().toJson((Object) new org.yaml.snakeyaml.Yaml().load(
            "name: c\ntype: STATIC\noutlier_detection: " + outlierYaml)), b);
    ClusterInfo info = ClusterInfo.build(b.build(), "clusters[0]", stats);
    cluster = new TestCluster(info, loop);
    detector = OutlierDetector.attach(cluster, info.outlierDetection(), loop, nanos::get);
    for (int i = 0; i < hostCount; i++) {
      hosts.add(new Host("c", new InetSocketAddress("127.0.0." + (i + 1), 80), "", 1, 0, ""));
    }
    loop.submit(() -> cluster.set(hosts)).get();
  }

  private void interval() throws Exception {
    loop.submit(detector::onIntervalTimer).get();
  }

  private long stat(String name) {
    for (var c : stats.counters()) {
      if (c.name().equals("cluster.c.outlier_detection." + name)) {
        return c.value();
      }
    }
    for (var g : stats.gauges()) {
      if (g.name().equals("cluster.c.outlier_detection." + name)) {
        return g.value();
      }
    }
    return -1;
  }

  private boolean ejected(Host h) throws Exception {
    loop.submit(() -> {}).get(); // let posted ejections run
    return (h.healthFlags() & Host.FAILED_OUTLIER_CHECK) != 0;
  }

  @Test
  void ejectionTimeGrowsWithEachEjectionAndIsCappedByMaxEjectionTime() throws Exception {
    setUp("{ consecutive_5xx: 2, interval: 3600s, base_ejection_time: 1s, max_ejection_time: 1.5s,"
        + " max_ejection_percent: 100 }", 2);
    Host h = hosts.get(0);
    h.outlier().putHttpResponseCode(500);
    assertThat(ejected(h)).isFalse();
    h.outlier().putHttpResponseCode(503);
    assertThat(ejected(h)).isTrue();
    assertThat(stat("ejections_active")).isEqualTo(1);
    assertThat(h.outlier().numEjections()).isEqualTo(1);

    nanos.addAndGet(999_000_000L);
    interval();
    assertThat(ejected(h)).isTrue();
    nanos.addAndGet(1_000_000L);
    interval();
    assertThat(ejected(h)).isFalse();
    assertThat(stat("ejections_active")).isEqualTo(0);

    // Second ejection: min(2 × base, max) = 1.5 s.
    h.outlier().putHttpResponseCode(500);
    h.outlier().putHttpResponseCode(500);
    assertThat(ejected(h)).isTrue();
    nanos.addAndGet(1_499_000_000L);
    interval();
    assertThat(ejected(h)).isTrue();
    nanos.addAndGet(1_000_000L);
    interval();
    assertThat(ejected(h)).isFalse();
    assertThat(stat("ejections_enforced_total")).isEqualTo(2);
    assertThat(stat("ejections_enforced_consecutive_5xx")).isEqualTo(2);
    assertThat(stat("ejections_detected_consecutive_5xx")).isEqualTo(2);
  }

  @Test
  void aSuccessResetsTheConsecutiveCountAndGatewayFailuresNeedEnforcing() throws Exception {
    setUp("{ consecutive_5xx: 3, consecutive_gateway_failure: 2, interval: 3600s,"
        + " max_ejection_percent: 100 }", 2);
    Host h = hosts.get(0);
    h.outlier().putHttpResponseCode(502);
    h.outlier().putHttpResponseCode(502);
    // Gateway failures detected, but enforcing_consecutive_gateway_failure defaults to 0.
    assertThat(ejected(h)).isFalse();
    assertThat(stat("ejections_detected_consecutive_gateway_failure")).isEqualTo(1);
    assertThat(stat("ejections_enforced_consecutive_gateway_failure")).isEqualTo(0);
    h.outlier().putHttpResponseCode(200);
    h.outlier().putHttpResponseCode(500);
    h.outlier().putHttpResponseCode(500);
    assertThat(ejected(h)).isFalse();
    h.outlier().putResult(Result.LOCAL_ORIGIN_CONNECT_FAILED); // a 503 when not split
    assertThat(ejected(h)).isTrue();
    assertThat(stat("ejections_enforced_consecutive_5xx")).isEqualTo(1);
  }

  @Test
  void successRateEjectsTheHostBelowMeanMinusStdevFactorTimesStdev() throws Exception {
    setUp("{ interval: 3600s, success_rate_request_volume: 10, success_rate_minimum_hosts: 5,"
        + " consecutive_5xx: 1000, max_ejection_percent: 100 }", 5);
    // Success rates 50, 100, 100, 100, 100: mean 90, stdev 20, threshold 90 - 1.9 × 20 = 52.
    for (int i = 0; i < 5; i++) {
      for (int r = 0; r < 10; r++) {
        hosts.get(i).outlier().putHttpResponseCode(i == 0 && r % 2 == 0 ? 500 : 200);
      }
    }
    interval();
    assertThat(ejected(hosts.get(0))).isTrue();
    assertThat(detector.successRateAverage()).isEqualTo(90.0);
    assertThat(detector.successRateEjectionThreshold()).isCloseTo(52.0, org.assertj.core.data.Offset.offset(1e-9));
    assertThat(hosts.get(1).outlier().successRate()).isEqualTo(100.0);
    assertThat(stat("ejections_enforced_success_rate")).isEqualTo(1);
    assertThat(stat("ejections_detected_success_rate")).isEqualTo(1);
    for (int i = 1; i < 5; i++) {
      assertThat(ejected(hosts.get(i))).isFalse();
    }
  }

  @Test
  void failurePercentageIsDetectedAndEnforcedOnlyWhenConfigured() throws Exception {
    setUp("{ interval: 3600s, failure_percentage_request_volume: 10, failure_percentage_minimum_hosts: 2,"
        + " failure_percentage_threshold: 50, enforcing_failure_percentage: 100,"
        + " success_rate_minimum_hosts: 100, consecutive_5xx: 1000, max_ejection_percent: 50 }", 2);
    for (int r = 0; r < 10; r++) {
      hosts.get(0).outlier().putHttpResponseCode(r < 6 ? 500 : 200);
      hosts.get(1).outlier().putHttpResponseCode(200);
    }
    interval();
    assertThat(ejected(hosts.get(0))).isTrue();
    assertThat(ejected(hosts.get(1))).isFalse();
    assertThat(stat("ejections_enforced_failure_percentage")).isEqualTo(1);
    assertThat(stat("ejections_detected_failure_percentage")).isEqualTo(1);
  }

  @Test
  void removedEjectedHostLeavesTheActiveGauge() throws Exception {
    setUp("{ consecutive_5xx: 1, interval: 3600s, max_ejection_percent: 100 }", 2);
    Host h = hosts.get(0);
    h.outlier().putHttpResponseCode(500);
    assertThat(ejected(h)).isTrue();
    assertThat(stat("ejections_active")).isEqualTo(1);
    loop.submit(() -> cluster.set(List.of(hosts.get(1)))).get();
    assertThat(stat("ejections_active")).isEqualTo(0);
  }
}
