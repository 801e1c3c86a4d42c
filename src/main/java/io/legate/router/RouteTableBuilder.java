package io.legate.router;

import com.google.protobuf.Any;
import io.envoyproxy.envoy.config.core.v3.DataSource;
import io.envoyproxy.envoy.config.route.v3.FilterConfig;
import io.envoyproxy.envoy.config.route.v3.DirectResponseAction;
import io.envoyproxy.envoy.config.route.v3.RedirectAction;
import io.envoyproxy.envoy.config.route.v3.RetryPolicy;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.config.route.v3.RouteMatch;
import io.envoyproxy.envoy.config.route.v3.WeightedCluster;
import io.legate.config.ConfigException;
import io.legate.config.ConfigLoader;
import io.legate.extension.ExtensionRegistry;
import io.legate.extension.FactoryContext;
import io.legate.extension.HttpFilterConfigFactory;
import io.legate.stats.StatsStore;
import io.netty.util.AsciiString;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Predicate;
import java.util.regex.Pattern;

/** Validates a RouteConfiguration and turns it into a {@link RouteTable}. */
final class RouteTableBuilder {
  private static final long DEFAULT_TIMEOUT_MS = 15_000;
  private static final int DEFAULT_MAX_DIRECT_RESPONSE_BODY = 4096;

  private final RouteConfiguration config;
  private final String path;
  private final Predicate<String> clusterExists;
  private final HeaderMutations globalRequest;
  private final HeaderMutations globalResponse;
  private final int maxBody;
  private final FactoryContext filterContext;
  private final PerFilterConfigs globalPerFilter;
  private boolean filterDisabling;
  // The virtual host being built: its attempt-count settings reach its routes' actions.
  private boolean vhIncludeRequestAttemptCount;
  private boolean vhIncludeAttemptCountInResponse;
  private RateLimitPolicy vhRateLimits = RateLimitPolicy.EMPTY;
  private Boolean vhHedge;

  RouteTableBuilder(RouteConfiguration config, String path, Predicate<String> clusterExists,
      FactoryContext filterContext) {
    this.config = config;
    this.filterContext = filterContext;
    this.path = path;
    boolean validate = !config.hasValidateClusters() || config.getValidateClusters().getValue();
    this.clusterExists = validate ? clusterExists : null;
    this.globalRequest = HeaderMutations.build(config.getRequestHeadersToAddList(),
        config.getRequestHeadersToRemoveList(), path, "request");
    this.globalResponse = HeaderMutations.build(config.getResponseHeadersToAddList(),
        config.getResponseHeadersToRemoveList(), path, "response");
    this.maxBody = config.hasMaxDirectResponseBodySizeBytes()
        ? config.getMaxDirectResponseBodySizeBytes().getValue()
        : DEFAULT_MAX_DIRECT_RESPONSE_BODY;
    this.globalPerFilter = perFilter(config.getTypedPerFilterConfigMap(), path);
  }

  private static final String CORS_FILTER = "envoy.filters.http.cors";
  private static final String CORS_POLICY_TYPE =
      "type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy";

  /**
   * Adds a virtual host's or route action's deprecated {@code cors} field as the CORS filter's
   * per-route config (filed under its usual name, {@code envoy.filters.http.cors}) unless this
   * level's typed_per_filter_config already has one: Envoy's CORS filter reads the field only then.
   */
  private PerFilterConfigs withLegacyCors(
      PerFilterConfigs level, boolean has, io.envoyproxy.envoy.config.route.v3.CorsPolicy cors, String path) {
    if (!has || level.config(CORS_FILTER) != null) {
      return level;
    }
    HttpFilterConfigFactory<?> factory = ExtensionRegistry.get().httpFilterForRouteConfig(CORS_POLICY_TYPE);
    if (factory == null) {
      throw new ConfigException(path, "the CORS filter is not available");
    }
    var b = io.envoyproxy.envoy.extensions.filters.http.cors.v3.CorsPolicy.newBuilder()
        .addAllAllowOriginStringMatch(cors.getAllowOriginStringMatchList())
        .setAllowMethods(cors.getAllowMethods())
        .setAllowHeaders(cors.getAllowHeaders())
        .setExposeHeaders(cors.getExposeHeaders())
        .setMaxAge(cors.getMaxAge());
    if (cors.hasAllowCredentials()) {
      b.setAllowCredentials(cors.getAllowCredentials());
    }
    if (cors.hasFilterEnabled()) {
      b.setFilterEnabled(cors.getFilterEnabled());
    }
    if (cors.hasShadowEnabled()) {
      b.setShadowEnabled(cors.getShadowEnabled());
    }
    if (cors.hasAllowPrivateNetworkAccess()) {
      b.setAllowPrivateNetworkAccess(cors.getAllowPrivateNetworkAccess());
    }
    if (cors.hasForwardNotMatchingPreflights()) {
      b.setForwardNotMatchingPreflights(cors.getForwardNotMatchingPreflights());
    }
    Object parsed =
        factory.createRouteSpecificConfig(Any.pack(b.build()), context().withFilterConfigName(CORS_FILTER), path);
    return level.with(CORS_FILTER, parsed);
  }

