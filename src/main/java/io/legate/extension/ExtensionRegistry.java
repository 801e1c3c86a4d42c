package io.legate.extension;

import io.legate.config.ConfigException;
import java.util.HashMap;
import java.util.Map;
import java.util.ServiceLoader;

/** The extensions on the class path, found once with {@link ServiceLoader}. */
public final class ExtensionRegistry {
  private static final ExtensionRegistry INSTANCE = new ExtensionRegistry();

  private final Map<String, HttpFilterConfigFactory<?>> httpByName = new HashMap<>();
  private final Map<String, HttpFilterConfigFactory<?>> httpByType = new HashMap<>();
  private final Map<String, HttpFilterConfigFactory<?>> httpByRouteType = new HashMap<>();

  @SuppressWarnings("rawtypes")
  private ExtensionRegistry() {
    for (HttpFilterConfigFactory f : ServiceLoader.load(HttpFilterConfigFactory.class)) {
      httpByName.put(f.name(), f);
      httpByType.put(f.typeUrl(), f);
      httpByRouteType.put(f.routeConfigTypeUrl(), f);
    }
  }

  public static ExtensionRegistry get() {
    return INSTANCE;
  }

  /**
   * Finds the HTTP filter factory for a config entry: by the type URL of its typed_config when there
   * is one (as Envoy), else by name.
   */
  public HttpFilterConfigFactory<?> httpFilter(String name, String typeUrl, String path) {
    if (typeUrl != null && !typeUrl.isEmpty()) {
      HttpFilterConfigFactory<?> f = httpByType.get(typeUrl);
      if (f == null) {
        throw new ConfigException(
            path + ".typed_config",
            "unsupported HTTP filter type '" + typeUrl + "' (filter '" + name + "')");
      }
      return f;
    }
    HttpFilterConfigFactory<?> f = httpByName.get(name);
    if (f == null) {
      throw new ConfigException(path + ".name", "unsupported HTTP filter '" + name + "'");
    }
    return f;
  }

  /**
   * Returns the HTTP filter factory whose per-route config has this type URL, or null. Per-route
   * configs ({@code typed_per_filter_config}) are matched by type URL, as Envoy does.
   */
  public HttpFilterConfigFactory<?> httpFilterForRouteConfig(String typeUrl) {
    return httpByRouteType.get(typeUrl);
  }

  /** Returns the names of the HTTP filters available. */
  public java.util.Set<String> httpFilterNames() {
    return new java.util.TreeSet<>(httpByName.keySet());
  }
}
