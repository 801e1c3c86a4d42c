package io.legate.tls;

import io.envoyproxy.envoy.config.core.v3.TransportSocket;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext;
import io.legate.config.ConfigException;
import io.legate.config.ConfigLoader;
import io.legate.stats.StatsStore;

/** Builds filter-chain and cluster transport sockets: TLS or raw buffer. */
public final class TransportSockets {
  public static final String TLS = "envoy.transport_sockets.tls";
  public static final String RAW_BUFFER = "envoy.transport_sockets.raw_buffer";
  private static final String PREFIX = "type.googleapis.com/";
  private static final String DOWNSTREAM = PREFIX + "envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext";
  private static final String UPSTREAM = PREFIX + "envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext";
  private static final String RAW = PREFIX + "envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer";

  private TransportSockets() {}

  /** Returns the server TLS context of a filter chain's transport socket, or null for raw_buffer. */
  public static ServerTlsContext downstream(TransportSocket ts, String path, StatsStore.Scope listenerScope, TlsStats stats) {
    return downstream(ts, path, listenerScope, stats, new SecretManager());
  }

  /** Returns the server TLS context of a filter chain's transport socket with secrets from {@code secrets}, or null for raw_buffer. */
  public static ServerTlsContext downstream(
      TransportSocket ts, String path, StatsStore.Scope listenerScope, TlsStats stats, SecretManager secrets) {
    if (isRaw(ts)) {
      return null;
    }
    String type = ts.hasTypedConfig() ? ts.getTypedConfig().getTypeUrl() : "";
    if (!type.equals(DOWNSTREAM) && !(type.isEmpty() && ts.getName().equals(TLS))
        && !type.endsWith("TypedStruct")) {
      throw unsupported(ts, path);
    }
    DownstreamTlsContext ctx =
        ts.hasTypedConfig()
            ? ConfigLoader.unpack(ts.getTypedConfig(), DownstreamTlsContext.class, path + ".typed_config")
            : DownstreamTlsContext.getDefaultInstance();
    return ServerTlsContext.build(ctx, path + ".typed_config", listenerScope, stats, secrets);
  }

  /** Returns the client TLS context of a cluster's transport socket, or null for raw_buffer. */
  public static ClientTlsContext upstream(TransportSocket ts, String path, StatsStore.Scope clusterScope) {
    return upstream(ts, path, clusterScope, new SecretManager());
  }

  /** Returns the client TLS context of a cluster's transport socket with secrets from {@code secrets}, or null for raw_buffer. */
  public static ClientTlsContext upstream(TransportSocket ts, String path, StatsStore.Scope clusterScope, SecretManager secrets) {
    if (isRaw(ts)) {
      return null;
    }
    String type = ts.hasTypedConfig() ? ts.getTypedConfig().getTypeUrl() : "";
    if (!type.equals(UPSTREAM) && !(type.isEmpty() && ts.getName().equals(TLS)) && !type.endsWith("TypedStruct")) {
      throw unsupported(ts, path);
    }
    UpstreamTlsContext ctx =
        ts.hasTypedConfig()
            ? ConfigLoader.unpack(ts.getTypedConfig(), UpstreamTlsContext.class, path + ".typed_config")
            : UpstreamTlsContext.getDefaultInstance();
    return ClientTlsContext.build(ctx, path + ".typed_config", clusterScope, secrets);
  }

  private static boolean isRaw(TransportSocket ts) {
    String type = ts.hasTypedConfig() ? ts.getTypedConfig().getTypeUrl() : "";
    return type.equals(RAW) || (type.isEmpty() && ts.getName().equals(RAW_BUFFER));
  }

  private static ConfigException unsupported(TransportSocket ts, String path) {
    String type = ts.hasTypedConfig() ? ts.getTypedConfig().getTypeUrl() : "";
    return new ConfigException(
        path,
        "unsupported transport socket '" + ts.getName() + "'" + (type.isEmpty() ? "" : " (" + type + ")")
            + "; supported: " + TLS + ", " + RAW_BUFFER);
  }
}