  private static final String FILTER_CONFIG_TYPE =
      "type.googleapis.com/" + FilterConfig.getDescriptor().getFullName();

  /**
   * Parses one level's {@code typed_per_filter_config}: each value is the filter's per-route config
   * or a {@code FilterConfig} wrapping it (with {@code is_optional} and {@code disabled}); the
   * factory is found by the config's type URL, as Envoy does.
   */
  private PerFilterConfigs perFilter(Map<String, Any> entries, String p) {
    if (entries.isEmpty()) {
      return PerFilterConfigs.EMPTY;
    }
    Map<String, Object> configs = new HashMap<>();
    Map<String, Boolean> disabled = new HashMap<>();
    for (Map.Entry<String, Any> e : new TreeMap<>(entries).entrySet()) {
      String name = e.getKey();
      String ep = p + ".typed_per_filter_config[\"" + name + "\"]";
      Any any = e.getValue();
      boolean optional = false;
      if (any.getTypeUrl().equals(FILTER_CONFIG_TYPE)) {
        FilterConfig fc = ConfigLoader.unpack(any, FilterConfig.class, ep);
        if (fc.getDisabled()) {
          disabled.put(name, true);
          filterDisabling = true;
          continue;
        }
        disabled.put(name, false);
        filterDisabling = true;
        if (!fc.hasConfig()) {
          continue;
        }
        any = fc.getConfig();
        ep = ep + ".config";
        optional = fc.getIsOptional();
      }
      String typeUrl = effectiveTypeUrl(any, ep);
      HttpFilterConfigFactory<?> factory = ExtensionRegistry.get().httpFilterForRouteConfig(typeUrl);
      if (factory == null) {
        if (optional) {
          continue;
        }
        throw new ConfigException(ep,
            "unsupported per-route config type '" + typeUrl + "' (filter '" + name + "')");
      }
      FactoryContext ctx = context().withFilterConfigName(name);
      Object parsed = factory.createRouteSpecificConfig(any, ctx, ep);
      if (parsed != null) {
        configs.put(name, parsed);
      }
    }
    return new PerFilterConfigs(configs, disabled);
  }

  private FactoryContext context() {
    if (filterContext == null) {
      StatsStore store = new StatsStore();
      return new FactoryContext() {
        @Override
        public StatsStore stats() {
          return store;
        }

        @Override
        public StatsStore.Scope scope() {
          return store.scope("");
        }

        @Override
        public io.legate.upstream.ClusterManager clusterManager() {
          return null;
        }
      };
    }
    return filterContext;
  }

  /** Returns the type URL of a config Any, looking inside a TypedStruct. */
  private static String effectiveTypeUrl(Any any, String p) {
    String url = any.getTypeUrl();
    try {
      if (url.endsWith("/xds.type.v3.TypedStruct")) {
        return normalizeTypeUrl(any.unpack(com.github.xds.type.v3.TypedStruct.class).getTypeUrl());
      }
      if (url.endsWith("/udpa.type.v1.TypedStruct")) {
        return normalizeTypeUrl(any.unpack(com.github.udpa.udpa.type.v1.TypedStruct.class).getTypeUrl());
      }
    } catch (com.google.protobuf.InvalidProtocolBufferException e) {
      throw new ConfigException(p, "cannot decode TypedStruct: " + e.getMessage());
    }
    return url;
  }

  private static String normalizeTypeUrl(String url) {
    return "type.googleapis.com/" + url.substring(url.lastIndexOf('/') + 1);
  }

  private static ConfigException unsupported(String p) {
    return new ConfigException(p, "not supported");
  }

  RouteTable build() {
    if (config.hasVhds()) {
      throw unsupported(path + ".vhds");
    }
    if (config.getClusterSpecifierPluginsCount() > 0) {
      throw unsupported(path + ".cluster_specifier_plugins");
    }
    if (config.getRequestMirrorPoliciesCount() > 0) {
      throw unsupported(path + ".request_mirror_policies");
    }
    Map<String, VirtualHost> exact = new HashMap<>();
    Comparator<Integer> longestFirst = Comparator.reverseOrder();
    TreeMap<Integer, Map<String, VirtualHost>> suffixes = new TreeMap<>(longestFirst);
    TreeMap<Integer, Map<String, VirtualHost>> prefixes = new TreeMap<>(longestFirst);
    VirtualHost defaultHost = null;
    for (int i = 0; i < config.getVirtualHostsCount(); i++) {
      var v = config.getVirtualHosts(i);
      String vp = path + ".virtual_hosts[" + i + "]";
      VirtualHost vh = virtualHost(v, vp);
      if (v.getDomainsCount() == 0) {
        throw new ConfigException(vp + ".domains", "must contain at least one domain");
      }
      for (int j = 0; j < v.getDomainsCount(); j++) {
        String domain = v.getDomains(j).toLowerCase(Locale.ROOT);
        String dp = vp + ".domains[" + j + "]";
        if (domain.isEmpty()) {
          throw new ConfigException(dp, "must not be empty");
        }
        boolean duplicate;
        if (domain.equals("*")) {
          if (defaultHost != null) {
            throw new ConfigException(dp,
                "Only a single wildcard domain is permitted in route " + config.getName());
          }
          defaultHost = vh;
          duplicate = false;
        } else if (domain.charAt(0) == '*') {
          duplicate = suffixes.computeIfAbsent(domain.length() - 1, k -> new HashMap<>())
              .putIfAbsent(domain.substring(1), vh) != null;
        } else if (domain.charAt(domain.length() - 1) == '*') {
          duplicate = prefixes.computeIfAbsent(domain.length() - 1, k -> new HashMap<>())
              .putIfAbsent(domain.substring(0, domain.length() - 1), vh) != null;
        } else {
          duplicate = exact.putIfAbsent(domain, vh) != null;
        }
        if (duplicate) {
          throw new ConfigException(dp, "Only unique values for domains are permitted. Duplicate "
              + "entry of domain " + domain + " in route " + config.getName());
        }
      }
    }
    List<String> internalOnly = new ArrayList<>();
    for (String h : config.getInternalOnlyHeadersList()) {
      internalOnly.add(h.toLowerCase(Locale.ROOT));
    }
    return RouteTable.create(config.getName(), exact, suffixes, prefixes, defaultHost,
        config.getIgnorePortInHostMatching(), internalOnly, filterDisabling);
  }

