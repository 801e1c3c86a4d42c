package io.legate.network;

import io.legate.http.StreamInfo;
import io.netty.channel.Channel;
import io.netty.util.AttributeKey;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What a downstream connection carries from its listener to its filters: its process-wide id
 * (Envoy's {@code CONNECTION_ID}, counted from 0 in accept order) and, when its listener logs
 * connections, the connection-level {@link StreamInfo} that the listener's access logs read at close
 * and that a TCP proxy on the connection fills in (upstream host, bytes, response flags), as Envoy's
 * connection stream info is shared by the listener and its network filters.
 */
public final class DownstreamConnections {
  private static final AtomicLong NEXT_ID = new AtomicLong();
  private static final AttributeKey<Long> ID = AttributeKey.valueOf("legate.connection_id");
  private static final AttributeKey<StreamInfo> INFO = AttributeKey.valueOf("legate.connection_stream_info");
  private static final AttributeKey<String> SNI = AttributeKey.valueOf("legate.requested_server_name");

  private DownstreamConnections() {}

  /** Gives an accepted connection the next id and returns it. */
  public static long assignId(Channel ch) {
    long id = NEXT_ID.getAndIncrement();
    ch.attr(ID).set(id);
    return id;
  }

  /** Returns the connection's id, or -1 when it has none (it was not accepted by a listener). */
  public static long id(Channel ch) {
    Long id = ch.attr(ID).get();
    return id == null ? -1 : id;
  }

  /** Attaches the connection-level stream info (its listener logs connections). */
  public static void setStreamInfo(Channel ch, StreamInfo info) {
    ch.attr(INFO).set(info);
  }

  /** Returns the connection-level stream info, or null when the listener does not log connections. */
  public static StreamInfo streamInfo(Channel ch) {
    return ch.attr(INFO).get();
  }

  /** Records the SNI the TLS inspector read from the ClientHello (null or empty: none). */
  public static void setRequestedServerName(Channel ch, String serverName) {
    if (serverName != null && !serverName.isEmpty()) {
      ch.attr(SNI).set(serverName);
    }
  }

  /**
   * Returns the requested server name: the TLS inspector's, else the one in the terminated TLS
   * session, else null.
   */
  public static String requestedServerName(Channel ch) {
    String s = ch.attr(SNI).get();
    if (s != null) {
      return s;
    }
    if (ch.pipeline().get(io.netty.handler.ssl.SslHandler.class) == null) {
      return null;
    }
    String sni = io.legate.rbac.PeerIdentity.of(ch).serverName();
    return sni == null || sni.isEmpty() ? null : sni;
  }
}
