package io.legate.rbac;

import io.netty.channel.Channel;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.Attribute;
import io.netty.util.AttributeKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import javax.net.ssl.ExtendedSSLSession;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SNIServerName;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;
import javax.security.auth.x500.X500Principal;

/**
 * The TLS facts about a downstream connection that RBAC matches: whether it is TLS, the SNI the
 * client asked for, and the peer certificate's URI SANs, DNS SANs and subject (RFC 2253, as Envoy's
 * {@code subjectPeerCertificate}). Computed once per connection and kept on the channel.
 *
 * @param tls whether the connection is TLS
 * @param serverName the requested server name (SNI), or "" when none
 * @param certificate whether the peer presented a certificate
 * @param uriSans the certificate's URI SANs
 * @param dnsSans the certificate's DNS SANs
 * @param subject the certificate's subject, or "" without a certificate
 */
public record PeerIdentity(
    boolean tls,
    String serverName,
    boolean certificate,
    List<String> uriSans,
    List<String> dnsSans,
    String subject) {
  /** A plaintext connection. */
  public static final PeerIdentity NONE = new PeerIdentity(false, "", false, List.of(), List.of(), "");

  private static final AttributeKey<PeerIdentity> KEY = AttributeKey.valueOf(PeerIdentity.class, "rbac_peer_identity");

  /**
   * Returns the identity of a downstream connection (the channel holding its SslHandler; for HTTP/2
   * the parent channel), computed on first use and cached on the channel. Call after the TLS
   * handshake.
   */
  public static PeerIdentity of(Channel connection) {
    Attribute<PeerIdentity> a = connection.attr(KEY);
    PeerIdentity p = a.get();
    if (p == null) {
      SslHandler ssl = connection.pipeline().get(SslHandler.class);
      p = ssl == null ? NONE : of(ssl.engine().getSession());
      a.set(p);
    }
    return p;
  }

  /** Returns the identity found in a TLS session. */
  public static PeerIdentity of(SSLSession session) {
    String sni = "";
    if (session instanceof ExtendedSSLSession e) {
      try {
        for (SNIServerName n : e.getRequestedServerNames()) {
          if (n instanceof SNIHostName h) {
            sni = h.getAsciiName();
          }
        }
      } catch (UnsupportedOperationException ignored) {
        // no SNI known
      }
    }
    X509Certificate leaf = null;
    try {
      Certificate[] chain = session.getPeerCertificates();
      if (chain.length > 0 && chain[0] instanceof X509Certificate x) {
        leaf = x;
      }
    } catch (SSLPeerUnverifiedException e) {
      // no client certificate
    }
    return of(sni, leaf);
  }

  /** Returns the identity of a TLS connection with this SNI ("" for none) and leaf certificate (or null). */
  public static PeerIdentity of(String serverName, X509Certificate leaf) {
    if (leaf == null) {
      return new PeerIdentity(true, serverName, false, List.of(), List.of(), "");
    }
    List<String> uris = new ArrayList<>();
    List<String> dns = new ArrayList<>();
    try {
      Collection<List<?>> sans = leaf.getSubjectAlternativeNames();
      if (sans != null) {
        for (List<?> san : sans) {
          int type = (Integer) san.get(0);
          if (type == 6) {
            uris.add((String) san.get(1));
          } else if (type == 2) {
            dns.add((String) san.get(1));
          }
        }
      }
    } catch (CertificateParsingException e) {
      // a certificate whose SANs cannot be read has none for RBAC
    }
    return new PeerIdentity(
        true, serverName, true, List.copyOf(uris), List.copyOf(dns),
        leaf.getSubjectX500Principal().getName(X500Principal.RFC2253));
  }
}