  private VirtualHost virtualHost(io.envoyproxy.envoy.config.route.v3.VirtualHost v, String vp) {
    if (v.hasMatcher()) {
      throw unsupported(vp + ".matcher");
    }
    if (v.getRequestMirrorPoliciesCount() > 0) {
      throw unsupported(vp + ".request_mirror_policies");
    }
    vhHedge = v.hasHedgePolicy() ? hedge(v.getHedgePolicy(), vp + ".hedge_policy") : null;
    if (v.hasRetryPolicyTypedConfig()) {
      throw unsupported(vp + ".retry_policy_typed_config");
    }
    HeaderMutations vhRequest = HeaderMutations.build(v.getRequestHeadersToAddList(),
        v.getRequestHeadersToRemoveList(), vp, "request");
    HeaderMutations vhResponse = HeaderMutations.build(v.getResponseHeadersToAddList(),
        v.getResponseHeadersToRemoveList(), vp, "response");
    ForwardAction.RetryPolicy vhRetry =
        v.hasRetryPolicy() ? retryPolicy(v.getRetryPolicy(), vp + ".retry_policy") : null;
    PerFilterConfigs vhPerFilter =
        globalPerFilter.overriddenBy(
            withLegacyCors(perFilter(v.getTypedPerFilterConfigMap(), vp), v.hasCors(), v.getCors(), vp + ".cors"));
    vhRateLimits = RateLimitPolicy.build(v.getRateLimitsList(), vp + ".rate_limits");
    vhIncludeRequestAttemptCount = v.getIncludeRequestAttemptCount();
    vhIncludeAttemptCountInResponse = v.getIncludeAttemptCountInResponse();
    List<RouteEntry> entries = new ArrayList<>();
    for (int k = 0; k < v.getRoutesCount(); k++) {
      entries.add(route(v.getRoutes(k), vp + ".routes[" + k + "]", k, v.getName(), vhRequest,
          vhResponse, vhRetry, vhPerFilter));
    }
    VirtualHost.TlsRequirement tls = switch (v.getRequireTls()) {
      case EXTERNAL_ONLY -> VirtualHost.TlsRequirement.EXTERNAL_ONLY;
      case ALL -> VirtualHost.TlsRequirement.ALL;
      default -> VirtualHost.TlsRequirement.NONE;
    };
    return new VirtualHost(v.getName(), entries, tls, config.getIgnorePathParametersInPathMatching());
  }

