package io.legate.router;

import com.google.protobuf.Duration;
import io.legate.config.ConfigException;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.netty.handler.codec.http2.Http2Headers;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Predicate;

/**
 * Envoy's route table (RouteConfiguration) as an immutable object: virtual hosts chosen by
 * :authority, then the first route that matches in config order.
 *
 * <p>Virtual host selection as Envoy's {@code RouteMatcher::findVirtualHost}: the lowercased
 * :authority (with its port, unless {@code ignore_port_in_host_matching}) is looked up among exact
 * domains, then suffix wildcards ({@code *.foo.com}, longest first, the wildcard matching at least
 * one character), then prefix wildcards ({@code foo.*}, longest first), then {@code *}. Envoy does
 * not retry without the port; stripping the port ({@code strip_any_host_port}, {@code
 * strip_matching_host_port}) is the connection manager's job before routing.
 */
public final class RouteTable {
  private final String name;
  private final Map<String, VirtualHost> exact;
  /** Suffix wildcards: length of the suffix (without '*') → suffix → vhost, longest first. */
  private final TreeMap<Integer, Map<String, VirtualHost>> suffixes;
  private final TreeMap<Integer, Map<String, VirtualHost>> prefixes;
  private final VirtualHost defaultHost;
  private final boolean ignorePortInHostMatching;
  private final java.util.List<String> internalOnlyHeaders;
  private final boolean filterDisabling;

  private RouteTable(String name, Map<String, VirtualHost> exact,
      TreeMap<Integer, Map<String, VirtualHost>> suffixes,
      TreeMap<Integer, Map<String, VirtualHost>> prefixes, VirtualHost defaultHost,
      boolean ignorePortInHostMatching, java.util.List<String> internalOnlyHeaders,
      boolean filterDisabling) {
    this.filterDisabling = filterDisabling;
    this.internalOnlyHeaders = java.util.List.copyOf(internalOnlyHeaders);
    this.name = name;
    this.exact = Map.copyOf(exact);
    this.suffixes = suffixes;
    this.prefixes = prefixes;
    this.defaultHost = defaultHost;
    this.ignorePortInHostMatching = ignorePortInHostMatching;
  }

  /**
   * Builds the table.
   *
   * @param path the config path of the RouteConfiguration, prefixed to every error
   * @param clusterExists null to skip cluster validation; otherwise unknown cluster names are
   *     errors unless {@code validate_clusters} is explicitly false
   * @throws ConfigException naming the field on any invalid or unsupported setting
   */
  public static RouteTable build(
      RouteConfiguration config, String path, Predicate<String> clusterExists) {
    return new RouteTableBuilder(config, path, clusterExists, null).build();
  }

  /**
   * Builds the table, parsing {@code typed_per_filter_config} entries with the filter factories
   * (found by type URL) and this context.
   *
   * @param filterContext the context per-route configs are built with (stats, clusters, server
   *     state); null for a context with a private stats store
   */
  public static RouteTable build(RouteConfiguration config, String path,
      Predicate<String> clusterExists, io.legate.extension.FactoryContext filterContext) {
    return new RouteTableBuilder(config, path, clusterExists, filterContext).build();
  }

  /**
   * Returns whether some route, virtual host or the route configuration enables or disables a filter
   * with a {@code FilterConfig} ({@code disabled}): the connection manager then builds each stream's
   * filter chain from its route.
   */
  public boolean hasFilterDisabling() {
    return filterDisabling;
  }


  static RouteTable create(String name, Map<String, VirtualHost> exact,
      TreeMap<Integer, Map<String, VirtualHost>> suffixes,
      TreeMap<Integer, Map<String, VirtualHost>> prefixes, VirtualHost defaultHost,
      boolean ignorePort, java.util.List<String> internalOnlyHeaders, boolean filterDisabling) {
    return new RouteTable(name, exact, suffixes, prefixes, defaultHost, ignorePort,
        internalOnlyHeaders, filterDisabling);
  }

  /**
   * Returns RouteConfiguration.internal_only_headers, lowercased: the connection manager removes
   * them from requests that are not internal.
   */
  public java.util.List<String> internalOnlyHeaders() {
    return internalOnlyHeaders;
  }

  /** Returns RouteConfiguration.name. */
  public String name() {
    return name;
  }

  /**
   * Returns the route for this request, or null if no virtual host or route matches (the router
   * answers 404 with flag NR).
   *
   * @param random a per-request random number, used by runtime_fraction and weighted clusters
   */
  public Route route(Http2Headers request, long random) {
    return route(request, random, null);
  }

  /** As {@link #route(Http2Headers, long)}, counting evaluated routes in counter[0]. */
  Route route(Http2Headers request, long random, int[] counter) {
    VirtualHost vh = findVirtualHost(request);
    return vh == null ? null : vh.route(request, random, counter);
  }

  private VirtualHost findVirtualHost(Http2Headers request) {
    if (exact.isEmpty() && suffixes.isEmpty() && prefixes.isEmpty()) {
      return defaultHost;
    }
    CharSequence authority = request.authority();
    if (authority == null) {
      return null;
    }
    String host = authority.toString();
    if (ignorePortInHostMatching) {
      int portStart = portStart(host);
      if (portStart >= 0) {
        host = host.substring(0, portStart);
      }
    }
    host = host.toLowerCase(Locale.ROOT);
    VirtualHost vh = exact.get(host);
    if (vh != null) {
      return vh;
    }
    for (Map.Entry<Integer, Map<String, VirtualHost>> e : suffixes.entrySet()) {
      int len = e.getKey();
      if (len >= host.length()) {
        continue;
      }
      vh = e.getValue().get(host.substring(host.length() - len));
      if (vh != null) {
        return vh;
      }
    }
    for (Map.Entry<Integer, Map<String, VirtualHost>> e : prefixes.entrySet()) {
      int len = e.getKey();
      if (len >= host.length()) {
        continue;
      }
      vh = e.getValue().get(host.substring(0, len));
      if (vh != null) {
        return vh;
      }
    }
    return defaultHost;
  }

  /** Returns the index of the ':' before a port, or -1 (Envoy's HeaderUtility::getPortStart). */
  static int portStart(String host) {
    if (host.isEmpty()) {
      return -1;
    }
    if (host.charAt(0) == '[') {
      int close = host.indexOf(']');
      return close >= 0 && close + 1 < host.length() && host.charAt(close + 1) == ':' ? close + 1 : -1;
    }
    int colon = host.lastIndexOf(':');
    if (colon < 0 || host.indexOf(':') != colon) {
      return -1;
    }
    for (int i = colon + 1; i < host.length(); i++) {
      if (!Character.isDigit(host.charAt(i))) {
        return -1;
      }
    }
    return colon + 1 < host.length() ? colon : -1;
  }

  static long durationMs(Duration d) {
    return d.getSeconds() * 1000L + d.getNanos() / 1_000_000L;
  }
}
