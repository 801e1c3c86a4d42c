package io.legate.extension;

import com.google.protobuf.Any;
import com.google.protobuf.Message;
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
   * Validates the config and returns a factory of per-stream instances. Runs once, at config time;
   * throw {@link io.legate.config.ConfigException} with {@code path} for anything wrong.
   */
  protected abstract HttpFilter.Factory createFilterFactory(T config, FactoryContext context, String path);
}