  private RouteEntry route(io.envoyproxy.envoy.config.route.v3.Route r, String rp, int index,
      String vhName, HeaderMutations vhRequest, HeaderMutations vhResponse,
      ForwardAction.RetryPolicy vhRetry, PerFilterConfigs vhPerFilter) {
    RouteMatch m = r.getMatch();
    String mp = rp + ".match";
    boolean caseSensitive = !m.hasCaseSensitive() || m.getCaseSensitive().getValue();
    RouteEntry.PathKind kind;
    String value = null;
    Pattern regex = null;
    int matchedLength;
    switch (m.getPathSpecifierCase()) {
      case PREFIX -> {
        kind = RouteEntry.PathKind.PREFIX;
        value = m.getPrefix();
        matchedLength = value.length();
      }
      case PATH -> {
        kind = RouteEntry.PathKind.PATH;
        value = m.getPath();
        matchedLength = value.length();
      }
      case SAFE_REGEX -> {
        kind = RouteEntry.PathKind.REGEX;
        regex = Regexes.compile(m.getSafeRegex(), mp + ".safe_regex");
        matchedLength = -1;
      }
      case PATH_SEPARATED_PREFIX -> {
        kind = RouteEntry.PathKind.PATH_SEPARATED_PREFIX;
        value = m.getPathSeparatedPrefix();
        if (!value.matches("[^?#]+[^?#/]")) {
          throw new ConfigException(mp + ".path_separated_prefix",
              "must not be empty, end with '/' or contain '?' or '#': '" + value + "'");
        }
        matchedLength = value.length();
      }
      case CONNECT_MATCHER -> {
        kind = RouteEntry.PathKind.CONNECT;
        matchedLength = -1;
      }
      case PATH_MATCH_POLICY -> throw unsupported(mp + ".path_match_policy");
      default -> throw new ConfigException(mp,
          "one of prefix, path, safe_regex, path_separated_prefix, connect_matcher must be set");
    }
    if (value != null && !caseSensitive) {
      value = RouteEntry.lower(value);
    }
    if (m.hasTlsContext()) {
      throw unsupported(mp + ".tls_context");
    }
    if (m.getDynamicMetadataCount() > 0) {
      throw unsupported(mp + ".dynamic_metadata");
    }
    if (m.getFilterStateCount() > 0) {
      throw unsupported(mp + ".filter_state");
    }
    long num = -1;
    long den = 1;
    if (m.hasRuntimeFraction()) {
      var f = m.getRuntimeFraction().getDefaultValue();
      num = f.getNumerator();
      den = switch (f.getDenominator()) {
        case HUNDRED -> 100;
        case TEN_THOUSAND -> 10_000;
        case MILLION -> 1_000_000;
        default -> throw new ConfigException(mp + ".runtime_fraction.default_value.denominator",
            "unknown value " + f.getDenominatorValue());
      };
    }
    List<HeaderMatch> headers = new ArrayList<>();
    for (int i = 0; i < m.getHeadersCount(); i++) {
      headers.add(HeaderMatch.build(m.getHeaders(i), mp + ".headers[" + i + "]"));
    }
    List<QueryMatch> queries = new ArrayList<>();
    for (int i = 0; i < m.getQueryParametersCount(); i++) {
      queries.add(QueryMatch.build(m.getQueryParameters(i), mp + ".query_parameters[" + i + "]"));
    }

    HeaderMutations rtRequest = HeaderMutations.build(r.getRequestHeadersToAddList(),
        r.getRequestHeadersToRemoveList(), rp, "request");
    HeaderMutations rtResponse = HeaderMutations.build(r.getResponseHeadersToAddList(),
        r.getResponseHeadersToRemoveList(), rp, "response");
    HeaderMutations request;
    HeaderMutations response;
    if (config.getMostSpecificHeaderMutationsWins()) {
      request = HeaderMutations.concat(globalRequest, vhRequest, rtRequest);
      response = HeaderMutations.concat(globalResponse, vhResponse, rtResponse);
    } else {
      request = HeaderMutations.concat(rtRequest, vhRequest, globalRequest);
      response = HeaderMutations.concat(rtResponse, vhResponse, globalResponse);
    }

    io.legate.router.RouteAction action = switch (r.getActionCase()) {
      case ROUTE -> forward(r.getRoute(), rp + ".route", matchedLength, vhRetry);
      case REDIRECT -> redirect(r.getRedirect(), rp + ".redirect", matchedLength);
      case DIRECT_RESPONSE -> direct(r.getDirectResponse(), rp + ".direct_response");
      case FILTER_ACTION -> throw unsupported(rp + ".filter_action");
      case NON_FORWARDING_ACTION -> throw unsupported(rp + ".non_forwarding_action");
      default -> throw new ConfigException(rp, "one of route, redirect, direct_response must be set");
    };
    PerFilterConfigs routePerFilter =
        vhPerFilter.overriddenBy(
            withLegacyCors(perFilter(r.getTypedPerFilterConfigMap(), rp), r.hasRoute() && r.getRoute().hasCors(),
                r.getRoute().getCors(), rp + ".route.cors"));
    RateLimitPolicy rateLimits = r.hasRoute()
        ? RateLimitPolicy.build(r.getRoute().getRateLimitsList(), rp + ".route.rate_limits")
        : RateLimitPolicy.EMPTY;
    Route route = new Route(r.getName(), vhName, action, request, response, routePerFilter,
        rateLimits, vhRateLimits, r.hasRoute() && r.getRoute().hasIncludeVhRateLimits()
            && r.getRoute().getIncludeVhRateLimits().getValue());
    return new RouteEntry(index, kind, value, caseSensitive, regex, num, den, m.hasGrpc(), headers,
        queries, route);
  }

