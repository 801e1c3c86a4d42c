package io.legate.tls;

import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.CommonTlsContext;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext;
import io.legate.config.ConfigException;
import io.legate.stats.StatsStore;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import java.net.InetSocketAddress;
import java.util.List;
import javax.net.ssl.SSLException;

/**
 * A cluster's {@code UpstreamTlsContext}: the Netty client context, the SNI to send, ALPN, and the
 * validator. Without a validation context the server certificate is not verified, as in Envoy.
 */
public final class ClientTlsContext {
  private final SslContext context;
  private final SslContext h1Context;
  private final SslContext h2Context;
  private final String sni;
  private final List<String> alpn;
  private final TlsStats stats;

  private ClientTlsContext(SslContext context, SslContext h1Context, SslContext h2Context, String sni, List<String> alpn, TlsStats stats) {
    this.context = context;
    this.h1Context = h1Context;
    this.h2Context = h2Context;
    this.sni = sni;
    this.alpn = alpn;
    this.stats = stats;
  }

  /** Builds the context from {@code ctx} at {@code path}; stats go to {@code <scope>ssl.}. */
  public static ClientTlsContext build(UpstreamTlsContext ctx, String path, StatsStore.Scope scope) {
    TlsStats stats = new TlsStats(scope);
    CommonTlsContext c = ctx.getCommonTlsContext();
    String cp = path + ".common_tls_context";
    TlsCommon.refuseUnsupported(c, cp);
    if (ctx.getAutoHostSni()) {
      throw new ConfigException(path + ".auto_host_sni", "auto_host_sni is not supported yet: set sni");
    }
    if (ctx.getAutoSniSanValidation()) {
      throw new ConfigException(path + ".auto_sni_san_validation", "auto_sni_san_validation is not supported yet");
    }
    if (ctx.getAllowRenegotiation()) {
      throw new ConfigException(path + ".allow_renegotiation", "renegotiation is not supported");
    }
    if (c.getTlsCertificatesCount() > 1) {
      throw new ConfigException(cp + ".tls_certificates", "Multiple TLS certificates are not supported for client contexts");
    }
    List<String> alpn = List.copyOf(c.getAlpnProtocolsList());
    TlsCommon.Cert cert =
        c.getTlsCertificatesCount() == 1 ? TlsCommon.certificate(c.getTlsCertificates(0), cp + ".tls_certificates[0]") : null;
    CertValidator validator =
        c.hasValidationContext() ? CertValidator.build(c.getValidationContext(), cp + ".validation_context", stats) : null;
    String sni = ctx.getSni().isEmpty() ? null : ctx.getSni();
    if (!alpn.isEmpty()) {
      SslContext only = context(c, cp, cert, validator, alpn);
      return new ClientTlsContext(only, only, only, sni, alpn, stats);
    }
    // As Envoy without alpn_protocols: the pool's protocol is offered (h2 or http/1.1).
    return new ClientTlsContext(
        null, context(c, cp, cert, validator, List.of("http/1.1")), context(c, cp, cert, validator, List.of("h2")), sni, alpn, stats);
  }

  private static SslContext context(
      CommonTlsContext c, String cp, TlsCommon.Cert cert, CertValidator validator, List<String> alpn) {
    SslContextBuilder b = SslContextBuilder.forClient();
    if (cert != null) {
      b.keyManager(cert.key(), cert.chain());
    }
    TlsCommon.apply(b, c.getTlsParams(), alpn, false, cp);
    b.endpointIdentificationAlgorithm(null); // Envoy checks names only through the SAN matchers
    b.trustManager(validator != null ? validator.trustManagerFactory() : InsecureTrustManagerFactory.INSTANCE);
    try {
      return b.build();
    } catch (SSLException | RuntimeException e) {
      throw new ConfigException(cp, "failed to create TLS context: " + e.getMessage());
    }
  }

  /** Returns the SNI sent, or null. */
  public String sni() {
    return sni;
  }

  /** Returns the ALPN protocols offered. */
  public List<String> alpn() {
    return alpn;
  }

  /** Returns the stats ({@code cluster.<name>.ssl.*}). */
  public TlsStats stats() {
    return stats;
  }

  /** Returns a new client SslHandler for a connection to {@code address} made by an HTTP/2 pool or not. */
  public SslHandler newHandler(ByteBufAllocator alloc, InetSocketAddress address, boolean h2) {
    SslContext c = h2 ? h2Context : h1Context;
    return sni != null ? c.newHandler(alloc, sni, address.getPort()) : c.newHandler(alloc);
  }
}
