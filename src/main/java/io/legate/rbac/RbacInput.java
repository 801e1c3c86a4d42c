package io.legate.rbac;

import io.netty.handler.codec.http2.Http2Headers;
import java.net.InetSocketAddress;

/**
 * What RBAC policies are matched against: a downstream connection and, for the HTTP filter, one
 * request. Implementations are cheap views (the filter itself), read on the worker only.
 */
public interface RbacInput {
  /** Returns the address of the peer of the downstream connection. */
  InetSocketAddress directRemoteAddress();

  /**
   * Returns the client address as the connection manager sees it (Envoy's downstream remote
   * address, which may come from {@code x-forwarded-for}); the direct peer by default.
   */
  default InetSocketAddress remoteAddress() {
    return directRemoteAddress();
  }

  /** Returns the local (destination) address of the downstream connection. */
  InetSocketAddress localAddress();

  /** Returns the TLS identity of the downstream connection ({@link PeerIdentity#NONE} for plaintext). */
  PeerIdentity peer();

  /** Returns the request headers, pseudo-headers included, or null for a connection-level check. */
  default Http2Headers headers() {
    return null;
  }
}