  private ForwardAction forward(io.envoyproxy.envoy.config.route.v3.RouteAction a, String ap,
      int matchedLength, ForwardAction.RetryPolicy vhRetry) {
    String cluster = null;
    AsciiString clusterHeader = null;
    List<ForwardAction.Weighted> weighted = null;
    AsciiString randomHeader = null;
    switch (a.getClusterSpecifierCase()) {
      case CLUSTER -> {
        cluster = a.getCluster();
        if (cluster.isEmpty()) {
          throw new ConfigException(ap + ".cluster", "must not be empty");
        }
        if (clusterExists != null && !clusterExists.test(cluster)) {
          throw new ConfigException(ap + ".cluster", "unknown cluster '" + cluster + "'");
        }
      }
      case CLUSTER_HEADER -> clusterHeader = headerName(a.getClusterHeader(), ap + ".cluster_header");
      case WEIGHTED_CLUSTERS -> {
        WeightedCluster w = a.getWeightedClusters();
        String wp = ap + ".weighted_clusters";
        weighted = new ArrayList<>();
        long total = 0;
        for (int i = 0; i < w.getClustersCount(); i++) {
          var c = w.getClusters(i);
          String cp = wp + ".clusters[" + i + "]";
          if (c.getName().isEmpty() == c.getClusterHeader().isEmpty()) {
            throw new ConfigException(cp, c.getName().isEmpty()
                ? "At least one of name or cluster_header need to be specified"
                : "Only one of name or cluster_header can be specified");
          }
          if (!c.getName().isEmpty() && clusterExists != null && !clusterExists.test(c.getName())) {
            throw new ConfigException(cp + ".name", "unknown weighted cluster '" + c.getName() + "'");
          }
          if (c.hasMetadataMatch()) {
            throw unsupported(cp + ".metadata_match");
          }
          if (c.getTypedPerFilterConfigCount() > 0) {
            throw unsupported(cp + ".typed_per_filter_config");
          }
          long weight = c.getWeight().getValue() & 0xffffffffL;
          total += weight;
          if (total > 0xffffffffL) {
            throw new ConfigException(wp, "The sum of weights of all weighted clusters exceeds 4294967295");
          }
          weighted.add(new ForwardAction.Weighted(
              c.getName().isEmpty() ? null : c.getName(),
              c.getClusterHeader().isEmpty() ? null : headerName(c.getClusterHeader(), cp + ".cluster_header"),
              weight,
              HeaderMutations.build(c.getRequestHeadersToAddList(), c.getRequestHeadersToRemoveList(), cp, "request"),
              HeaderMutations.build(c.getResponseHeadersToAddList(), c.getResponseHeadersToRemoveList(), cp, "response"),
              c.getHostRewriteLiteral().isEmpty() ? null : c.getHostRewriteLiteral()));
        }
        if (total == 0) {
          throw new ConfigException(wp, "Sum of weights in the weighted_cluster must be greater than 0.");
        }
        if (!w.getHeaderName().isEmpty()) {
          randomHeader = headerName(w.getHeaderName(), wp + ".header_name");
        }
      }
      case CLUSTER_SPECIFIER_PLUGIN -> throw unsupported(ap + ".cluster_specifier_plugin");
      case INLINE_CLUSTER_SPECIFIER_PLUGIN -> throw unsupported(ap + ".inline_cluster_specifier_plugin");
      default -> throw new ConfigException(ap, "one of cluster, cluster_header, weighted_clusters must be set");
    }
    if (a.hasMetadataMatch()) {
      throw unsupported(ap + ".metadata_match");
    }
    if (a.hasPathRewritePolicy()) {
      throw unsupported(ap + ".path_rewrite_policy");
    }
    if (a.getRequestMirrorPoliciesCount() > 0) {
      throw unsupported(ap + ".request_mirror_policies");
    }
    Boolean hedgeOnPerTryTimeout =
        a.hasHedgePolicy() ? hedge(a.getHedgePolicy(), ap + ".hedge_policy") : vhHedge;
    if (a.hasInternalRedirectPolicy()) {
      throw unsupported(ap + ".internal_redirect_policy");
    }
    if (a.getInternalRedirectActionValue() != 0) {
      throw unsupported(ap + ".internal_redirect_action");
    }
    if (a.hasEarlyDataPolicy()) {
      throw unsupported(ap + ".early_data_policy");
    }
    if (a.hasRetryPolicyTypedConfig()) {
      throw unsupported(ap + ".retry_policy_typed_config");
    }
    String prefixRewrite = a.getPrefixRewrite().isEmpty() ? null : a.getPrefixRewrite();
    if (prefixRewrite != null && a.hasRegexRewrite()) {
      throw new ConfigException(ap, "Specify only one of prefix_rewrite, regex_rewrite or path_rewrite_policy");
    }
    Regexes.Substitution regexRewrite =
        a.hasRegexRewrite() ? Regexes.substitution(a.getRegexRewrite(), ap + ".regex_rewrite") : null;
    String hostLiteral = null;
    AsciiString hostHeader = null;
    Regexes.Substitution hostRegex = null;
    boolean autoHost = false;
    switch (a.getHostRewriteSpecifierCase()) {
      case HOST_REWRITE_LITERAL -> hostLiteral = a.getHostRewriteLiteral().isEmpty() ? null : a.getHostRewriteLiteral();
      case AUTO_HOST_REWRITE -> autoHost = a.getAutoHostRewrite().getValue();
      case HOST_REWRITE_HEADER -> hostHeader = headerName(a.getHostRewriteHeader(), ap + ".host_rewrite_header");
      case HOST_REWRITE_PATH_REGEX -> hostRegex = Regexes.substitution(a.getHostRewritePathRegex(), ap + ".host_rewrite_path_regex");
      default -> { }
    }
    long timeout = a.hasTimeout() ? RouteTable.durationMs(a.getTimeout()) : DEFAULT_TIMEOUT_MS;
    long idle = a.hasIdleTimeout() ? RouteTable.durationMs(a.getIdleTimeout()) : 0;
    int notFound = switch (a.getClusterNotFoundResponseCode()) {
      case NOT_FOUND -> 404;
      case INTERNAL_SERVER_ERROR -> 500;
      default -> 503;
    };
    ForwardAction.RetryPolicy retry =
        a.hasRetryPolicy() ? retryPolicy(a.getRetryPolicy(), ap + ".retry_policy") : vhRetry;
    List<ForwardAction.HashPolicy> hash = new ArrayList<>();
    for (int i = 0; i < a.getHashPolicyCount(); i++) {
      var h = a.getHashPolicy(i);
      String hp = ap + ".hash_policy[" + i + "]";
      hash.add(switch (h.getPolicySpecifierCase()) {
        case HEADER -> new ForwardAction.HashPolicy("header", h.getHeader().getHeaderName().toLowerCase(Locale.ROOT), h.getTerminal());
        case COOKIE -> {
          var c = h.getCookie();
          if (c.getName().isEmpty()) {
            throw new ConfigException(hp + ".cookie.name", "must not be empty");
          }
          if (c.getAttributesCount() > 0) {
            throw new ConfigException(hp + ".cookie.attributes", "not supported");
          }
          yield new ForwardAction.HashPolicy("cookie", c.getName(), h.getTerminal(),
              c.hasTtl() ? RouteTable.durationMs(c.getTtl()) : -1, c.getPath());
        }
        case CONNECTION_PROPERTIES -> new ForwardAction.HashPolicy("connection_properties", "source_ip", h.getTerminal());
        case QUERY_PARAMETER -> new ForwardAction.HashPolicy("query_parameter", h.getQueryParameter().getName(), h.getTerminal());
        case FILTER_STATE -> {
          if (h.getFilterState().getKey().isEmpty()) {
            throw new ConfigException(hp + ".filter_state.key", "value length must be at least 1 characters");
          }
          yield new ForwardAction.HashPolicy("filter_state", h.getFilterState().getKey(), h.getTerminal());
        }
        default -> throw unsupported(hp);
      });
    }
    long maxStream = a.hasMaxStreamDuration() && a.getMaxStreamDuration().hasMaxStreamDuration()
        ? RouteTable.durationMs(a.getMaxStreamDuration().getMaxStreamDuration()) : 0;
    var msd = a.getMaxStreamDuration();
    if (a.hasMaxGrpcTimeout()) {
      throw new ConfigException(ap + ".max_grpc_timeout",
          "deprecated; use max_stream_duration.grpc_timeout_header_max");
    }
    if (a.hasGrpcTimeoutOffset()) {
      throw new ConfigException(ap + ".grpc_timeout_offset",
          "deprecated; use max_stream_duration.grpc_timeout_header_offset");
    }
    ForwardAction.Resilience resilience = new ForwardAction.Resilience(
        msd.hasGrpcTimeoutHeaderMax() ? RouteTable.durationMs(msd.getGrpcTimeoutHeaderMax()) : -1,
        msd.hasGrpcTimeoutHeaderOffset() ? RouteTable.durationMs(msd.getGrpcTimeoutHeaderOffset()) : 0,
        hedgeOnPerTryTimeout != null && hedgeOnPerTryTimeout);
    return new ForwardAction(cluster, clusterHeader, weighted, randomHeader, prefixRewrite,
        matchedLength, regexRewrite, hostLiteral, hostHeader, hostRegex, autoHost,
        a.getAppendXForwardedHost(), timeout, idle, notFound, retry, hash, maxStream,
        a.getPriority() == io.envoyproxy.envoy.config.core.v3.RoutingPriority.HIGH,
        vhIncludeRequestAttemptCount, vhIncludeAttemptCountInResponse, resilience,
        upgrades(a, ap));
  }

