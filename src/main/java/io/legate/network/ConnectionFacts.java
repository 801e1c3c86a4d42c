package io.legate.network;

import io.legate.rbac.PeerIdentity;
import io.netty.channel.Channel;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.AttributeKey;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Facts about a downstream connection that access logs print: its id (Envoy's {@code
 * CONNECTION_ID}, unique in the process) and the requested server name (SNI).
 */
public final class ConnectionFacts {
  private static final AtomicLong NEXT_ID = new AtomicLong();
  private static final AttributeKey<Long> ID = AttributeKey.valueOf(ConnectionFacts.class, "connection_id");
  private static final AttributeKey<String> SNI = AttributeKey.valueOf(ConnectionFacts.class, "requested_server_name");

  private ConnectionFacts() {}

  /** Returns the connection's id, assigning the next one on first use (the listener does so on accept). */
  public static long id(Channel connection) {
    Long id = connection.attr(ID).get();
    if (id == null) {
      id = NEXT_ID.getAndIncrement();
      Long prev = connection.attr(ID).setIfAbsent(id);
      if (prev != null) {
        id = prev;
      }
    }
    return id;
  }

  /** Records the SNI the TLS inspector read from the ClientHello (null or empty: none). */
  public static void setRequestedServerName(Channel connection, String serverName) {
    if (serverName != null && !serverName.isEmpty()) {
      connection.attr(SNI).set(serverName);
    }
  }

  /**
   * Returns the requested server name: the TLS inspector's, else the one in the terminated TLS
   * session, else null.
   */
  public static String requestedServerName(Channel connection) {
    String s = connection.attr(SNI).get();
    if (s != null) {
      return s;
    }
    if (connection.pipeline().get(SslHandler.class) == null) {
      return null;
    }
    String sni = PeerIdentity.of(connection).serverName();
    return sni == null || sni.isEmpty() ? null : sni;
  }
}
