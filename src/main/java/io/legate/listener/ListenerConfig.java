package io.legate.listener;

import io.envoyproxy.envoy.config.core.v3.Address;
import io.envoyproxy.envoy.config.core.v3.CidrRange;
import io.envoyproxy.envoy.config.core.v3.SocketAddress;
import io.envoyproxy.envoy.config.listener.v3.Filter;
import io.envoyproxy.envoy.config.listener.v3.FilterChain;
import io.envoyproxy.envoy.config.listener.v3.FilterChainMatch;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import io.legate.config.ConfigException;
import io.legate.config.ConfigLoader;
import io.legate.http.HcmConfig;
import io.legate.http.RouteConfigProvider;
import java.util.concurrent.CompletableFuture;
import io.legate.stats.Counter;
import io.legate.stats.Gauge;
import io.legate.stats.Histogram;
import io.legate.stats.StatsStore;
import io.legate.upstream.ClusterManager;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;

/** A listener's immutable runtime config: its address, filter chains and stats. */
public final class ListenerConfig {
  static final String HCM_NAME = "envoy.filters.network.http_connection_manager";
  static final String HCM_TYPE =
      "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";

  public final String name;
  public final InetSocketAddress address;
  public final List<Chain> chains;
  public final Chain defaultChain;
  public final int bufferLimitBytes;
  public final Listener proto;
  public final Counter downstreamCxTotal;
  public final Gauge downstreamCxActive;
  public final Counter downstreamCxDestroy;
  public final Histogram downstreamCxLengthMs;
  public final Counter noFilterChainMatch;
  public final StatsStore.Scope scope;

  /** A filter chain: its match and its HTTP connection manager. */
  public record Chain(
      String name, int destinationPort, List<Cidr> destinationRanges, List<Cidr> sourceRanges, List<Integer> sourcePorts, HcmConfig hcm) {}

  /** An address prefix. */
  public record Cidr(byte[] prefix, int bits) {
    boolean matches(InetAddress a) {
      byte[] b = a.getAddress();
      if (b.length != prefix.length) {
        return false;
      }
      int full = bits / 8;
      for (int i = 0; i < full; i++) {
        if (b[i] != prefix[i]) {
          return false;
        }
      }
      int rem = bits % 8;
      if (rem == 0) {
        return true;
      }
      int mask = (0xff << (8 - rem)) & 0xff;
      return (b[full] & mask) == (prefix[full] & mask);
    }
  }

  public ListenerConfig(Listener l, String path, StatsStore stats, ClusterManager clusters) {
    this(l, path, stats, clusters, null);
  }

  /**
   * Builds a listener whose HTTP connection managers may use RDS through {@code rds}.
   *
   * @param rds route discovery for HCMs with {@code rds}, or null when RDS is unavailable
   * @throws ConfigException naming the field of the first error
   */
  public ListenerConfig(
      Listener l, String path, StatsStore stats, ClusterManager clusters, RouteConfigProvider.Factory rds) {
    this.proto = l;
    this.address = socketAddress(l.getAddress(), path + ".address");
    this.name = l.getName().isEmpty() ? address.getHostString() + ":" + address.getPort() : l.getName();
    if (l.getListenerFiltersCount() > 0) {
      throw new ConfigException(
          path + ".listener_filters[0]",
          "listener filters are not supported yet (found '" + l.getListenerFilters(0).getName() + "')");
    }
    if (l.getAccessLogCount() > 0) {
      throw new ConfigException(path + ".access_log", "listener access logs are not supported yet");
    }
    if (l.getAdditionalAddressesCount() > 0) {
      throw new ConfigException(path + ".additional_addresses", "additional addresses are not supported yet");
    }
    this.bufferLimitBytes =
        l.hasPerConnectionBufferLimitBytes() ? l.getPerConnectionBufferLimitBytes().getValue() : 1 << 20;
    String statPrefix =
        !l.getStatPrefix().isEmpty()
            ? l.getStatPrefix()
            : address.getAddress().getHostAddress() + "_" + address.getPort();
    this.scope = stats.scope("listener." + statPrefix + ".");
    downstreamCxTotal = scope.counter("downstream_cx_total");
    downstreamCxActive = scope.gauge("downstream_cx_active");
    downstreamCxDestroy = scope.counter("downstream_cx_destroy");
    downstreamCxLengthMs = scope.histogram("downstream_cx_length_ms");
    noFilterChainMatch = scope.counter("no_filter_chain_match");
    List<Chain> list = new ArrayList<>();
    for (int i = 0; i < l.getFilterChainsCount(); i++) {
      list.add(chain(l.getFilterChains(i), path + ".filter_chains[" + i + "]", stats, clusters, rds));
    }
    this.chains = List.copyOf(list);
    this.defaultChain =
        l.hasDefaultFilterChain() ? chain(l.getDefaultFilterChain(), path + ".default_filter_chain", stats, clusters, rds) : null;
    if (chains.isEmpty() && defaultChain == null) {
      throw new ConfigException(path + ".filter_chains", "a listener needs at least one filter chain");
    }
  }