  /** Returns the route's {@code upgrade_configs}; a CONNECT one may terminate CONNECT here. */
  private static ForwardAction.Upgrades upgrades(io.envoyproxy.envoy.config.route.v3.RouteAction a, String ap) {
    if (a.getUpgradeConfigsCount() == 0) {
      return ForwardAction.Upgrades.NONE;
    }
    java.util.Map<String, Boolean> m = new java.util.HashMap<>();
    boolean terminate = false;
    for (int i = 0; i < a.getUpgradeConfigsCount(); i++) {
      var u = a.getUpgradeConfigs(i);
      String up = ap + ".upgrade_configs[" + i + "]";
      if (u.getUpgradeType().isEmpty()) {
        throw new ConfigException(up + ".upgrade_type", "value length must be at least 1 characters");
      }
      String type = u.getUpgradeType().toLowerCase(Locale.ROOT);
      if (m.containsKey(type)) {
        throw new ConfigException(up + ".upgrade_type",
            "Duplicate upgrade " + u.getUpgradeType());
      }
      boolean enabled = !u.hasEnabled() || u.getEnabled().getValue();
      m.put(type, enabled);
      if (u.hasConnectConfig()) {
        if (!type.equals("connect")) {
          throw new ConfigException(up + ".connect_config",
              "Non-CONNECT upgrade type " + u.getUpgradeType() + " has ConnectConfig");
        }
        var cc = u.getConnectConfig();
        if (cc.hasProxyProtocolConfig()) {
          throw unsupported(up + ".connect_config.proxy_protocol_config");
        }
        if (cc.getAllowPost()) {
          throw unsupported(up + ".connect_config.allow_post");
        }
        terminate = enabled;
      }
    }
    return new ForwardAction.Upgrades(m, terminate);
  }

