package io.legate.network;

import io.envoyproxy.envoy.config.core.v3.Address;
import io.envoyproxy.envoy.config.core.v3.SocketAddress;

/** Envoy {@code Address} protos from the {@code ip:port} strings the proxy records. */
public final class ProtoAddresses {
  private ProtoAddresses() {}

  /** Returns the {@code Address} of a socket address (its IP literal, or its host string when unresolved). */
  public static Address of(java.net.InetSocketAddress a) {
    String ip = a.getAddress() == null ? a.getHostString() : io.netty.util.NetUtil.toAddressString(a.getAddress());
    return Address.newBuilder()
        .setSocketAddress(SocketAddress.newBuilder().setAddress(ip).setPortValue(a.getPort()))
        .build();
  }

  /** Parses {@code ip:port} or {@code [v6]:port} into an {@code Address} (port 0 when absent or bad). */
  public static Address fromHostPort(String hostPort) {
    int colon = hostPort.lastIndexOf(':');
    String host = colon < 0 ? hostPort : hostPort.substring(0, colon);
    int port = 0;
    if (colon >= 0) {
      try {
        port = Integer.parseInt(hostPort.substring(colon + 1));
      } catch (NumberFormatException e) {
        host = hostPort;
      }
    }
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    }
    return Address.newBuilder()
        .setSocketAddress(SocketAddress.newBuilder().setAddress(host).setPortValue(port))
        .build();
  }
}
