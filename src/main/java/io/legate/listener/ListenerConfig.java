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
import io.legate.extension.FactoryContext;
import io.legate.extension.NetworkFilterConfigFactory;
import io.legate.http.HcmConfig;
import io.legate.server.ServerState;
import io.legate.http.RouteConfigProvider;
import java.util.concurrent.CompletableFuture;
import io.legate.stats.Counter;
import io.legate.stats.Gauge;
import io.legate.stats.Histogram;
import io.legate.stats.StatsStore;
import io.legate.tls.ClientHello;
import io.legate.tls.ServerTlsContext;
import io.legate.tls.TlsStats;
import io.legate.tls.TransportSockets;
import io.legate.upstream.ClusterManager;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.ToIntFunction;

/** A listener's immutable runtime config: its address, filter chains and stats. */
public final class ListenerConfig {
  static final String HCM_NAME = "envoy.filters.network.http_connection_manager";
  static final String TCP_NAME = "envoy.filters.network.tcp_proxy";
  static final String TCP_TYPE = "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy";
  static final String TLS_INSPECTOR = "envoy.filters.listener.tls_inspector";
  static final String TLS_INSPECTOR_TYPE =
      "type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector";
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
  /** {@code downstream_global_cx_overflow}: connections refused by the global connection limit or an overload action. */
  public final Counter downstreamGlobalCxOverflow;
  /** The server's overload manager (connection admission). */
  public final io.legate.server.OverloadManager overload;
  public final StatsStore.Scope scope;
  /** Whether the tls_inspector listener filter is configured. */
  public final boolean tlsInspector;
  /** {@code listener_filters_timeout} in ms (default 15 s; 0 = none). */
  public final long listenerFiltersTimeoutMs;
  /**
   * The listener's {@code access_log}: one entry per downstream connection, written when it closes
   * (including connections closed for want of a matching filter chain, flagged {@code NR}).
   */
  public final List<io.legate.accesslog.AccessLog> accessLogs;
  /** The listener's TLS stats ({@code listener.<address>.ssl.*}). */
  public final TlsStats tlsStats;