  /** Returns hedge_on_per_try_timeout; the other hedging fields are refused unless at defaults. */
  private static Boolean hedge(io.envoyproxy.envoy.config.route.v3.HedgePolicy h, String hp) {
    if (h.hasInitialRequests() && h.getInitialRequests().getValue() != 1) {
      throw new ConfigException(hp + ".initial_requests", "only 1 is supported");
    }
    if (h.hasAdditionalRequestChance() && h.getAdditionalRequestChance().getNumerator() != 0) {
      throw new ConfigException(hp + ".additional_request_chance", "only 0 is supported");
    }
    return h.getHedgeOnPerTryTimeout();
  }

  private static ForwardAction.RetryPolicy retryPolicy(RetryPolicy p, String pp) {
    long base = 25;
    long max = 250;
    if (p.hasRetryBackOff()) {
      base = Math.max(1, RouteTable.durationMs(p.getRetryBackOff().getBaseInterval()));
      max = p.getRetryBackOff().hasMaxInterval()
          ? Math.max(1, RouteTable.durationMs(p.getRetryBackOff().getMaxInterval())) : base * 10;
      if (max < base) {
        throw new ConfigException(pp + ".retry_back_off.max_interval",
            "retry_policy.max_interval must greater than or equal to the base_interval");
      }
    }
    int priorityUpdateFrequency = p.hasRetryPriority() ? retryPriority(p.getRetryPriority(), pp + ".retry_priority") : 0;
    if (p.getRetryOptionsPredicatesCount() > 0) {
      throw unsupported(pp + ".retry_options_predicates");
    }
    List<ForwardAction.ResetHeader> resetHeaders = new ArrayList<>();
    long resetMaxMs = 300_000;
    if (p.hasRateLimitedRetryBackOff()) {
      var rl = p.getRateLimitedRetryBackOff();
      String rp = pp + ".rate_limited_retry_back_off";
      if (rl.getResetHeadersCount() == 0) {
        throw new ConfigException(rp + ".reset_headers", "value must contain at least 1 item(s)");
      }
      for (int i = 0; i < rl.getResetHeadersCount(); i++) {
        var h = rl.getResetHeaders(i);
        String hp = rp + ".reset_headers[" + i + "]";
        boolean unix = switch (h.getFormat()) {
          case SECONDS -> false;
          case UNIX_TIMESTAMP -> true;
          default -> throw new ConfigException(hp + ".format", "unknown value " + h.getFormatValue());
        };
        resetHeaders.add(new ForwardAction.ResetHeader(headerName(h.getName(), hp + ".name"), unix));
      }
      if (rl.hasMaxInterval()) {
        var d = rl.getMaxInterval();
        if (d.getSeconds() < 0 || (d.getSeconds() == 0 && d.getNanos() <= 0)) {
          throw new ConfigException(rp + ".max_interval", "value must be greater than 0s");
        }
        resetMaxMs = RouteTable.durationMs(d);
      }
    }
    boolean previousHosts = false;
    for (int i = 0; i < p.getRetryHostPredicateCount(); i++) {
      var h = p.getRetryHostPredicate(i);
      String type = h.hasTypedConfig() ? h.getTypedConfig().getTypeUrl() : "";
      if (h.getName().equals("envoy.retry_host_predicates.previous_hosts")
          || type.endsWith("/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate")) {
        previousHosts = true;
      } else {
        throw new ConfigException(pp + ".retry_host_predicate[" + i + "]",
            "unsupported retry host predicate '" + h.getName() + "'");
      }
    }
    List<Predicate<io.netty.handler.codec.http2.Http2Headers>> retriableHeaders = new ArrayList<>();
    for (int i = 0; i < p.getRetriableHeadersCount(); i++) {
      retriableHeaders.add(HeaderMatch.build(p.getRetriableHeaders(i), pp + ".retriable_headers[" + i + "]")::matches);
    }
    List<Predicate<io.netty.handler.codec.http2.Http2Headers>> requestHeaders = new ArrayList<>();
    for (int i = 0; i < p.getRetriableRequestHeadersCount(); i++) {
      requestHeaders.add(HeaderMatch.build(p.getRetriableRequestHeaders(i),
          pp + ".retriable_request_headers[" + i + "]")::matches);
    }
    String retryOn = p.getRetryOn();
    return new ForwardAction.RetryPolicy(retryOn,
        p.hasNumRetries() ? p.getNumRetries().getValue() : 1,
        p.hasPerTryTimeout() ? RouteTable.durationMs(p.getPerTryTimeout()) : 0,
        p.hasPerTryIdleTimeout() ? RouteTable.durationMs(p.getPerTryIdleTimeout()) : 0,
        List.copyOf(p.getRetriableStatusCodesList()), base, max,
        RetryState.parseRetryOn(retryOn) | RetryState.parseRetryGrpcOn(retryOn),
        retriableHeaders, requestHeaders, previousHosts, p.getHostSelectionRetryMaxAttempts(),
        priorityUpdateFrequency, resetHeaders, resetMaxMs);
  }

