package io.legate.router;

import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.AsciiString;
import java.util.List;
import java.util.function.Predicate;

/** A route that forwards upstream (Envoy's RouteAction). */
public final class ForwardAction implements RouteAction {
  static final AsciiString X_ENVOY_ORIGINAL_PATH = AsciiString.cached("x-envoy-original-path");
  static final AsciiString X_FORWARDED_HOST = AsciiString.cached("x-forwarded-host");

  /** One weighted cluster entry. */
  record Weighted(
      String name,
      AsciiString clusterHeader,
      long weight,
      HeaderMutations requestMutations,
      HeaderMutations responseMutations,
      String hostRewriteLiteral) {}

  /**
   * Envoy's retry policy, parsed once.
   *
   * @param retryOnMask the {@code retry_on} conditions as {@link RetryState} bits (HTTP and gRPC)
   * @param retriableHeaders {@code retriable_headers}: a response matching any is retriable
   * @param retriableRequestHeaders {@code retriable_request_headers}: if non-empty, only requests
   *     matching one of them are retried
   * @param previousHosts whether {@code envoy.retry_host_predicates.previous_hosts} is configured
   * @param hostSelectionRetryMaxAttempts {@code host_selection_retry_max_attempts}
   * @param retryPriorityUpdateFrequency {@code update_frequency} of the {@code
   *     envoy.retry_priorities.previous_priorities} retry priority, 0 when there is none
   * @param resetHeaders {@code rate_limited_retry_back_off.reset_headers}, in order (empty: none)
   * @param resetMaxIntervalMs {@code rate_limited_retry_back_off.max_interval} in ms
   */
  public record RetryPolicy(
      String retryOn,
      int numRetries,
      long perTryTimeoutMs,
      long perTryIdleTimeoutMs,
      List<Integer> retriableStatusCodes,
      long backOffBaseIntervalMs,
      long backOffMaxIntervalMs,
      int retryOnMask,
      List<Predicate<Http2Headers>> retriableHeaders,
      List<Predicate<Http2Headers>> retriableRequestHeaders,
      boolean previousHosts,
      long hostSelectionRetryMaxAttempts,
      int retryPriorityUpdateFrequency,
      List<ResetHeader> resetHeaders,
      long resetMaxIntervalMs) {
    /** Envoy's policy for requests whose route has none (used with {@code x-envoy-retry-on}). */
    public static final RetryPolicy DEFAULT = new RetryPolicy("", 1, 0, 0, List.of(), 25, 250);

    public RetryPolicy {
      retriableStatusCodes = List.copyOf(retriableStatusCodes);
      retriableHeaders = List.copyOf(retriableHeaders);
      retriableRequestHeaders = List.copyOf(retriableRequestHeaders);
      resetHeaders = List.copyOf(resetHeaders);
    }

    /** Creates a policy without retry priority and rate-limited back-off. */
    public RetryPolicy(
        String retryOn,
        int numRetries,
        long perTryTimeoutMs,
        long perTryIdleTimeoutMs,
        List<Integer> retriableStatusCodes,
        long backOffBaseIntervalMs,
        long backOffMaxIntervalMs,
        int retryOnMask,
        List<Predicate<Http2Headers>> retriableHeaders,
        List<Predicate<Http2Headers>> retriableRequestHeaders,
        boolean previousHosts,
        long hostSelectionRetryMaxAttempts) {
      this(retryOn, numRetries, perTryTimeoutMs, perTryIdleTimeoutMs, retriableStatusCodes,
          backOffBaseIntervalMs, backOffMaxIntervalMs, retryOnMask, retriableHeaders,
          retriableRequestHeaders, previousHosts, hostSelectionRetryMaxAttempts, 0, List.of(), 300_000);
    }

    /** Creates a policy with only the basic fields; retry_on is parsed into its mask. */
    public RetryPolicy(
        String retryOn,
        int numRetries,
        long perTryTimeoutMs,
        long perTryIdleTimeoutMs,
        List<Integer> retriableStatusCodes,
        long backOffBaseIntervalMs,
        long backOffMaxIntervalMs) {
      this(retryOn, numRetries, perTryTimeoutMs, perTryIdleTimeoutMs, retriableStatusCodes,
          backOffBaseIntervalMs, backOffMaxIntervalMs,
          RetryState.parseRetryOn(retryOn) | RetryState.parseRetryGrpcOn(retryOn),
          List.of(), List.of(), false, 0);
    }
  }

