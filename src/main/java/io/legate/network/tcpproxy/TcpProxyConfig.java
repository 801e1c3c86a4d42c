package io.legate.network.tcpproxy;

import com.google.protobuf.Duration;
import io.envoyproxy.envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy;
import io.legate.config.ConfigException;
import io.legate.stats.Counter;
import io.legate.stats.Gauge;
import io.legate.stats.StatsStore;
import io.legate.upstream.ClusterManager;
import java.util.ArrayList;
import java.util.List;

/** {@code envoy.filters.network.tcp_proxy}'s immutable runtime config and stats. */
public final class TcpProxyConfig {
  /** A cluster and its weight. */
  record WeightedCluster(String name, long weight) {}

  final String statPrefix;
  final List<WeightedCluster> clusters;
  final long totalWeight;
  final long idleTimeoutMs;
  final int maxConnectAttempts;
  final long maxDurationMs;
  final ClusterManager clusterManager;
  final Counter downstreamCxTotal;
  final Counter downstreamCxNoRoute;
  final Counter downstreamCxRxBytesTotal;
  final Counter downstreamCxTxBytesTotal;
  final Gauge downstreamCxRxBytesBuffered;
  final Counter idleTimeout;
  final Counter maxDownstreamConnectionDurationReached;
  final Counter upstreamFlushTotal;
  final Counter downstreamFlowControlPausedReadingTotal;
  final Counter downstreamFlowControlResumedReadingTotal;
  /** The {@code access_log} entries, written once per connection when it closes. */
  final java.util.List<io.legate.accesslog.AccessLog> accessLogs;

  public TcpProxyConfig(TcpProxy p, String path, StatsStore stats, ClusterManager clusters) {
    if (p.getStatPrefix().isEmpty()) {
      throw new ConfigException(path + ".stat_prefix", "value length must be at least 1 characters");
    }
    if (p.hasTunnelingConfig()) {
      throw new ConfigException(path + ".tunneling_config", "tunneling is not supported yet");
    }
    if (p.getHashPolicyCount() > 0) {
      throw new ConfigException(path + ".hash_policy", "hash policies are not supported yet for tcp_proxy");
    }
    if (p.hasMetadataMatch()) {
      throw new ConfigException(path + ".metadata_match", "not supported");
    }
    this.statPrefix = p.getStatPrefix();
    this.accessLogs = io.legate.accesslog.AccessLogs.build(p.getAccessLogList(), path + ".access_log", clusters);
    List<WeightedCluster> list = new ArrayList<>();
    switch (p.getClusterSpecifierCase()) {
      case CLUSTER -> list.add(new WeightedCluster(p.getCluster(), 1));
      case WEIGHTED_CLUSTERS -> {
        var w = p.getWeightedClusters().getClustersList();
        for (int i = 0; i < w.size(); i++) {
          if (w.get(i).getWeight() > 0) {
            list.add(new WeightedCluster(w.get(i).getName(), w.get(i).getWeight()));
          }
        }
      }
      default -> throw new ConfigException(path, "one of cluster or weighted_clusters is required");
    }
    for (int i = 0; i < list.size(); i++) {
      if (!clusters.exists(list.get(i).name())) {
        String fp = p.getClusterSpecifierCase() == TcpProxy.ClusterSpecifierCase.CLUSTER
            ? path + ".cluster"
            : path + ".weighted_clusters.clusters[" + i + "].name";
        throw new ConfigException(fp, "unknown cluster '" + list.get(i).name() + "'");
      }
    }
    this.clusters = List.copyOf(list);
    this.totalWeight = list.stream().mapToLong(WeightedCluster::weight).sum();
    this.idleTimeoutMs = p.hasIdleTimeout() ? millis(p.getIdleTimeout()) : 3_600_000L;
    this.maxConnectAttempts = p.hasMaxConnectAttempts() ? Math.max(1, p.getMaxConnectAttempts().getValue()) : 1;
    this.maxDurationMs = p.hasMaxDownstreamConnectionDuration() ? millis(p.getMaxDownstreamConnectionDuration()) : 0;
    this.clusterManager = clusters;
    StatsStore.Scope s = stats.scope("tcp." + statPrefix + ".");
    downstreamCxTotal = s.counter("downstream_cx_total");
    downstreamCxNoRoute = s.counter("downstream_cx_no_route");
    downstreamCxRxBytesTotal = s.counter("downstream_cx_rx_bytes_total");
    downstreamCxTxBytesTotal = s.counter("downstream_cx_tx_bytes_total");
    downstreamCxRxBytesBuffered = s.gauge("downstream_cx_rx_bytes_buffered");
    idleTimeout = s.counter("idle_timeout");
    maxDownstreamConnectionDurationReached = s.counter("max_downstream_connection_duration");
    upstreamFlushTotal = s.counter("upstream_flush_total");
    downstreamFlowControlPausedReadingTotal = s.counter("downstream_flow_control_paused_reading_total");
    downstreamFlowControlResumedReadingTotal = s.counter("downstream_flow_control_resumed_reading_total");
  }

  /** Returns the {@code stat_prefix}. */
  public String statPrefix() {
    return statPrefix;
  }

  /** Picks a cluster name by weight. */
  String pickCluster(long random) {
    if (clusters.size() == 1) {
      return clusters.get(0).name();
    }
    long r = Math.floorMod(random, totalWeight);
    for (WeightedCluster c : clusters) {
      if (r < c.weight()) {
        return c.name();
      }
      r -= c.weight();
    }
    return clusters.get(clusters.size() - 1).name();
  }

  private static long millis(Duration d) {
    return d.getSeconds() * 1000 + d.getNanos() / 1_000_000;
  }
}