  private static Chain chain(
      FilterChain fc, String path, StatsStore stats, ClusterManager clusters, RouteConfigProvider.Factory rds) {
    if (fc.hasTransportSocket()) {
      throw new ConfigException(
          path + ".transport_socket",
          "transport socket '" + fc.getTransportSocket().getName() + "' is not supported yet (TLS comes with the TLS issue)");
    }
    FilterChainMatch m = fc.getFilterChainMatch();
    if (m.getServerNamesCount() > 0) {
      throw new ConfigException(path + ".filter_chain_match.server_names", "SNI matching is not supported yet");
    }
    if (!m.getTransportProtocol().isEmpty()) {
      throw new ConfigException(path + ".filter_chain_match.transport_protocol", "transport protocol matching is not supported yet");
    }
    if (m.getApplicationProtocolsCount() > 0) {
      throw new ConfigException(path + ".filter_chain_match.application_protocols", "ALPN matching is not supported yet");
    }
    List<Cidr> dst = cidrs(m.getPrefixRangesList(), path + ".filter_chain_match.prefix_ranges");
    List<Cidr> src = cidrs(m.getSourcePrefixRangesList(), path + ".filter_chain_match.source_prefix_ranges");
    int port = m.hasDestinationPort() ? m.getDestinationPort().getValue() : 0;
    if (fc.getFiltersCount() == 0) {
      throw new ConfigException(path + ".filters", "a filter chain needs at least one network filter");
    }
    HcmConfig hcm = null;
    for (int i = 0; i < fc.getFiltersCount(); i++) {
      Filter f = fc.getFilters(i);
      String fp = path + ".filters[" + i + "]";
      String type = f.hasTypedConfig() ? f.getTypedConfig().getTypeUrl() : "";
      boolean isHcm = type.equals(HCM_TYPE) || (type.isEmpty() && f.getName().equals(HCM_NAME));
      if (!isHcm) {
        throw new ConfigException(
            fp,
            "unsupported network filter '" + f.getName() + "'" + (type.isEmpty() ? "" : " (" + type + ")")
                + "; supported: " + HCM_NAME);
      }
      if (i != fc.getFiltersCount() - 1) {
        throw new ConfigException(fp, "the HTTP connection manager must be the last network filter");
      }
      HttpConnectionManager p =
          f.hasTypedConfig()
              ? ConfigLoader.unpack(f.getTypedConfig(), HttpConnectionManager.class, fp + ".typed_config")
              : HttpConnectionManager.getDefaultInstance();
      hcm = new HcmConfig(p, fp + ".typed_config", stats, clusters, rds);
    }
    return new Chain(fc.getName(), port, dst, src, List.copyOf(m.getSourcePortsList()), hcm);
  }