  /**
   * One {@code rate_limited_retry_back_off.reset_headers} entry: a response header giving how long
   * to wait before retrying, in seconds ({@code SECONDS}) or as the Unix time to wait for ({@code
   * UNIX_TIMESTAMP}).
   */
  public record ResetHeader(AsciiString name, boolean unixTimestamp) {
    /**
     * Returns the interval this header asks for in ms, or -1 when the response lacks it or its
     * first value is not an unsigned integer (or a timestamp in the past), as Envoy's {@code
     * ResetHeaderParserImpl::parseInterval}.
     */
    public long parseIntervalMs(Http2Headers response, long nowEpochMs) {
      CharSequence v = response.get(name);
      if (v == null || v.length() == 0 || v.length() > 18) {
        return -1;
      }
      long n = 0;
      for (int i = 0; i < v.length(); i++) {
        char c = v.charAt(i);
        if (c < '0' || c > '9') {
          return -1;
        }
        n = n * 10 + (c - '0');
      }
      if (unixTimestamp) {
        long now = nowEpochMs / 1000;
        if (n < now) {
          return -1;
        }
        n -= now;
      }
      return n > Long.MAX_VALUE / 1000 ? -1 : n * 1000;
    }
  }

  /**
   * One hash_policy entry: kind is header, cookie, connection_properties, query_parameter or
   * filter_state. A
   * cookie entry with a {@code ttl} ({@code cookieTtlMs} not negative) has its cookie generated
   * when the request has none.
   *
   * @param cookieTtlMs the cookie's {@code ttl} in ms (0: a session cookie), -1 when not generated
   * @param cookiePath the cookie's {@code path}, possibly ""
   */
  public record HashPolicy(String kind, String name, boolean terminal, long cookieTtlMs, String cookiePath) {
    /** Creates an entry whose cookie (if any) is never generated. */
    public HashPolicy(String kind, String name, boolean terminal) {
      this(kind, name, terminal, -1, "");
    }
  }

  /**
   * The route's stream-duration and hedging settings.
   *
   * @param grpcTimeoutHeaderMaxMs {@code max_stream_duration.grpc_timeout_header_max} in ms (0: no
   *     cap), -1 when unset (the {@code grpc-timeout} header is then ignored)
   * @param grpcTimeoutHeaderOffsetMs {@code max_stream_duration.grpc_timeout_header_offset} in ms
   * @param hedgeOnPerTryTimeout {@code hedge_policy.hedge_on_per_try_timeout} (route's, else the
   *     virtual host's)
   */
  public record Resilience(long grpcTimeoutHeaderMaxMs, long grpcTimeoutHeaderOffsetMs, boolean hedgeOnPerTryTimeout) {
    /** No gRPC timeout handling, no hedging. */
    public static final Resilience NONE = new Resilience(-1, 0, false);
  }

  /**
   * The route's {@code upgrade_configs}: upgrade type (lowercase; "connect" for CONNECT) to
   * whether the route enables it, and whether a CONNECT request is terminated here ({@code
   * connect_config}: the proxy answers 200 and carries the payload over TCP to the cluster).
   */
  public record Upgrades(java.util.Map<String, Boolean> enabled, boolean terminateConnect) {
    public static final Upgrades NONE = new Upgrades(java.util.Map.of(), false);

    public Upgrades {
      enabled = java.util.Map.copyOf(enabled);
    }
  }

  private final Upgrades upgrades;
  private final String cluster;
  private final AsciiString clusterHeader;
  private final List<Weighted> weighted;
  private final long totalWeight;
  private final AsciiString randomValueHeader;
  private final String prefixRewrite;
  private final int matchedPrefixLength; // -1: the whole path without query (regex routes)
  private final Regexes.Substitution regexRewrite;
  private final String hostRewriteLiteral;
  private final AsciiString hostRewriteHeader;
  private final Regexes.Substitution hostRewritePathRegex;
  private final boolean autoHostRewrite;
  private final boolean appendXForwardedHost;
  private final long timeoutMs;
  private final long idleTimeoutMs;
  private final int clusterNotFoundResponseCode;
  private final RetryPolicy retryPolicy;
  private final List<HashPolicy> hashPolicies;
  private final long maxStreamDurationMs;
  private final ClusterSelection fixedSelection;
  private final boolean highPriority;
  private final boolean includeRequestAttemptCount;
  private final boolean includeAttemptCountInResponse;
  private final Resilience resilience;

