package io.legate.http.filters.csrf;

import io.envoyproxy.envoy.config.core.v3.RuntimeFractionalPercent;
import io.envoyproxy.envoy.extensions.filters.http.csrf.v3.CsrfPolicy;
import io.envoyproxy.envoy.type.v3.FractionalPercent;
import io.legate.config.ConfigException;
import io.legate.rbac.StringMatch;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * A compiled {@code CsrfPolicy}: the filter's own, or one from a route's, virtual host's or route
 * configuration's {@code typed_per_filter_config}. Runtime keys are not consulted: the default
 * values apply. Immutable.
 */
record CsrfPolicyConfig(
    long enabledNumerator,
    long enabledDenominator,
    long shadowNumerator,
    long shadowDenominator,
    List<StringMatch> additionalOrigins) {

  /** Parses a policy; {@code path} is the field path of the CsrfPolicy message. */
  static CsrfPolicyConfig build(CsrfPolicy p, String path) {
    if (!p.hasFilterEnabled()) {
      throw new ConfigException(path + ".filter_enabled", "is required");
    }
    long[] enabled = fraction(p.getFilterEnabled(), path + ".filter_enabled");
    long[] shadow = p.hasShadowEnabled() ? fraction(p.getShadowEnabled(), path + ".shadow_enabled") : new long[] {0, 1};
    List<StringMatch> origins = new ArrayList<>();
    for (int i = 0; i < p.getAdditionalOriginsCount(); i++) {
      origins.add(StringMatch.build(p.getAdditionalOrigins(i), path + ".additional_origins[" + i + "]"));
    }
    return new CsrfPolicyConfig(enabled[0], enabled[1], shadow[0], shadow[1], List.copyOf(origins));
  }

  private static long[] fraction(RuntimeFractionalPercent f, String path) {
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

  /** Returns whether one of {@code additional_origins} matches the source origin. */
  boolean additionalOriginAllowed(String sourceOrigin) {
    for (StringMatch m : additionalOrigins) {
      if (m.matches(sourceOrigin)) {
        return true;
      }
    }
    return false;
  }
}
