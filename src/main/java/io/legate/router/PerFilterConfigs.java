package io.legate.router;

import java.util.HashMap;
import java.util.Map;

/**
 * The per-filter configs that apply to one route, merged from the route configuration, the virtual
 * host and the route (most specific wins, each of config and disabled resolved on its own, as
 * Envoy's {@code mostSpecificPerFilterConfig} and {@code filterDisabled}). Immutable.
 */
final class PerFilterConfigs {
  static final PerFilterConfigs EMPTY = new PerFilterConfigs(Map.of(), Map.of());

  private final Map<String, Object> configs;
  private final Map<String, Boolean> disabled;

  PerFilterConfigs(Map<String, Object> configs, Map<String, Boolean> disabled) {
    this.configs = Map.copyOf(configs);
    this.disabled = Map.copyOf(disabled);
  }

  Object config(String name) {
    return configs.get(name);
  }

  Boolean disabled(String name) {
    return disabled.get(name);
  }

  boolean hasDisabled() {
    return !disabled.isEmpty();
  }

  /** Returns these configs with {@code config} for filter {@code name}. */
  PerFilterConfigs with(String name, Object config) {
    Map<String, Object> c = new HashMap<>(configs);
    c.put(name, config);
    return new PerFilterConfigs(c, disabled);
  }

  /** Returns these configs overridden by the more specific {@code over}. */
  PerFilterConfigs overriddenBy(PerFilterConfigs over) {
    if (over.configs.isEmpty() && over.disabled.isEmpty()) {
      return this;
    }
    if (configs.isEmpty() && disabled.isEmpty()) {
      return over;
    }
    Map<String, Object> c = new HashMap<>(configs);
    c.putAll(over.configs);
    Map<String, Boolean> d = new HashMap<>(disabled);
    d.putAll(over.disabled);
    return new PerFilterConfigs(c, d);
  }
}