  ForwardAction(String cluster, AsciiString clusterHeader, List<Weighted> weighted,
      AsciiString randomValueHeader, String prefixRewrite, int matchedPrefixLength,
      Regexes.Substitution regexRewrite, String hostRewriteLiteral, AsciiString hostRewriteHeader,
      Regexes.Substitution hostRewritePathRegex, boolean autoHostRewrite,
      boolean appendXForwardedHost, long timeoutMs, long idleTimeoutMs,
      int clusterNotFoundResponseCode, RetryPolicy retryPolicy, List<HashPolicy> hashPolicies,
      long maxStreamDurationMs) {
    this(cluster, clusterHeader, weighted, randomValueHeader, prefixRewrite, matchedPrefixLength,
        regexRewrite, hostRewriteLiteral, hostRewriteHeader, hostRewritePathRegex, autoHostRewrite,
        appendXForwardedHost, timeoutMs, idleTimeoutMs, clusterNotFoundResponseCode, retryPolicy,
        hashPolicies, maxStreamDurationMs, false, false, false);
  }

  ForwardAction(String cluster, AsciiString clusterHeader, List<Weighted> weighted,
      AsciiString randomValueHeader, String prefixRewrite, int matchedPrefixLength,
      Regexes.Substitution regexRewrite, String hostRewriteLiteral, AsciiString hostRewriteHeader,
      Regexes.Substitution hostRewritePathRegex, boolean autoHostRewrite,
      boolean appendXForwardedHost, long timeoutMs, long idleTimeoutMs,
      int clusterNotFoundResponseCode, RetryPolicy retryPolicy, List<HashPolicy> hashPolicies,
      long maxStreamDurationMs, boolean highPriority, boolean includeRequestAttemptCount,
      boolean includeAttemptCountInResponse) {
    this(cluster, clusterHeader, weighted, randomValueHeader, prefixRewrite, matchedPrefixLength,
        regexRewrite, hostRewriteLiteral, hostRewriteHeader, hostRewritePathRegex, autoHostRewrite,
        appendXForwardedHost, timeoutMs, idleTimeoutMs, clusterNotFoundResponseCode, retryPolicy,
        hashPolicies, maxStreamDurationMs, highPriority, includeRequestAttemptCount,
        includeAttemptCountInResponse, Resilience.NONE);
  }

  ForwardAction(String cluster, AsciiString clusterHeader, List<Weighted> weighted,
      AsciiString randomValueHeader, String prefixRewrite, int matchedPrefixLength,
      Regexes.Substitution regexRewrite, String hostRewriteLiteral, AsciiString hostRewriteHeader,
      Regexes.Substitution hostRewritePathRegex, boolean autoHostRewrite,
      boolean appendXForwardedHost, long timeoutMs, long idleTimeoutMs,
      int clusterNotFoundResponseCode, RetryPolicy retryPolicy, List<HashPolicy> hashPolicies,
      long maxStreamDurationMs, boolean highPriority, boolean includeRequestAttemptCount,
      boolean includeAttemptCountInResponse, Resilience resilience) {
    this(cluster, clusterHeader, weighted, randomValueHeader, prefixRewrite, matchedPrefixLength,
        regexRewrite, hostRewriteLiteral, hostRewriteHeader, hostRewritePathRegex, autoHostRewrite,
        appendXForwardedHost, timeoutMs, idleTimeoutMs, clusterNotFoundResponseCode, retryPolicy,
        hashPolicies, maxStreamDurationMs, highPriority, includeRequestAttemptCount,
        includeAttemptCountInResponse, resilience, Upgrades.NONE);
  }

