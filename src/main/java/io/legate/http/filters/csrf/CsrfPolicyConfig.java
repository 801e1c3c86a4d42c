package io.legate.http.filters.csrf;

import io.envoyproxy.envoy.extensions.filters.http.csrf.v3.CsrfPolicy;
import io.legate.config.ConfigException;
import io.legate.config.Fraction;
import io.legate.rbac.StringMatch;
import java.util.ArrayList;
import java.util.List;

/**
 * A compiled {@code CsrfPolicy}: the filter's own, or one from a route's, virtual host's or route
 * configuration's {@code typed_per_filter_config}. Runtime keys are not consulted: the default
 * values apply. Immutable.
 */
record CsrfPolicyConfig(
    Fraction enabledFraction,
    Fraction shadowFraction,
    List<StringMatch> additionalOrigins) {

  /** Parses a policy; {@code path} is the field path of the CsrfPolicy message. */
  static CsrfPolicyConfig build(CsrfPolicy p, String path) {
    if (!p.hasFilterEnabled()) {
      throw new ConfigException(path + ".filter_enabled", "is required");
    }
    Fraction enabled = Fraction.ofRuntime(p.getFilterEnabled(), Fraction.ALL, path + ".filter_enabled");
    Fraction shadow =
        Fraction.ofRuntime(p.hasShadowEnabled() ? p.getShadowEnabled() : null, Fraction.NONE, path + ".shadow_enabled");
    List<StringMatch> origins = new ArrayList<>();
    for (int i = 0; i < p.getAdditionalOriginsCount(); i++) {
      origins.add(StringMatch.build(p.getAdditionalOrigins(i), path + ".additional_origins[" + i + "]"));
    }
    return new CsrfPolicyConfig(enabled, shadow, List.copyOf(origins));
  }

  /** Returns whether the policy is enforced for this request ({@code filter_enabled}). */
  boolean enabled() {
    return enabledFraction.sample();
  }

  /** Returns whether the policy is evaluated in shadow mode for this request ({@code shadow_enabled}). */
  boolean shadowEnabled() {
    return shadowFraction.sample();
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
