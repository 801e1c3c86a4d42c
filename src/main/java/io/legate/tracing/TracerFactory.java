package io.legate.tracing;

import com.google.protobuf.Any;
import io.legate.extension.FactoryContext;

/**
 * A tracing provider extension ({@code tracing.provider} of the HTTP connection manager), found
 * with {@link java.util.ServiceLoader} and keyed by the type URL of its config (or by name).
 * Register implementations in {@code META-INF/services/io.legate.tracing.TracerFactory}.
 */
public interface TracerFactory {
  /** Returns the provider's well-known name, e.g. {@code envoy.tracers.zipkin}. */
  String name();

  /** Returns the type URL of the config it accepts. */
  String typeUrl();

  /**
   * Validates the provider's config and builds its driver, once per distinct config.
   *
   * @param typedConfig the provider's {@code typed_config}
   * @param path the field path of the provider, for errors
   * @throws io.legate.config.ConfigException naming the field
   */
  TracerDriver create(Any typedConfig, FactoryContext context, String path);

}