  ForwardAction(String cluster, AsciiString clusterHeader, List<Weighted> weighted,
      AsciiString randomValueHeader, String prefixRewrite, int matchedPrefixLength,
      Regexes.Substitution regexRewrite, String hostRewriteLiteral, AsciiString hostRewriteHeader,
      Regexes.Substitution hostRewritePathRegex, boolean autoHostRewrite,
      boolean appendXForwardedHost, long timeoutMs, long idleTimeoutMs,
      int clusterNotFoundResponseCode, RetryPolicy retryPolicy, List<HashPolicy> hashPolicies,
      long maxStreamDurationMs, boolean highPriority, boolean includeRequestAttemptCount,
      boolean includeAttemptCountInResponse, Resilience resilience, Upgrades upgrades) {
    this.upgrades = upgrades;
    this.resilience = resilience;
    this.highPriority = highPriority;
    this.includeRequestAttemptCount = includeRequestAttemptCount;
    this.includeAttemptCountInResponse = includeAttemptCountInResponse;
    this.cluster = cluster;
    this.clusterHeader = clusterHeader;
    this.weighted = weighted == null ? null : List.copyOf(weighted);
    long total = 0;
    if (weighted != null) {
      for (Weighted w : weighted) {
        total += w.weight();
      }
    }
    this.totalWeight = total;
    this.randomValueHeader = randomValueHeader;
    this.prefixRewrite = prefixRewrite;
    this.matchedPrefixLength = matchedPrefixLength;
    this.regexRewrite = regexRewrite;
    this.hostRewriteLiteral = hostRewriteLiteral;
    this.hostRewriteHeader = hostRewriteHeader;
    this.hostRewritePathRegex = hostRewritePathRegex;
    this.autoHostRewrite = autoHostRewrite;
    this.appendXForwardedHost = appendXForwardedHost;
    this.timeoutMs = timeoutMs;
    this.idleTimeoutMs = idleTimeoutMs;
    this.clusterNotFoundResponseCode = clusterNotFoundResponseCode;
    this.retryPolicy = retryPolicy;
    this.hashPolicies = List.copyOf(hashPolicies);
    this.maxStreamDurationMs = maxStreamDurationMs;
    this.fixedSelection =
        cluster != null
            ? new ClusterSelection(cluster, HeaderMutations.EMPTY, HeaderMutations.EMPTY, null)
            : null;
  }

  /** Returns the route's upgrade_configs. */
  public Upgrades upgrades() {
    return upgrades;
  }

  /** Returns route.cluster, or null when the cluster comes from a header or weighted clusters. */
  public String clusterName() {
    return cluster;
  }

  /**
   * Chooses the upstream cluster: {@code cluster}, {@code cluster_header} (clusterName null if the
   * header is absent; first value used), or {@code weighted_clusters} picking the entry whose
   * interval {@code [sum of previous weights, + weight)} holds {@code random % total_weight}; the
   * random value comes from {@code header_name} when that header holds one unsigned integer.
   */
  public ClusterSelection selectCluster(Http2Headers request, long random) {
    if (fixedSelection != null) {
      return fixedSelection;
    }
    if (clusterHeader != null) {
      CharSequence v = request.get(clusterHeader);
      return new ClusterSelection(
          v == null ? null : v.toString(), HeaderMutations.EMPTY, HeaderMutations.EMPTY, null);
    }
    long value = random;
    if (randomValueHeader != null) {
      List<CharSequence> all = request.getAll(randomValueHeader);
      if (all.size() == 1) {
        try {
          value = Long.parseUnsignedLong(all.get(0).toString());
        } catch (NumberFormatException e) {
          // fall back to the stream's random value, as Envoy
        }
      }
    }
    long selected = Long.remainderUnsigned(value, totalWeight);
    long begin = 0;
    for (Weighted w : weighted) {
      long end = begin + w.weight();
      if (selected >= begin && selected < end) {
        String name = w.name();
        if (name == null) {
          CharSequence v = request.get(w.clusterHeader());
          name = v == null ? null : v.toString();
        }
        return new ClusterSelection(
            name, w.requestMutations(), w.responseMutations(), w.hostRewriteLiteral());
      }
      begin = end;
    }
    throw new IllegalStateException("weighted cluster selection out of range");
  }

  /** Returns the number of weighted clusters (0 if not weighted). */
  int weightedCount() {
    return weighted == null ? 0 : weighted.size();
  }

