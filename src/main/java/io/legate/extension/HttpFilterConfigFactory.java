package io.legate.extension;

import com.google.protobuf.Any;
import com.google.protobuf.Message;
import io.legate.config.ConfigException;
import io.legate.config.ConfigLoader;
import io.legate.http.filter.HttpFilter;

/**
 * Creates an HTTP filter from its typed config. Implementations are found with
 * {@link java.util.ServiceLoader} (list them in
 * {@code META-INF/services/io.legate.extension.HttpFilterConfigFactory}), keyed by the Envoy
 * extension name and the type URL of the config proto, so a jar on the class path adds a filter.
 *
 * @param <T> the config proto
 */
public abstract class HttpFilterConfigFactory<T extends Message> {
  private final String name;
  private final Class<T> configType;
  private final T defaultConfig;

  protected HttpFilterConfigFactory(String name, Class<T> configType, T defaultConfig) {
    this.name = name;
    this.configType = configType;
    this.defaultConfig = defaultConfig;
  }

  /** Returns the well-known name, for example {@code envoy.filters.http.router}. */
  public final String name() {
    return name;
  }

  /** Returns the config's type URL ({@code type.googleapis.com/<full proto name>}). */
  public final String typeUrl() {
    return "type.googleapis.com/" + defaultConfig.getDescriptorForType().getFullName();
  }

  /** Unpacks the config (an empty or absent Any means the default config) and builds the filter. */
  public final HttpFilter.Factory create(Any typedConfig, FactoryContext context, String path) {
    T config =
        typedConfig == null || typedConfig.getTypeUrl().isEmpty()
            ? defaultConfig
            : ConfigLoader.unpack(typedConfig, configType, path + ".typed_config");
    return createFilterFactory(config, context, path);
  }

  /**
   * Returns the type URL of this filter's per-route config ({@code typed_per_filter_config}): by
   * default the filter's own config type, as for Envoy's fault and local rate limit filters.
   */
  public final String routeConfigTypeUrl() {
    return "type.googleapis.com/" + routeConfigPrototype().getDescriptorForType().getFullName();
  }

  /**
   * Returns the default instance of the per-route config proto. Override when the per-route type
   * differs from the filter's config type (as Envoy's {@code *PerRoute} messages).
   */
  protected Message routeConfigPrototype() {
    return defaultConfig;
  }

  /**
   * Unpacks a per-route config (from {@code typed_per_filter_config} on a route, virtual host or
   * route configuration) and parses it once, at route-table build time. Filters find the result
   * with {@code callbacks.route().perFilterConfig(name)}.
   *
   * @param path the field path of the Any, for errors
   */
  public final Object createRouteSpecificConfig(Any typedConfig, FactoryContext context, String path) {
    Message prototype = routeConfigPrototype();
    Message config = ConfigLoader.unpack(typedConfig, prototype.getClass(), path);
    return createRouteSpecificConfig(config, context, path);
  }

  /**
   * Parses a per-route config into an immutable object. The default refuses: a filter that accepts
   * per-route configs overrides it.
   *
   * @param config an instance of {@link #routeConfigPrototype()}'s type
   */
  protected Object createRouteSpecificConfig(Message config, FactoryContext context, String path) {
    throw new ConfigException(path, "per-route config is not supported for filter " + name);
  }

  /**
   * Validates the config and returns a factory of per-stream instances. Runs once, at config time;
   * throw {@link io.legate.config.ConfigException} with {@code path} for anything wrong.
   */
  protected abstract HttpFilter.Factory createFilterFactory(T config, FactoryContext context, String path);
}