  /**
   * Returns a future completed when every route table this listener's connection managers use has
   * arrived (Envoy's listener warming: a listener waits for its RDS routes before it accepts).
   */
  public CompletableFuture<Void> ready() {
    List<CompletableFuture<Void>> all = new ArrayList<>();
    for (Chain c : chains) {
      all.add(c.hcm().routeConfigProvider().ready());
    }
    if (defaultChain != null) {
      all.add(defaultChain.hcm().routeConfigProvider().ready());
    }
    return CompletableFuture.allOf(all.toArray(new CompletableFuture<?>[0]));
  }

  private static List<Cidr> cidrs(List<CidrRange> ranges, String path) {
    List<Cidr> out = new ArrayList<>();
    for (int i = 0; i < ranges.size(); i++) {
      CidrRange r = ranges.get(i);
      try {
        byte[] b = InetAddress.getByName(r.getAddressPrefix()).getAddress();
        int bits = r.hasPrefixLen() ? r.getPrefixLen().getValue() : b.length * 8;
        out.add(new Cidr(b, Math.min(bits, b.length * 8)));
      } catch (UnknownHostException e) {
        throw new ConfigException(path + "[" + i + "].address_prefix", "malformed IP address: " + r.getAddressPrefix());
      }
    }
    return List.copyOf(out);
  }

  /** Resolves a listener's socket address (IP literal required, as Envoy). */
  public static InetSocketAddress socketAddress(Address a, String path) {
    if (!a.hasSocketAddress()) {
      throw new ConfigException(path + ".socket_address", "only socket addresses are supported (pipe and internal addresses are not)");
    }
    SocketAddress sa = a.getSocketAddress();
    if (sa.getProtocol() != SocketAddress.Protocol.TCP) {
      throw new ConfigException(path + ".socket_address.protocol", "UDP listeners are not supported yet");
    }
    if (sa.getPortSpecifierCase() == SocketAddress.PortSpecifierCase.NAMED_PORT) {
      throw new ConfigException(path + ".socket_address.named_port", "named ports are not supported");
    }
    String host = sa.getAddress();
    if (!isIpLiteral(host)) {
      throw new ConfigException(path + ".socket_address.address", "malformed IP address: " + host);
    }
    try {
      return new InetSocketAddress(InetAddress.getByName(host), sa.getPortValue());
    } catch (UnknownHostException e) {
      throw new ConfigException(path + ".socket_address.address", "malformed IP address: " + host);
    }
  }

  static boolean isIpLiteral(String s) {
    if (s.isEmpty()) {
      return false;
    }
    if (s.indexOf(':') >= 0) {
      return s.matches("[0-9a-fA-F:.]+");
    }
    return s.matches("\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}");
  }

  /** Picks the filter chain for a connection (destination port, destination IP, source IP, source port). */
  public Chain select(InetSocketAddress local, InetSocketAddress remote) {
    Chain best = null;
    int bestScore = -1;
    for (Chain c : chains) {
      if (c.destinationPort != 0 && c.destinationPort != local.getPort()) {
        continue;
      }
      int dstBits = matchBits(c.destinationRanges, local.getAddress());
      if (dstBits < 0) {
        continue;
      }
      int srcBits = matchBits(c.sourceRanges, remote.getAddress());
      if (srcBits < 0) {
        continue;
      }
      if (!c.sourcePorts.isEmpty() && !c.sourcePorts.contains(remote.getPort())) {
        continue;
      }
      // Envoy's order: destination port, then destination IP, then source IP, then source port.
      int score =
          (c.destinationPort != 0 ? 1 << 24 : 0)
              + (dstBits << 16)
              + (srcBits << 8)
              + (c.sourcePorts.isEmpty() ? 0 : 1);
      if (score > bestScore) {
        best = c;
        bestScore = score;
      }
    }
    return best != null ? best : defaultChain;
  }

  /** Returns the longest matching prefix length, 0 when there are no ranges, -1 when none match. */
  private static int matchBits(List<Cidr> ranges, InetAddress a) {
    if (ranges.isEmpty()) {
      return 0;
    }
    int best = -1;
    for (Cidr c : ranges) {
      if (c.matches(a)) {
        best = Math.max(best, c.bits() + 1);
      }
    }
    return Math.min(best, 255);
  }
}