  /** Returns the {@code update_frequency} of the only retry priority known, previous_priorities. */
  private static int retryPriority(RetryPolicy.RetryPriority r, String rp) {
    String type = r.hasTypedConfig() ? r.getTypedConfig().getTypeUrl() : "";
    String configType = "envoy.extensions.retry.priority.previous_priorities.v3.PreviousPrioritiesConfig";
    if (!r.getName().equals("envoy.retry_priorities.previous_priorities") && !type.endsWith("/" + configType)) {
      throw new ConfigException(rp, "unsupported retry priority '" + r.getName()
          + "'; supported: envoy.retry_priorities.previous_priorities");
    }
    if (!r.hasTypedConfig() || !type.endsWith("/" + configType)) {
      throw new ConfigException(rp + ".typed_config", "must be a " + configType);
    }
    int frequency;
    try {
      frequency = r.getTypedConfig()
          .unpack(io.envoyproxy.envoy.extensions.retry.priority.previous_priorities.v3.PreviousPrioritiesConfig.class)
          .getUpdateFrequency();
    } catch (com.google.protobuf.InvalidProtocolBufferException e) {
      throw new ConfigException(rp + ".typed_config", "cannot be read: " + e.getMessage());
    }
    if (frequency <= 0) {
      throw new ConfigException(rp + ".typed_config.update_frequency", "value must be greater than 0");
    }
    return frequency;
  }

  private static AsciiString headerName(String name, String p) {
    if (name.isEmpty()) {
      throw new ConfigException(p, "must not be empty");
    }
    for (int i = 0; i < name.length(); i++) {
      char c = name.charAt(i);
      if (c <= ' ' || c >= 127 || c == ',') {
        throw new ConfigException(p, "invalid header name '" + name + "'");
      }
    }
    return AsciiString.of(name.toLowerCase(Locale.ROOT));
  }

  private io.legate.router.RedirectAction redirect(RedirectAction r, String rp, int matchedLength) {
    String scheme = switch (r.getSchemeRewriteSpecifierCase()) {
      case HTTPS_REDIRECT -> r.getHttpsRedirect() ? "https" : null;
      case SCHEME_REDIRECT -> r.getSchemeRedirect().isEmpty() ? null : r.getSchemeRedirect();
      default -> null;
    };
    String host = r.getHostRedirect().isEmpty() ? null : r.getHostRedirect();
    String port = r.getPortRedirect() == 0 ? null : ":" + r.getPortRedirect();
    String pathRedirect = null;
    String prefixRewrite = null;
    Regexes.Substitution regex = null;
    switch (r.getPathRewriteSpecifierCase()) {
      case PATH_REDIRECT -> pathRedirect = r.getPathRedirect().isEmpty() ? null : r.getPathRedirect();
      case PREFIX_REWRITE -> prefixRewrite = r.getPrefixRewrite().isEmpty() ? null : r.getPrefixRewrite();
      case REGEX_REWRITE -> regex = Regexes.substitution(r.getRegexRewrite(), rp + ".regex_rewrite");
      default -> { }
    }
    int status = switch (r.getResponseCode()) {
      case FOUND -> 302;
      case SEE_OTHER -> 303;
      case TEMPORARY_REDIRECT -> 307;
      case PERMANENT_REDIRECT -> 308;
      default -> 301;
    };
    return new io.legate.router.RedirectAction(scheme, host, port, pathRedirect, prefixRewrite,
        matchedLength, regex, r.getStripQuery(), status);
  }

  private io.legate.router.DirectResponseAction direct(DirectResponseAction d, String dp) {
    int status = d.getStatus();
    if (status < 200 || status >= 600) {
      throw new ConfigException(dp + ".status", "must be in [200, 600), got " + status);
    }
    byte[] body = null;
    if (d.hasBody()) {
      DataSource b = d.getBody();
      String bp = dp + ".body";
      switch (b.getSpecifierCase()) {
        case INLINE_STRING -> body = b.getInlineString().getBytes(StandardCharsets.UTF_8);
        case INLINE_BYTES -> body = b.getInlineBytes().toByteArray();
        case FILENAME -> {
          try {
            body = Files.readAllBytes(Path.of(b.getFilename()));
          } catch (IOException e) {
            throw new ConfigException(bp + ".filename",
                "cannot read response body file " + b.getFilename() + ": " + e.getMessage());
          }
        }
        case ENVIRONMENT_VARIABLE -> {
          String v = System.getenv(b.getEnvironmentVariable());
          if (v == null) {
            throw new ConfigException(bp + ".environment_variable",
                "environment variable " + b.getEnvironmentVariable() + " is not set");
          }
          body = v.getBytes(StandardCharsets.UTF_8);
        }
        default -> body = null;
      }
      if (body != null && body.length > maxBody) {
        throw new ConfigException(bp,
            "response body size is " + body.length + " bytes; maximum is " + maxBody);
      }
    }
    return new io.legate.router.DirectResponseAction(status, body);
  }
}
