package io.legate.http.filters.cors;

import io.envoyproxy.envoy.extensions.filters.http.cors.v3.CorsPolicy;
import io.legate.config.ConfigException;
import io.legate.config.Fraction;
import io.legate.rbac.StringMatch;
import java.util.ArrayList;
import java.util.List;

/**
 * A compiled {@code CorsPolicy} from a route's, virtual host's or route configuration's {@code
 * typed_per_filter_config}. Header values are kept as given ("" = not set). Immutable.
 */
record CorsPolicyConfig(
    List<StringMatch> allowOrigins,
    String allowMethods,
    String allowHeaders,
    String exposeHeaders,
    String maxAge,
    boolean allowCredentials,
    boolean allowPrivateNetworkAccess,
    boolean forwardNotMatchingPreflights,
    Fraction enabledFraction,
    Fraction shadowFraction) {

  static CorsPolicyConfig build(CorsPolicy p, String path) {
    List<StringMatch> origins = new ArrayList<>();
    for (int i = 0; i < p.getAllowOriginStringMatchCount(); i++) {
      origins.add(StringMatch.build(p.getAllowOriginStringMatch(i), path + ".allow_origin_string_match[" + i + "]"));
    }
    Fraction enabled =
        Fraction.ofRuntime(p.hasFilterEnabled() ? p.getFilterEnabled() : null, Fraction.ALL, path + ".filter_enabled");
    Fraction shadow =
        Fraction.ofRuntime(p.hasShadowEnabled() ? p.getShadowEnabled() : null, Fraction.NONE, path + ".shadow_enabled");
    return new CorsPolicyConfig(
        List.copyOf(origins),
        p.getAllowMethods(),
        p.getAllowHeaders(),
        p.getExposeHeaders(),
        p.getMaxAge(),
        p.hasAllowCredentials() && p.getAllowCredentials().getValue(),
        p.hasAllowPrivateNetworkAccess() && p.getAllowPrivateNetworkAccess().getValue(),
        !p.hasForwardNotMatchingPreflights() || p.getForwardNotMatchingPreflights().getValue(),
        enabled,
        shadow);
  }

  /** Returns whether the policy is enforced for this request ({@code filter_enabled}). */
  boolean enabled() {
    return enabledFraction.sample();
  }

  /** Returns whether the policy is evaluated in shadow mode for this request ({@code shadow_enabled}). */
  boolean shadowEnabled() {
    return shadowFraction.sample();
  }

  /** Returns whether the origin is allowed: an origin matcher that matches it, or one that matches "*". */
  boolean originAllowed(CharSequence origin) {
    for (StringMatch m : allowOrigins) {
      if (m.matches("*") || m.matches(origin)) {
        return true;
      }
    }
    return false;
  }
}
