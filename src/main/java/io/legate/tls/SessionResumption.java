package io.legate.tls;

import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.TlsSessionTicketKeys;
import io.legate.config.ConfigException;
import io.netty.handler.ssl.OpenSslServerSessionContext;
import io.netty.handler.ssl.OpenSslSessionTicketKey;
import io.netty.handler.ssl.ReferenceCountedOpenSslContext;
import io.netty.handler.ssl.ReferenceCountedOpenSslEngine;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.internal.tcnative.SSL;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.List;
import javax.net.ssl.SSLEngine;

/**
 * Downstream TLS session resumption as Envoy configures it: stateless (session tickets, with the
 * keys of {@code session_ticket_keys}, else random keys made once per TLS context — unlike
 * BoringSSL's own, they are not rotated while the listener lives) and stateful (the server's
 * session cache) unless disabled, the session lifetime, and a session ID context that ties a session
 * to the certificates and validation settings that admitted it, so a session cannot be resumed
 * where a stricter validation context applies.
 *
 * <p>An Envoy key is 80 bytes (16 name, 32 HMAC secret, 32 AES secret); BoringSSL's built-in
 * ticket format takes 16-byte secrets, so the first half of each secret is used. Tickets are
 * therefore shared between Legate instances with the same keys, not with Envoy instances.
 */
record SessionResumption(
    List<OpenSslSessionTicketKey> keys, boolean stateless, boolean stateful, long timeoutSeconds) {
  /** Envoy's key length. */
  static final int KEY_LENGTH = 80;

  /** Reads the session settings of {@code ctx} (at {@code path}). */
  static SessionResumption of(DownstreamTlsContext ctx, String path) {
    if (ctx.hasSessionTicketKeysSdsSecretConfig()) {
      throw new ConfigException(
          path + ".session_ticket_keys_sds_secret_config", "session ticket keys from SDS are not supported yet: set session_ticket_keys");
    }
    List<OpenSslSessionTicketKey> keys = List.of();
    if (ctx.hasSessionTicketKeys()) {
      keys = keys(ctx.getSessionTicketKeys(), path + ".session_ticket_keys");
    }
    boolean stateless = !ctx.getDisableStatelessSessionResumption();
    long timeout = -1;
    if (ctx.hasSessionTimeout()) {
      timeout = ctx.getSessionTimeout().getSeconds();
      if (timeout < 0 || timeout > 0xffffffffL) {
        throw new ConfigException(path + ".session_timeout", "value must be inside range [0s, 4294967295s]");
      }
    }
    if (TlsCommon.provider() != io.netty.handler.ssl.SslProvider.OPENSSL) {
      // The JDK provider sets tickets process-wide (jdk.tls.server.enableSessionTicketExtension).
      if (!keys.isEmpty()) {
        throw new ConfigException(path + ".session_ticket_keys", "session ticket keys need BoringSSL (netty-tcnative), which did not load");
      }
      if (!stateless) {
        throw new ConfigException(
            path + ".disable_stateless_session_resumption", "disabling session tickets needs BoringSSL (netty-tcnative), which did not load");
      }
    }
    if (stateless && keys.isEmpty()) {
      // As BoringSSL's own keys: random, but one set for the whole context so that a rotated
      // certificate does not end resumption; they live as long as the listener's context.
      java.security.SecureRandom r = new java.security.SecureRandom();
      byte[] name = new byte[16], hmac = new byte[16], aes = new byte[16];
      r.nextBytes(name);
      r.nextBytes(hmac);
      r.nextBytes(aes);
      keys = List.of(new OpenSslSessionTicketKey(name, hmac, aes));
    }
    return new SessionResumption(keys, stateless, !ctx.getDisableStatefulSessionResumption(), timeout);
  }

  private static List<OpenSslSessionTicketKey> keys(TlsSessionTicketKeys k, String path) {
    if (k.getKeysCount() == 0) {
      throw new ConfigException(path + ".keys", "value must contain at least 1 item(s)");
    }
    OpenSslSessionTicketKey[] out = new OpenSslSessionTicketKey[k.getKeysCount()];
    for (int i = 0; i < out.length; i++) {
      byte[] b = DataSources.read(k.getKeys(i), path + ".keys[" + i + "]");
      if (b.length != KEY_LENGTH) {
        throw new ConfigException(
            path + ".keys[" + i + "]", "Incorrect TLS session ticket key length. Length " + b.length + ", expected length " + KEY_LENGTH + ".");
      }
      out[i] =
          new OpenSslSessionTicketKey(
              Arrays.copyOfRange(b, 0, 16), Arrays.copyOfRange(b, 16, 32), Arrays.copyOfRange(b, 48, 64));
    }
    return List.of(out);
  }

  /**
   * Applies the settings to a new server context; {@code sessionIdContext} is hashed into the
   * session ID context (what a resumed session must have been admitted under).
   */
  void apply(SslContext c, byte[] sessionIdContext) {
    if (c instanceof ReferenceCountedOpenSslContext o && o.sessionContext() instanceof OpenSslServerSessionContext sc) {
      try {
        sc.setSessionIdContext(Arrays.copyOf(MessageDigest.getInstance("SHA-256").digest(sessionIdContext), 32));
      } catch (NoSuchAlgorithmException e) {
        throw new IllegalStateException(e);
      }
      sc.setSessionCacheEnabled(stateful);
      if (timeoutSeconds >= 0) {
        sc.setSessionTimeout((int) Math.min(timeoutSeconds, Integer.MAX_VALUE));
      }
      if (stateless) {
        sc.setTicketKeys(keys.toArray(new OpenSslSessionTicketKey[0])); // also turns tickets on
      }
      return;
    }
    if (timeoutSeconds >= 0) {
      c.sessionContext().setSessionTimeout((int) Math.min(timeoutSeconds, Integer.MAX_VALUE));
    }
  }

  /**
   * Prepares a new server handler: with stateless resumption disabled no ticket is issued on the
   * connection (Netty turns tickets on per connection whenever TLS 1.3 is enabled; BoringSSL then
   * resumes TLS 1.3 by ticket only).
   */
  SslHandler configure(SslHandler handler) {
    if (!stateless && handler.engine() instanceof ReferenceCountedOpenSslEngine e) {
      long ssl = e.sslPointer();
      if (ssl != 0) {
        SSL.setOptions(ssl, SSL.SSL_OP_NO_TICKET);
      }
    }
    return handler;
  }

  /** Returns whether the handshake on {@code engine} resumed a session (BoringSSL only). */
  static boolean reused(SSLEngine engine) {
    if (engine instanceof ReferenceCountedOpenSslEngine e) {
      long ssl = e.sslPointer();
      return ssl != 0 && SSL.isSessionReused(ssl);
    }
    return false;
  }
}
