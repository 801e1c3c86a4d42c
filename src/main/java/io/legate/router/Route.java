package io.legate.router;

import io.legate.http.StreamInfo;
import io.netty.handler.codec.http2.Http2Headers;

/** A matched route: its name, virtual host, action and header mutations. Immutable. */
public final class Route {
  private final String name;
  private final String virtualHostName;
  private final RouteAction action;
  private final HeaderMutations requestHeaderMutations;
  private final HeaderMutations responseHeaderMutations;
  private final PerFilterConfigs perFilter;
  private final RateLimitPolicy rateLimitPolicy;
  private final RateLimitPolicy virtualHostRateLimitPolicy;
  private final boolean includeVirtualHostRateLimits;

  Route(String name, String virtualHostName, RouteAction action,
      HeaderMutations requestHeaderMutations, HeaderMutations responseHeaderMutations) {
    this(name, virtualHostName, action, requestHeaderMutations, responseHeaderMutations,
        PerFilterConfigs.EMPTY);
  }

  Route(String name, String virtualHostName, RouteAction action,
      HeaderMutations requestHeaderMutations, HeaderMutations responseHeaderMutations,
      PerFilterConfigs perFilter) {
    this(name, virtualHostName, action, requestHeaderMutations, responseHeaderMutations, perFilter,
        RateLimitPolicy.EMPTY, RateLimitPolicy.EMPTY, false);
  }

  Route(String name, String virtualHostName, RouteAction action,
      HeaderMutations requestHeaderMutations, HeaderMutations responseHeaderMutations,
      PerFilterConfigs perFilter, RateLimitPolicy rateLimitPolicy,
      RateLimitPolicy virtualHostRateLimitPolicy, boolean includeVirtualHostRateLimits) {
    this.rateLimitPolicy = rateLimitPolicy;
    this.virtualHostRateLimitPolicy = virtualHostRateLimitPolicy;
    this.includeVirtualHostRateLimits = includeVirtualHostRateLimits;
    this.perFilter = perFilter;
    this.name = name;
    this.virtualHostName = virtualHostName;
    this.action = action;
    this.requestHeaderMutations = requestHeaderMutations;
    this.responseHeaderMutations = responseHeaderMutations;
  }

  /** Returns route.name, possibly "". */
  public String name() {
    return name;
  }

  /** Returns the virtual host's name (for stats). */
  public String virtualHostName() {
    return virtualHostName;
  }

  /** Returns the action: a ForwardAction, RedirectAction or DirectResponseAction. */
  public RouteAction action() {
    return action;
  }

  /**
   * Returns the request header mutations in Envoy's order: route, virtual host, route
   * configuration (or the reverse with most_specific_header_mutations_wins); each stage is
   * evaluated in turn so later stages win.
   */
  public HeaderMutations requestHeaderMutations() {
    return requestHeaderMutations;
  }

  /** Returns the response header mutations, in the same order as the request ones. */
  public HeaderMutations responseHeaderMutations() {
    return responseHeaderMutations;
  }

  /**
   * Returns the most specific per-route config of a filter ({@code typed_per_filter_config} on the
   * route, else its virtual host, else the route configuration), parsed at build time by the
   * filter's factory, or null when none applies.
   *
   * @param filterName the filter's name in the HCM's {@code http_filters}
   */
  public Object perFilterConfig(String filterName) {
    return perFilter.config(filterName);
  }

  /** Returns the route action's {@code rate_limits} (empty for redirects and direct responses). */
  public RateLimitPolicy rateLimitPolicy() {
    return rateLimitPolicy;
  }

  /** Returns the virtual host's {@code rate_limits}. */
  public RateLimitPolicy virtualHostRateLimitPolicy() {
    return virtualHostRateLimitPolicy;
  }

  /** Returns the route action's {@code include_vh_rate_limits}. */
  public boolean includeVirtualHostRateLimits() {
    return includeVirtualHostRateLimits;
  }

  /**
   * Returns whether the most specific {@code FilterConfig} for a filter disables it
   * ({@code Boolean.TRUE}), enables it ({@code Boolean.FALSE}), or null when no level says.
   */
  public Boolean filterDisabled(String filterName) {
    return perFilter.disabled(filterName);
  }

  /**
   * Finalizes upstream request headers as Envoy's router: the weighted cluster's mutations and
   * host_rewrite_literal (if any), then this route's mutations, then the host and path rewrites of
   * a ForwardAction. selection may be null.
   */
  public void finalizeRequestHeaders(
      Http2Headers request, StreamInfo info, ClusterSelection selection, boolean insertOriginalPath) {
    if (selection != null) {
      selection.requestMutations().apply(request, info);
      if (selection.hostRewriteLiteral() != null) {
        request.authority(selection.hostRewriteLiteral());
      }
    }
    requestHeaderMutations.apply(request, info);
    if (action instanceof ForwardAction f) {
      f.rewriteRequest(request, insertOriginalPath);
    }
  }

  /** Finalizes response headers: the weighted cluster's mutations, then this route's. */
  public void finalizeResponseHeaders(
      Http2Headers response, StreamInfo info, ClusterSelection selection) {
    if (selection != null) {
      selection.responseMutations().apply(response, info);
    }
    responseHeaderMutations.apply(response, info);
  }

  @Override
  public String toString() {
    return "Route{" + virtualHostName + "/" + name + "}";
  }
}
