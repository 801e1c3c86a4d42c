package io.legate.network.rbac;

import io.envoyproxy.envoy.extensions.filters.network.rbac.v3.RBAC;
import io.legate.config.ConfigException;
import io.legate.extension.FactoryContext;
import io.legate.extension.NetworkFilterConfigFactory;
import io.legate.rbac.RbacEngine;
import io.legate.rbac.RbacStats;

/**
 * {@code envoy.filters.network.rbac}: allows or closes each downstream connection with Envoy's RBAC
 * policies on its first bytes (source and destination address, SNI, TLS peer certificate), with
 * shadow rules that are only counted. Stats {@code <stat_prefix>.rbac.allowed|denied|shadow_allowed|shadow_denied}.
 */
public final class NetworkRbacFilterFactory extends NetworkFilterConfigFactory<RBAC> {
  public NetworkRbacFilterFactory() {
    super("envoy.filters.network.rbac", RBAC.class, RBAC.getDefaultInstance());
  }

  @Override
  protected Factory createFilterFactory(RBAC config, FactoryContext context, String path) {
    if (config.getStatPrefix().isEmpty()) {
      throw new ConfigException(path + ".stat_prefix", "must not be empty");
    }
    if (config.hasMatcher()) {
      throw new ConfigException(path + ".matcher", "RBAC matchers are not supported; use rules");
    }
    if (config.hasShadowMatcher()) {
      throw new ConfigException(path + ".shadow_matcher", "RBAC matchers are not supported; use shadow_rules");
    }
    if (config.hasDelayDeny()) {
      throw new ConfigException(path + ".delay_deny", "delay_deny is not supported");
    }
    RbacEngine engine = config.hasRules() ? RbacEngine.build(config.getRules(), path + ".rules") : null;
    RbacEngine shadow =
        config.hasShadowRules() ? RbacEngine.build(config.getShadowRules(), path + ".shadow_rules") : null;
    RbacStats stats =
        new RbacStats(context.stats(), RbacStats.join(config.getStatPrefix()), "", config.getShadowRulesStatPrefix());
    return () -> new NetworkRbacHandler(engine, shadow, stats);
  }
}
