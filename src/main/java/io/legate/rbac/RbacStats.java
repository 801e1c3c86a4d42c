package io.legate.rbac;

import io.legate.stats.Counter;
import io.legate.stats.StatsStore;

/**
 * Envoy's RBAC filter counters: {@code <prefix>rbac.<rules_stat_prefix>allowed|denied|logged|not_logged}
 * and {@code <prefix>rbac.<shadow_rules_stat_prefix>shadow_allowed|shadow_denied}.
 */
public final class RbacStats {
  public final Counter allowed;
  public final Counter denied;
  public final Counter logged;
  public final Counter notLogged;
  public final Counter shadowAllowed;
  public final Counter shadowDenied;

  /**
   * Creates the counters.
   *
   * @param prefix the filter's prefix, ending with '.' or empty ({@code http.<hcm>.} for HTTP, the
   *     network filter's {@code stat_prefix} joined with '.')
   */
  public RbacStats(StatsStore stats, String prefix, String rulesPrefix, String shadowRulesPrefix) {
    String base = prefix + "rbac.";
    allowed = stats.counter(base + rulesPrefix + "allowed");
    denied = stats.counter(base + rulesPrefix + "denied");
    logged = stats.counter(base + rulesPrefix + "logged");
    notLogged = stats.counter(base + rulesPrefix + "not_logged");
    shadowAllowed = stats.counter(base + shadowRulesPrefix + "shadow_allowed");
    shadowDenied = stats.counter(base + shadowRulesPrefix + "shadow_denied");
  }

  /** Envoy's {@code statPrefixJoin}: {@code prefix} followed by '.' unless it is empty or ends with one. */
  public static String join(String prefix) {
    return prefix.isEmpty() || prefix.endsWith(".") ? prefix : prefix + ".";
  }
}
