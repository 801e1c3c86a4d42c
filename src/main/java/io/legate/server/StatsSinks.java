package io.legate.server;

import io.envoyproxy.envoy.config.bootstrap.v3.Bootstrap;
import io.envoyproxy.envoy.config.metrics.v3.DogStatsdSink;
import io.envoyproxy.envoy.config.metrics.v3.StatsSink;
import io.envoyproxy.envoy.config.metrics.v3.StatsdSink;
import io.legate.config.ConfigException;
import io.legate.config.ConfigLoader;
import io.legate.listener.ListenerConfig;
import io.legate.stats.StatsStore;
import io.legate.upstream.Cluster;
import io.legate.upstream.ClusterManager;
import io.legate.upstream.Host;
import io.netty.channel.EventLoop;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/** Builds the bootstrap's {@code stats_sinks} and flushes them every {@code stats_flush_interval}. */
final class StatsSinks {
  static final String STATSD = "type.googleapis.com/envoy.config.metrics.v3.StatsdSink";
  static final String DOG_STATSD = "type.googleapis.com/envoy.config.metrics.v3.DogStatsdSink";

  private StatsSinks() {}

  /** Returns Envoy's {@code stats_flush_interval} in ms (default 5 s). */
  static long flushIntervalMillis(Bootstrap b) {
    if (!b.hasStatsFlushInterval()) {
      return 5000;
    }
    // The loader has checked Envoy's range, [1ms, 300s).
    return Math.max(1, b.getStatsFlushInterval().getSeconds() * 1000 + b.getStatsFlushInterval().getNanos() / 1_000_000);
  }

  /** Builds the sinks; {@code loop} is the main event loop. */
  static List<io.legate.stats.StatsSink> build(Bootstrap b, StatsStore stats, ClusterManager clusters, EventLoop loop) {
    if (b.getStatsFlushOnAdmin()) {
      throw new ConfigException("stats_flush_on_admin", "flushing stats on admin requests is not supported yet");
    }
    List<io.legate.stats.StatsSink> out = new ArrayList<>();
    for (int i = 0; i < b.getStatsSinksCount(); i++) {
      StatsSink s = b.getStatsSinks(i);
      String path = "stats_sinks[" + i + "]";
      String tp = path + ".typed_config";
      String type = s.getTypedConfig().getTypeUrl();
      if (!s.hasTypedConfig()) {
        throw new ConfigException(tp, "a stats sink needs a typed_config");
      }
      switch (type) {
        case STATSD -> {
          StatsdSink p = ConfigLoader.unpack(s.getTypedConfig(), StatsdSink.class, tp);
          String prefix = p.getPrefix().isEmpty() ? "envoy" : p.getPrefix();
          switch (p.getStatsdSpecifierCase()) {
            case ADDRESS -> {
              InetSocketAddress a = ListenerConfig.socketAddress(p.getAddress(), tp + ".address");
              out.add(new io.legate.stats.StatsdSink(
                  new io.legate.stats.StatsdSink.Settings(io.legate.stats.StatsdSink.Mode.UDP, prefix, false, 0),
                  loop, () -> a, stats.tagExtractor(), stats));
            }
            case TCP_CLUSTER_NAME -> {
              String name = p.getTcpClusterName();
              if (!clusters.exists(name)) {
                throw new ConfigException(tp + ".tcp_cluster_name", "unknown cluster '" + name + "'");
              }
              out.add(new io.legate.stats.StatsdSink(
                  new io.legate.stats.StatsdSink.Settings(io.legate.stats.StatsdSink.Mode.TCP, prefix, false, 0),
                  loop, host(clusters, name), stats.tagExtractor(), stats));
            }
            default -> throw new ConfigException(tp, "one of address or tcp_cluster_name is required");
          }
        }
        case DOG_STATSD -> {
          DogStatsdSink p = ConfigLoader.unpack(s.getTypedConfig(), DogStatsdSink.class, tp);
          if (!p.hasAddress()) {
            throw new ConfigException(tp + ".address", "value is required");
          }
          InetSocketAddress a = ListenerConfig.socketAddress(p.getAddress(), tp + ".address");
          String prefix = p.getPrefix().isEmpty() ? "envoy" : p.getPrefix();
          int max = p.hasMaxBytesPerDatagram() ? (int) Math.min(Integer.MAX_VALUE, p.getMaxBytesPerDatagram().getValue()) : 0;
          if (p.hasMaxBytesPerDatagram() && max < 1) {
            throw new ConfigException(tp + ".max_bytes_per_datagram", "value must be greater than 0");
          }
          out.add(new io.legate.stats.StatsdSink(
              new io.legate.stats.StatsdSink.Settings(io.legate.stats.StatsdSink.Mode.UDP, prefix, true, max),
              loop, () -> a, stats.tagExtractor(), stats));
        }
        default -> throw new ConfigException(tp, "unsupported stats sink '" + s.getName() + "' (" + type
            + "); supported: envoy.stat_sinks.statsd, envoy.stat_sinks.dog_statsd");
      }
    }
    return List.copyOf(out);
  }

  /** Returns a healthy host of the cluster (any host when none is healthy), asked at each connect. */
  private static Supplier<InetSocketAddress> host(ClusterManager clusters, String name) {
    return () -> {
      Cluster c = clusters.get(name);
      if (c == null) {
        return null;
      }
      List<Host> hosts = c.prioritySet().hosts();
      for (Host h : hosts) {
        if (h.healthy()) {
          return h.address();
        }
      }
      return hosts.isEmpty() ? null : hosts.get(0).address();
    };
  }

  /** Sends one snapshot to every sink; runs on the main thread. */
  static void flush(StatsStore stats, List<io.legate.stats.StatsSink> sinks) {
    if (sinks.isEmpty()) {
      io.legate.stats.StatsSink.latchHistograms(stats);
      return;
    }
    io.legate.stats.StatsSink.Snapshot snapshot = io.legate.stats.StatsSink.snapshot(stats);
    for (io.legate.stats.StatsSink s : sinks) {
      try {
        s.flush(snapshot);
      } catch (RuntimeException e) {
        Log.warn("stats", "stats sink flush failed: " + e);
      }
    }
  }
}
