package io.legate.tls;

import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.CommonTlsContext;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext;
import io.legate.config.ConfigException;
import io.legate.stats.StatsStore;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.ChannelHandler;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SniHandler;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import io.netty.util.Mapping;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import javax.net.ssl.SSLException;

/**
 * A filter chain's {@code DownstreamTlsContext}: one Netty server context per certificate, the
 * certificate chosen by SNI (exact name, then wildcard, else the first), ALPN, client certificates.
 */
public final class ServerTlsContext {
  private final List<SslContext> contexts;
  private final List<List<String>> names;
  private final List<String> alpn;
  private final boolean requireSni;
  private final boolean requireClientCertificate;
  private final boolean requestsClientCertificate;
  private final TlsStats stats;

  private ServerTlsContext(
      List<SslContext> contexts,
      List<List<String>> names,
      List<String> alpn,
      boolean requireSni,
      boolean requireClientCertificate,
      boolean requestsClientCertificate,
      TlsStats stats) {
    this.contexts = contexts;
    this.names = names;
    this.alpn = alpn;
    this.requireSni = requireSni;
    this.requireClientCertificate = requireClientCertificate;
    this.requestsClientCertificate = requestsClientCertificate;
    this.stats = stats;
  }

  /**
   * Builds the context from {@code ctx} at {@code path} (the typed_config's path), counting TLS stats
   * under {@code scope} (the listener's, as Envoy's {@code listener.<address>.ssl.*}).
   */
  public static ServerTlsContext build(DownstreamTlsContext ctx, String path, StatsStore.Scope scope, TlsStats stats) {
    CommonTlsContext c = ctx.getCommonTlsContext();
    String cp = path + ".common_tls_context";
    TlsCommon.refuseUnsupported(c, cp);
    if (ctx.hasSessionTicketKeys() || ctx.hasSessionTicketKeysSdsSecretConfig()) {
      throw new ConfigException(path + ".session_ticket_keys", "session ticket keys are not supported yet");
    }
    if (ctx.hasFullScanCertsOnSniMismatch() && ctx.getFullScanCertsOnSniMismatch().getValue()) {
      throw new ConfigException(path + ".full_scan_certs_on_sni_mismatch", "full_scan_certs_on_sni_mismatch is not supported");
    }
    if (c.getTlsCertificatesCount() == 0) {
      throw new ConfigException(cp + ".tls_certificates", "No TLS certificates found for server context");
    }
    boolean requireClient = ctx.hasRequireClientCertificate() && ctx.getRequireClientCertificate().getValue();
    CertValidator validator =
        c.hasValidationContext() ? CertValidator.build(c.getValidationContext(), cp + ".validation_context", stats) : null;
    // As Envoy: without a validation context no client certificate is requested, required or not.
    List<String> alpn = List.copyOf(c.getAlpnProtocolsList());
    List<SslContext> contexts = new ArrayList<>();
    List<List<String>> names = new ArrayList<>();
    for (int i = 0; i < c.getTlsCertificatesCount(); i++) {
      String tp = cp + ".tls_certificates[" + i + "]";
      TlsCommon.Cert cert = TlsCommon.certificate(c.getTlsCertificates(i), tp);
      SslContextBuilder b = SslContextBuilder.forServer(cert.key(), cert.chain());
      TlsCommon.apply(b, c.getTlsParams(), alpn, true, cp);
      if (validator != null) {
        b.trustManager(validator.trustManagerFactory());
        b.clientAuth(requireClient ? ClientAuth.REQUIRE : ClientAuth.OPTIONAL);
      } else {
        b.trustManager(InsecureTrustManagerFactory.INSTANCE);
        b.clientAuth(ClientAuth.NONE);
      }
      try {
        contexts.add(b.build());
      } catch (SSLException | RuntimeException e) {
        throw new ConfigException(tp, "failed to create TLS context: " + e.getMessage());
      }
      names.add(cert.dnsNames());
    }
    return new ServerTlsContext(
        List.copyOf(contexts),
        List.copyOf(names),
        alpn,
        ctx.hasRequireSni() && ctx.getRequireSni().getValue(),
        requireClient,
        validator != null,
        stats);
  }

  /** Returns the ALPN protocols offered ({@code common_tls_context.alpn_protocols}). */
  public List<String> alpn() {
    return alpn;
  }

  /** Returns whether a client certificate is required. */
  public boolean requireClientCertificate() {
    return requireClientCertificate;
  }

  /** Returns whether a client certificate is requested (a validation context exists). */
  public boolean requestsClientCertificate() {
    return requestsClientCertificate;
  }

  /** Returns the stats. */
  public TlsStats stats() {
    return stats;
  }

  /** Returns the context for SNI {@code sni} (null when none was sent), or null when require_sni refuses it. */
  public SslContext select(String sni) {
    if (sni == null || sni.isEmpty()) {
      return requireSni ? null : contexts.get(0);
    }
    String name = sni.toLowerCase(Locale.ROOT);
    for (int i = 0; i < contexts.size(); i++) {
      if (names.get(i).contains(name)) {
        return contexts.get(i);
      }
    }
    int dot = name.indexOf('.');
    if (dot > 0) {
      String wildcard = "*" + name.substring(dot);
      for (int i = 0; i < contexts.size(); i++) {
        if (names.get(i).contains(wildcard)) {
          return contexts.get(i);
        }
      }
    }
    return contexts.get(0);
  }

  /**
   * Returns the handler that terminates TLS on a new connection: an SslHandler when the SNI is already
   * known (from tls_inspector) or there is only one certificate, else Netty's SniHandler that reads
   * the ClientHello to pick the certificate. Returns null when require_sni refuses the connection.
   */
  public ChannelHandler newHandler(ByteBufAllocator alloc, String sni, boolean sniKnown) {
    if (sniKnown || (contexts.size() == 1 && !requireSni)) {
      SslContext c = select(sni);
      return c == null ? null : c.newHandler(alloc);
    }
    Mapping<String, SslContext> mapping = this::select;
    return new SniHandler(mapping);
  }
}
