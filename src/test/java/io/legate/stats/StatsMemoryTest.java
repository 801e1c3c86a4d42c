package io.legate.stats;

import static org.assertj.core.api.Assertions.assertThat;

import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.core.v3.Address;
import io.envoyproxy.envoy.config.core.v3.SocketAddress;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.endpoint.v3.Endpoint;
import io.envoyproxy.envoy.config.endpoint.v3.LbEndpoint;
import io.envoyproxy.envoy.config.endpoint.v3.LocalityLbEndpoints;
import io.legate.network.Transport;
import io.legate.upstream.ClusterManager;
import io.netty.channel.EventLoopGroup;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * How much heap a stat costs: 1,000 static clusters are built into a fresh store and the heap is
 * measured before and after, each time after the GC has settled. Prints the figure; asserts only a
 * generous bound, since the JVM's layout varies.
 */
class StatsMemoryTest {
  static final int CLUSTERS = 1000;

  static long settledHeapUsed() throws InterruptedException {
    var mx = ManagementFactory.getMemoryMXBean();
    long last = Long.MAX_VALUE;
    for (int i = 0; i < 10; i++) {
      System.gc();
      Thread.sleep(50);
      long used = mx.getHeapMemoryUsage().getUsed();
      if (Math.abs(last - used) < 64 * 1024) {
        return used;
      }
      last = used;
    }
    return last;
  }

  static List<Cluster> clusters() {
    List<Cluster> out = new ArrayList<>();
    for (int i = 0; i < CLUSTERS; i++) {
      String name = "service_" + i;
      out.add(Cluster.newBuilder()
          .setName(name)
          .setType(Cluster.DiscoveryType.STATIC)
          .setLoadAssignment(ClusterLoadAssignment.newBuilder().setClusterName(name)
              .addEndpoints(LocalityLbEndpoints.newBuilder().addLbEndpoints(LbEndpoint.newBuilder()
                  .setEndpoint(Endpoint.newBuilder().setAddress(Address.newBuilder().setSocketAddress(
                      SocketAddress.newBuilder().setAddress("127.0.0.1").setPortValue(10000 + i)))))))
          .build());
    }
    return out;
  }

  @Test
  void bytesPerStatWithAThousandClusters() throws Exception {
    List<Cluster> protos = clusters();
    EventLoopGroup main = Transport.group(1, "memory-test");
    try {
      long before = settledHeapUsed();
      StatsStore store = new StatsStore();
      ClusterManager manager = new ClusterManager(store, main.next());
      manager.addStaticClusters(protos, "static_resources.clusters");
      long after = settledHeapUsed();
      int stats = store.counters().size() + store.gauges().size() + store.histograms().size();

      // The same names in a bare store: the cost of the stats alone, without the clusters.
      List<String> counters = new ArrayList<>();
      store.counters().forEach(c -> counters.add(c.name()));
      List<String> gauges = new ArrayList<>();
      store.gauges().forEach(g -> gauges.add(g.name()));
      List<String> histograms = new ArrayList<>();
      store.histograms().forEach(h -> histograms.add(h.name()));
      long bareBefore = settledHeapUsed();
      StatsStore bare = new StatsStore();
      counters.forEach(bare::counter);
      gauges.forEach(bare::gauge);
      histograms.forEach(bare::histogram);
      long bareAfter = settledHeapUsed();

      long perStatWithClusters = (after - before) / stats;
      long perStat = (bareAfter - bareBefore) / stats;
      System.out.printf(
          "stats memory: %d clusters, %d stats (%d counters, %d gauges, %d histograms); "
              + "%d bytes per stat including the clusters, %d bytes per stat in the store alone "
              + "(names included; a histogram's buckets are allocated on first record)%n",
          CLUSTERS, stats, counters.size(), gauges.size(), histograms.size(), perStatWithClusters, perStat);
      assertThat(stats).isGreaterThanOrEqualTo(CLUSTERS * 10);
      assertThat(perStat).isLessThan(2048);
      assertThat(perStatWithClusters).isLessThan(16384);
      // Keep everything reachable until measured.
      assertThat(bare.counters()).hasSize(counters.size());
      manager.shutdown();
    } finally {
      main.shutdownGracefully(0, 0, TimeUnit.MILLISECONDS);
    }
  }
}