  /**
   * A filter chain: its match, its transport socket (null = plaintext), its non-terminal network
   * filters (in config order) and its terminal network filter (an HTTP connection manager or a TCP
   * proxy; exactly one is set). Server names are lower case; a wildcard is kept as {@code
   * *.example.com}.
   */
  public record Chain(
      String name,
      int destinationPort,
      List<Cidr> destinationRanges,
      List<String> serverNames,
      String transportProtocol,
      List<String> applicationProtocols,
      List<Cidr> sourceRanges,
      List<Integer> sourcePorts,
      ServerTlsContext tls,
      Counter sslTotal,
      Gauge sslActive,
      HcmConfig hcm,
      io.legate.network.tcpproxy.TcpProxyConfig tcpProxy,
      List<NetworkFilterConfigFactory.Factory> networkFilters) {}

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
    this(l, path, stats, clusters, new ServerState(), null);
  }

  /**
   * Builds the listener's config.
   *
   * @param server the server's state, handed to the HTTP filters' factories
   * @param rds route discovery for HCMs with {@code rds}, or null when RDS is unavailable
   * @throws ConfigException naming the field of the first error
   */
  public ListenerConfig(
      Listener l,
      String path,
      StatsStore stats,
      ClusterManager clusters,
      ServerState server,
      RouteConfigProvider.Factory rds) {
    this.proto = l;
    this.address = socketAddress(l.getAddress(), path + ".address");
    this.name = l.getName().isEmpty() ? address.getHostString() + ":" + address.getPort() : l.getName();
    boolean inspector = false;
    for (int i = 0; i < l.getListenerFiltersCount(); i++) {
      var lf = l.getListenerFilters(i);
      String type = lf.hasTypedConfig() ? lf.getTypedConfig().getTypeUrl() : "";
      if (type.equals(TLS_INSPECTOR_TYPE) || (type.isEmpty() && lf.getName().equals(TLS_INSPECTOR))) {
        inspector = true;
        continue;
      }
      throw new ConfigException(
          path + ".listener_filters[" + i + "]",
          "unsupported listener filter '" + lf.getName() + "'" + (type.isEmpty() ? "" : " (" + type + ")")
              + "; supported: " + TLS_INSPECTOR);
    }
    this.tlsInspector = inspector;
    this.listenerFiltersTimeoutMs =
        l.hasListenerFiltersTimeout()
            ? l.getListenerFiltersTimeout().getSeconds() * 1000 + l.getListenerFiltersTimeout().getNanos() / 1_000_000
            : 15_000;
    this.accessLogs = io.legate.accesslog.AccessLogs.build(l.getAccessLogList(), path + ".access_log", clusters);
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
    downstreamGlobalCxOverflow = scope.counter("downstream_global_cx_overflow");
    overload = server.overload();
    tlsStats = new TlsStats(scope);
    List<Chain> list = new ArrayList<>();
    for (int i = 0; i < l.getFilterChainsCount(); i++) {
      list.add(chain(l.getFilterChains(i), path + ".filter_chains[" + i + "]", stats, clusters, scope, tlsStats, server, rds));
    }
    this.chains = List.copyOf(list);
    this.defaultChain =
        l.hasDefaultFilterChain()
            ? chain(l.getDefaultFilterChain(), path + ".default_filter_chain", stats, clusters, scope, tlsStats, server, rds)
            : null;
    if (chains.isEmpty() && defaultChain == null) {
      throw new ConfigException(path + ".filter_chains", "a listener needs at least one filter chain");
    }
  }

  private static Chain chain(
      FilterChain fc, String path, StatsStore stats, ClusterManager clusters, StatsStore.Scope scope, TlsStats tlsStats,
      ServerState server, RouteConfigProvider.Factory rds) {
    ServerTlsContext tls =
        fc.hasTransportSocket()
            ? TransportSockets.downstream(fc.getTransportSocket(), path + ".transport_socket", scope, tlsStats, server.secrets())
            : null;
    FilterChainMatch m = fc.getFilterChainMatch();
    List<String> serverNames = new ArrayList<>();
    for (int i = 0; i < m.getServerNamesCount(); i++) {
      String n = m.getServerNames(i).toLowerCase(Locale.ROOT);
      if (n.isEmpty() || (n.contains("*") && !(n.startsWith("*.") && n.indexOf('*', 1) < 0))) {
        throw new ConfigException(
            path + ".filter_chain_match.server_names[" + i + "]", "invalid server name '" + m.getServerNames(i) + "'");
      }
      serverNames.add(n);
    }
    if (m.getSourceType() != FilterChainMatch.ConnectionSourceType.ANY) {
      throw new ConfigException(path + ".filter_chain_match.source_type", "source type matching is not supported yet");
    }
    if (m.getDirectSourcePrefixRangesCount() > 0) {
      throw new ConfigException(path + ".filter_chain_match.direct_source_prefix_ranges", "direct source matching is not supported yet");
    }
    List<Cidr> dst = cidrs(m.getPrefixRangesList(), path + ".filter_chain_match.prefix_ranges");
    List<Cidr> src = cidrs(m.getSourcePrefixRangesList(), path + ".filter_chain_match.source_prefix_ranges");
    int port = m.hasDestinationPort() ? m.getDestinationPort().getValue() : 0;
    if (fc.getFiltersCount() == 0) {
      throw new ConfigException(path + ".filters", "a filter chain needs at least one network filter");
    }
    HcmConfig hcm = null;
    io.legate.network.tcpproxy.TcpProxyConfig tcp = null;
    List<NetworkFilterConfigFactory.Factory> networkFilters = new ArrayList<>();
    for (int i = 0; i < fc.getFiltersCount(); i++) {
      Filter f = fc.getFilters(i);
      String fp = path + ".filters[" + i + "]";
      String type = f.hasTypedConfig() ? f.getTypedConfig().getTypeUrl() : "";
      boolean isHcm = type.equals(HCM_TYPE) || (type.isEmpty() && f.getName().equals(HCM_NAME));
      boolean isTcp = type.equals(TCP_TYPE) || (type.isEmpty() && f.getName().equals(TCP_NAME));
      if (!isHcm && !isTcp) {
        NetworkFilterConfigFactory<?> nf = NetworkFilterConfigFactory.find(f.getName(), type);
        if (nf == null) {
          List<String> supported = new ArrayList<>(List.of(HCM_NAME, TCP_NAME));
          supported.addAll(NetworkFilterConfigFactory.names());
          throw new ConfigException(
              fp,
              "unsupported network filter '" + f.getName() + "'" + (type.isEmpty() ? "" : " (" + type + ")")
                  + "; supported: " + String.join(", ", supported));
        }
        if (i == fc.getFiltersCount() - 1) {
          throw new ConfigException(fp, "'" + f.getName() + "' is not a terminal filter and cannot be the last network filter");
        }
        networkFilters.add(nf.create(f.hasTypedConfig() ? f.getTypedConfig() : null, networkContext(stats, clusters, server), fp));
        continue;
      }
      if (i != fc.getFiltersCount() - 1) {
        throw new ConfigException(fp, "'" + f.getName() + "' is a terminal filter and must be the last network filter");
      }
      if (isTcp) {
        var p =
            f.hasTypedConfig()
                ? ConfigLoader.unpack(
                    f.getTypedConfig(),
                    io.envoyproxy.envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy.class,
                    fp + ".typed_config")
                : io.envoyproxy.envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy.getDefaultInstance();
        tcp = new io.legate.network.tcpproxy.TcpProxyConfig(p, fp + ".typed_config", stats, clusters);
        continue;
      }
      HttpConnectionManager p =
          f.hasTypedConfig()
              ? ConfigLoader.unpack(f.getTypedConfig(), HttpConnectionManager.class, fp + ".typed_config")
              : HttpConnectionManager.getDefaultInstance();
      hcm = new HcmConfig(p, fp + ".typed_config", stats, clusters, server, rds);
    }
    String sslPrefix = hcm != null ? "http." + hcm.statPrefix + "." : "tcp." + tcp.statPrefix() + ".";
    Counter sslTotal = tls == null ? null : stats.counter(sslPrefix + "downstream_cx_ssl_total");
    Gauge sslActive = tls == null ? null : stats.gauge(sslPrefix + "downstream_cx_ssl_active");
    return new Chain(
        fc.getName(),
        port,
        dst,
        List.copyOf(serverNames),
        m.getTransportProtocol(),
        List.copyOf(m.getApplicationProtocolsList()),
        src,
        List.copyOf(m.getSourcePortsList()),
        tls,
        sslTotal,
        sslActive,
        hcm,
        tcp,
        List.copyOf(networkFilters));
  }

  /** The context of network filter factories: stats at the root, as Envoy's network filters. */
  private static FactoryContext networkContext(StatsStore stats, ClusterManager clusters, ServerState server) {
    StatsStore.Scope root = stats.scope("");
    return new FactoryContext() {
      @Override
      public StatsStore stats() {
        return stats;
      }

      @Override
      public StatsStore.Scope scope() {
        return root;
      }

      @Override
      public ClusterManager clusterManager() {
        return clusters;
      }

      @Override
      public java.util.function.BooleanSupplier serverHealthCheckFailed() {
        return server::healthCheckFailed;
      }

      @Override
      public String localClusterName() {
        return server.localClusterName();
      }
    };
  }

  /**
   * Returns a future completed when every route table this listener's connection managers use has
   * arrived (Envoy's listener warming: a listener waits for its RDS routes before it accepts).
   */
  public CompletableFuture<Void> ready() {
    List<CompletableFuture<Void>> all = new ArrayList<>();
    for (Chain c : chains) {
      if (c.hcm() != null) {
        all.add(c.hcm().routeConfigProvider().ready());
      }
    }
    if (defaultChain != null && defaultChain.hcm() != null) {
      all.add(defaultChain.hcm().routeConfigProvider().ready());
    }
    // and for the secrets its TLS contexts name (SDS)
    for (Chain c : chains) {
      if (c.tls() != null) {
        all.add(c.tls().ready());
      }
    }
    if (defaultChain != null && defaultChain.tls() != null) {
      all.add(defaultChain.tls().ready());
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

  /** Picks the filter chain for a plaintext, uninspected connection. */
  public Chain select(InetSocketAddress local, InetSocketAddress remote) {
    return select(local, remote, ClientHello.RAW);
  }

  /**
   * Picks the filter chain as Envoy does: each criterion in turn (destination port, destination IP,
   * server name, transport protocol, application protocols, source IP, source port) keeps only the
   * most specific chains that match it, or else those that do not set it; there is no backtracking.
   * Returns the default chain when nothing matches, or null.
   */
  public Chain select(InetSocketAddress local, InetSocketAddress remote, ClientHello hello) {
    List<Chain> c = chains;
    c = narrow(c, ch -> ch.destinationPort == 0 ? 0 : ch.destinationPort == local.getPort() ? 1 : -1);
    c = narrow(c, ch -> matchBits(ch.destinationRanges, local.getAddress()));
    String sni = hello.serverName() == null ? null : hello.serverName().toLowerCase(Locale.ROOT);
    c = narrow(c, ch -> serverNameScore(ch.serverNames, sni));
    c = narrow(c, ch -> ch.transportProtocol.isEmpty() ? 0 : ch.transportProtocol.equals(hello.transportProtocol()) ? 1 : -1);
    c = narrow(c, ch -> alpnScore(ch.applicationProtocols, hello.alpn()));
    c = narrow(c, ch -> matchBits(ch.sourceRanges, remote.getAddress()));
    c = narrow(c, ch -> ch.sourcePorts.isEmpty() ? 0 : ch.sourcePorts.contains(remote.getPort()) ? 1 : -1);
    return c.isEmpty() ? defaultChain : c.get(0);
  }

  private static List<Chain> narrow(List<Chain> in, ToIntFunction<Chain> score) {
    if (in.size() == 0) {
      return in;
    }
    int best = -1;
    for (Chain c : in) {
      best = Math.max(best, score.applyAsInt(c));
    }
    if (best < 0) {
      return List.of();
    }
    List<Chain> out = new ArrayList<>(in.size());
    for (Chain c : in) {
      if (score.applyAsInt(c) == best) {
        out.add(c);
      }
    }
    return out;
  }

  /** Exact names beat wildcards, longer wildcard suffixes beat shorter ones; 0 = no names set. */
  private static int serverNameScore(List<String> names, String sni) {
    if (names.isEmpty()) {
      return 0;
    }
    if (sni == null) {
      return -1;
    }
    int best = -1;
    for (String n : names) {
      if (n.equals(sni)) {
        return Integer.MAX_VALUE;
      }
      if (n.startsWith("*.") && sni.length() > n.length() - 1 && sni.endsWith(n.substring(1))) {
        best = Math.max(best, n.length());
      }
    }
    return best;
  }

  private static int alpnScore(List<String> configured, List<String> offered) {
    if (configured.isEmpty()) {
      return 0;
    }
    for (String p : offered) {
      if (configured.contains(p)) {
        return 1;
      }
    }
    return -1;
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
