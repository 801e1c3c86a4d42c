package io.legate.http.filters.rbac;

import io.envoyproxy.envoy.extensions.filters.http.rbac.v3.RBAC;
import io.legate.config.ConfigException;
import io.legate.rbac.RbacEngine;

/**
 * The engines of an HTTP RBAC config (the filter's, or a route's {@code RBACPerRoute.rbac}):
 * enforced rules and shadow rules, each possibly absent. Immutable.
 *
 * @param engine the enforced rules, or null (everything allowed)
 * @param shadow the shadow rules (counted only), or null
 */
record RbacConfig(RbacEngine engine, RbacEngine shadow) {
  /** A config without rules: the filter does nothing (an empty {@code RBACPerRoute} disables it). */
  static final RbacConfig NONE = new RbacConfig(null, null);

  static RbacConfig build(RBAC p, String path) {
    if (p.hasMatcher()) {
      throw new ConfigException(path + ".matcher", "RBAC matchers are not supported; use rules");
    }
    if (p.hasShadowMatcher()) {
      throw new ConfigException(path + ".shadow_matcher", "RBAC matchers are not supported; use shadow_rules");
    }
    if (p.getTrackPerRuleStats()) {
      throw new ConfigException(path + ".track_per_rule_stats", "per-rule stats are not supported");
    }
    return new RbacConfig(
        p.hasRules() ? RbacEngine.build(p.getRules(), path + ".rules") : null,
        p.hasShadowRules() ? RbacEngine.build(p.getShadowRules(), path + ".shadow_rules") : null);
  }
}
