package io.legate.extension;

import com.google.protobuf.Any;
import com.google.protobuf.Message;
import io.legate.config.ConfigException;
import io.legate.config.ConfigLoader;
import io.netty.channel.ChannelHandler;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.TreeSet;

/**
 * Creates a non-terminal network (read) filter, such as {@code envoy.filters.network.rbac}, from its
 * typed config. Implementations are found with {@link ServiceLoader} (list them in {@code
 * META-INF/services/io.legate.extension.NetworkFilterConfigFactory}), keyed by the Envoy extension
 * name and the type URL of the config proto.
 *
 * <p>A network filter is a Netty handler added to the connection's pipeline after TLS (if any) and
 * before the chain's terminal filter (HTTP connection manager or TCP proxy), in config order. It
 * sees decrypted bytes; it lets a connection through by passing reads on (and may remove itself),
 * and rejects it by closing the channel and releasing what it holds. On a TLS chain the filters are
 * added once the handshake is done, so the peer certificate is known.
 *
 * @param <T> the config proto
 */
public abstract class NetworkFilterConfigFactory<T extends Message> {
  /** Creates the handler of each new connection. Must be thread-safe. */
  @FunctionalInterface
  public interface Factory {
    /** Returns a new handler for one connection (never a shared one unless it is {@code @Sharable}). */
    ChannelHandler newHandler();
  }

  private static final class Registry {
    static final Map<String, NetworkFilterConfigFactory<?>> BY_NAME = new HashMap<>();
    static final Map<String, NetworkFilterConfigFactory<?>> BY_TYPE = new HashMap<>();

    static {
      for (NetworkFilterConfigFactory<?> f : ServiceLoader.load(NetworkFilterConfigFactory.class)) {
        BY_NAME.put(f.name(), f);
        BY_TYPE.put(f.typeUrl(), f);
      }
    }
  }

  private final String name;
  private final Class<T> configType;
  private final T defaultConfig;

  protected NetworkFilterConfigFactory(String name, Class<T> configType, T defaultConfig) {
    this.name = name;
    this.configType = configType;
    this.defaultConfig = defaultConfig;
  }

  /**
   * Returns the factory for a listener filter chain's network filter entry: by the type URL of its
   * typed_config when there is one (as Envoy), else by name; null when there is none.
   */
  public static NetworkFilterConfigFactory<?> find(String name, String typeUrl) {
    if (typeUrl != null && !typeUrl.isEmpty()) {
      return Registry.BY_TYPE.get(typeUrl);
    }
    return Registry.BY_NAME.get(name);
  }

  /** Returns the names of the network filters available on the class path. */
  public static List<String> names() {
    return List.copyOf(new TreeSet<>(Registry.BY_NAME.keySet()));
  }

  /** Returns the well-known name, for example {@code envoy.filters.network.rbac}. */
  public final String name() {
    return name;
  }

  /** Returns the config's type URL ({@code type.googleapis.com/<full proto name>}). */
  public final String typeUrl() {
    return "type.googleapis.com/" + defaultConfig.getDescriptorForType().getFullName();
  }

  /**
   * Unpacks the config (an empty or absent Any means the default config) and builds the filter.
   *
   * @param path the field path of the filter entry ({@code ...filters[i]}), for errors
   */
  public final Factory create(Any typedConfig, FactoryContext context, String path) {
    T config =
        typedConfig == null || typedConfig.getTypeUrl().isEmpty()
            ? defaultConfig
            : ConfigLoader.unpack(typedConfig, configType, path + ".typed_config");
    return createFilterFactory(config, context, path + ".typed_config");
  }

  /**
   * Validates the config and returns a factory of per-connection handlers. Runs once, at config time;
   * throw {@link ConfigException} with {@code path} (the typed_config's path) for anything wrong.
   * {@code context.scope()} is the root of the stats.
   */
  protected abstract Factory createFilterFactory(T config, FactoryContext context, String path);
}