  /**
   * Applies host rewrites ({@code host_rewrite_literal}, {@code host_rewrite_header}, {@code
   * host_rewrite_path_regex}, with {@code append_x_forwarded_host}) to :authority, then {@code
   * prefix_rewrite} / {@code regex_rewrite} to :path keeping the query, setting {@code
   * x-envoy-original-path} to the old path when it changes and insertOriginalPath is true (Envoy
   * does unless the router's {@code suppress_envoy_headers}).
   */
  public void rewriteRequest(Http2Headers request, boolean insertOriginalPath) {
    String newHost = null;
    if (hostRewriteLiteral != null) {
      newHost = hostRewriteLiteral;
    } else if (hostRewriteHeader != null) {
      CharSequence v = request.get(hostRewriteHeader);
      newHost = v == null ? null : v.toString();
    } else if (hostRewritePathRegex != null) {
      CharSequence p = request.path();
      String path = p == null ? "" : p.toString();
      newHost = hostRewritePathRegex.replaceAll(path.substring(0, RouteEntry.pathEnd(path)));
    }
    if (newHost != null && !newHost.isEmpty()) {
      updateAuthority(request, newHost, appendXForwardedHost);
    }
    if (prefixRewrite == null && regexRewrite == null) {
      return;
    }
    CharSequence p = request.path();
    String path = p == null ? "" : p.toString();
    String rewritten;
    if (prefixRewrite != null) {
      int len = matchedPrefixLength < 0 ? RouteEntry.pathEnd(path) : Math.min(matchedPrefixLength, path.length());
      rewritten = prefixRewrite + path.substring(len);
    } else {
      int end = RouteEntry.pathEnd(path);
      rewritten = regexRewrite.replaceAll(path.substring(0, end)) + path.substring(end);
    }
    if (insertOriginalPath) {
      request.set(X_ENVOY_ORIGINAL_PATH, path);
    }
    request.path(rewritten);
  }

  /** Same as {@code rewriteRequest(request, true)}. */
  public void rewriteRequest(Http2Headers request) {
    rewriteRequest(request, true);
  }

  /** Sets :authority, appending the old one to x-forwarded-host if asked (idempotently). */
  static void updateAuthority(Http2Headers request, String host, boolean appendXfh) {
    CharSequence old = request.authority();
    if (appendXfh && old != null && old.length() > 0) {
      CharSequence xfh = request.get(X_FORWARDED_HOST);
      if (xfh == null || xfh.length() == 0) {
        request.set(X_FORWARDED_HOST, old);
      } else {
        String s = xfh.toString();
        String last = s.substring(s.lastIndexOf(',') + 1).trim();
        if (!last.contentEquals(old)) {
          request.set(X_FORWARDED_HOST, s + "," + old);
        }
      }
    }
    request.authority(host);
  }

  /** Returns true if :authority should become the upstream host's hostname (auto_host_rewrite). */
  public boolean autoHostRewrite() {
    return autoHostRewrite;
  }

  /** Returns true if append_x_forwarded_host is set (for auto_host_rewrite done by the caller). */
  public boolean appendXForwardedHost() {
    return appendXForwardedHost;
  }

  /** Returns RouteAction.timeout in ms (default 15000; 0 disables). */
  public long timeoutMs() {
    return timeoutMs;
  }

  /** Returns RouteAction.idle_timeout in ms, 0 if none. */
  public long idleTimeoutMs() {
    return idleTimeoutMs;
  }

  /** Returns the status to answer when the cluster does not exist: 503, 404 or 500. */
  public int clusterNotFoundResponseCode() {
    return clusterNotFoundResponseCode;
  }

  /** Returns the retry policy (route's, else virtual host's), or null if none. */
  public RetryPolicy retryPolicy() {
    return retryPolicy;
  }

  /** Returns the hash policies, in order (empty if none). */
  public List<HashPolicy> hashPolicies() {
    return hashPolicies;
  }

  /** Returns max_stream_duration.max_stream_duration in ms, 0 if unset. */
  public long maxStreamDurationMs() {
    return maxStreamDurationMs;
  }

  /** Returns the route's gRPC timeout header handling and hedging settings. */
  public Resilience resilience() {
    return resilience;
  }

  /** Returns true if the route's {@code priority} is HIGH (picks the circuit breakers). */
  public boolean highPriority() {
    return highPriority;
  }

  /** Returns the virtual host's {@code include_request_attempt_count}. */
  public boolean includeRequestAttemptCount() {
    return includeRequestAttemptCount;
  }

  /** Returns the virtual host's {@code include_attempt_count_in_response}. */
  public boolean includeAttemptCountInResponse() {
    return includeAttemptCountInResponse;
  }
}
