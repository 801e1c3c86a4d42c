package io.legate.http.filters.cors;

import io.envoyproxy.envoy.config.core.v3.RuntimeFractionalPercent;
import io.envoyproxy.envoy.extensions.filters.http.cors.v3.CorsPolicy;
import io.envoyproxy.envoy.type.v3.FractionalPercent;
import io.legate.config.ConfigException;
import io.legate.rbac.StringMatch;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

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
    long enabledNumerator,
    long enabledDenominator,
    long shadowNumerator,
    long shadowDenominator) {

  static CorsPolicyConfig build(CorsPolicy p, String path) {
    List<StringMatch> origins = new ArrayList<>();
    for (int i = 0; i < p.getAllowOriginStringMatchCount(); i++) {
      origins.add(StringMatch.build(p.getAllowOriginStringMatch(i), path + ".allow_origin_string_match[" + i + "]"));
    }
    long[] enabled = fraction(p.hasFilterEnabled() ? p.getFilterEnabled() : null, 1, path + ".filter_enabled");
    long[] shadow = fraction(p.hasShadowEnabled() ? p.getShadowEnabled() : null, 0, path + ".shadow_enabled");
    return new CorsPolicyConfig(
        List.copyOf(origins),
        p.getAllowMethods(),
        p.getAllowHeaders(),
        p.getExposeHeaders(),
        p.getMaxAge(),
        p.hasAllowCredentials() && p.getAllowCredentials().getValue(),
        p.hasAllowPrivateNetworkAccess() && p.getAllowPrivateNetworkAccess().getValue(),
        !p.hasForwardNotMatchingPreflights() || p.getForwardNotMatchingPreflights().getValue(),
        enabled[0],
        enabled[1],
        shadow[0],
        shadow[1]);
  }

  /** Returns {numerator, denominator}; an absent fraction is all ({@code dflt} 1) or nothing (0). */
  private static long[] fraction(RuntimeFractionalPercent f, int dflt, String path) {
    if (f == null) {
      return new long[] {dflt, 1};
    }
    FractionalPercent d = f.getDefaultValue();
    long denominator = switch (d.getDenominator()) {
      case HUNDRED -> 100;
      case TEN_THOUSAND -> 10_000;
      case MILLION -> 1_000_000;
      default -> throw new ConfigException(path + ".default_value.denominator", "unknown denominator");
    };
    return new long[] {Math.min(d.getNumerator(), denominator), denominator};
  }

  /** Returns whether the policy is enforced for this request ({@code filter_enabled}). */
  boolean enabled() {
    return sample(enabledNumerator, enabledDenominator);
  }

  /** Returns whether the policy is evaluated in shadow mode for this request ({@code shadow_enabled}). */
  boolean shadowEnabled() {
    return sample(shadowNumerator, shadowDenominator);
  }

  private static boolean sample(long numerator, long denominator) {
    if (numerator >= denominator) {
      return true;
    }
    return numerator > 0 && ThreadLocalRandom.current().nextLong(denominator) < numerator;
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
