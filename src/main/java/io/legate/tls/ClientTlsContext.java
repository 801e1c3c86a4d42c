package io.legate.tls;

import io.envoyproxy.envoy.admin.v3.Certificate;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.CertificateValidationContext;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.CommonTlsContext;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.TlsCertificate;
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
import java.util.concurrent.CompletableFuture;
import javax.net.ssl.SSLException;

/**
 * A cluster's {@code UpstreamTlsContext}: the Netty client context, the SNI to send, ALPN, and the
 * validator. Without a validation context the server certificate is not verified, as in Envoy.
 */
public final class ClientTlsContext implements SecretProvider.Dependent, SecretManager.Certified {
  /** The Netty contexts of one version of the secrets and what /certs shows. */
  private record Snapshot(SslContext h1Context, SslContext h2Context, Certificate certs) {}

  private final CommonTlsContext common;
  private final String cp;
  private final TlsSources sources;
  private final String sni;
  private final List<String> alpn;
  private final TlsStats stats;
  private volatile Snapshot snapshot;
  private volatile boolean autoSanValidation;

  private ClientTlsContext(CommonTlsContext common, String cp, TlsSources sources, String sni, List<String> alpn, TlsStats stats) {
    this.common = common;
    this.cp = cp;
    this.sources = sources;
    this.sni = sni;
    this.alpn = alpn;
    this.stats = stats;
  }

  /** Builds the context from {@code ctx} at {@code path}; stats go to {@code <scope>ssl.}. Secrets by name are refused. */
  public static ClientTlsContext build(UpstreamTlsContext ctx, String path, StatsStore.Scope scope) {
    return build(ctx, path, scope, new SecretManager());
  }

  /**
   * Builds the context from {@code ctx} at {@code path} with secrets by name from {@code secrets};
   * stats go to {@code <scope>ssl.}. Until its secrets arrive the context is not
   * {@linkplain #ready() ready} and connections fail; a new version of a secret is used by new
   * connections.
   */
  public static ClientTlsContext build(UpstreamTlsContext ctx, String path, StatsStore.Scope scope, SecretManager secrets) {
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
    TlsSources sources = TlsSources.of(c, cp, secrets);
    if (sources.certificateCount() > 1) {
      throw new ConfigException(cp + ".tls_certificates", "Multiple TLS certificates are not supported for client contexts");
    }
    ClientTlsContext t =
        new ClientTlsContext(c, cp, sources, ctx.getSni().isEmpty() ? null : ctx.getSni(), List.copyOf(c.getAlpnProtocolsList()), stats);
    sources.register(t);
    t.snapshot = t.buildSnapshot();
    secrets.track(t);
    return t;
  }

  private Snapshot buildSnapshot() {
    List<TlsSources.Resolved<TlsCertificate>> certs = sources.certificates();
    TlsSources.Resolved<CertificateValidationContext> v = sources.validation();
    if (certs == null || v == null) {
      return null;
    }
    long now = System.currentTimeMillis();
    Certificate.Builder info = Certificate.newBuilder();
    TlsCommon.Cert cert = certs.isEmpty() ? null : TlsCommon.certificate(certs.get(0).value(), certs.get(0).path());
    if (cert != null) {
      info.addCertChain(SecretManager.details(cert.chain().get(0), certs.get(0).value().getCertificateChain(), now));
    }
    CertValidator validator =
        v.value() != null ? CertValidator.build(v.value(), v.path(), stats, () -> autoSanValidation) : null;
    if (validator != null && !validator.trustedCa().isEmpty()) {
      info.addCaCert(SecretManager.details(validator.trustedCa().get(0), v.value().getTrustedCa(), now));
    }
    if (!alpn.isEmpty()) {
      SslContext only = context(common, cp, cert, validator, alpn);
      return new Snapshot(only, only, info.build());
    }
    // As Envoy without alpn_protocols: the pool's protocol is offered (h2 or http/1.1).
    return new Snapshot(
        context(common, cp, cert, validator, List.of("http/1.1")), context(common, cp, cert, validator, List.of("h2")), info.build());
  }

  @Override
  public Runnable rebuild() {
    Snapshot next = buildSnapshot();
    return next == null ? () -> {} : () -> snapshot = next;
  }

  @Override
  public Certificate certificate(long nowMillis) {
    Snapshot s = snapshot;
    return s == null ? null : s.certs();
  }

  /** Returns a future completed when every secret this context names has arrived (or timed out). */
  public CompletableFuture<Void> ready() {
    return sources.ready();
  }

  /** Returns whether the context has every secret it names. */
  public boolean hasCertificates() {
    return snapshot != null;
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

  /**
   * Returns a new client SslHandler for a connection to {@code address} made by an HTTP/2 pool or
   * not.
   *
   * @throws IllegalStateException when the context's secrets have not arrived (the connection fails)
   */
  public SslHandler newHandler(ByteBufAllocator alloc, InetSocketAddress address, boolean h2) {
    return newHandler(alloc, address, h2, null);
  }

  /**
   * Returns a new client SslHandler sending {@code autoSni} (the request's host, for auto_sni)
   * instead of the configured SNI when not null; with auto_san_validation the server certificate
   * must then carry that name as a DNS SAN.
   */
  public SslHandler newHandler(ByteBufAllocator alloc, InetSocketAddress address, boolean h2, String autoSni) {
    Snapshot s = snapshot;
    if (s == null) {
      throw new IllegalStateException("TLS secrets have not arrived yet");
    }
    SslContext c = h2 ? s.h2Context() : s.h1Context();
    String name = autoSni != null ? autoSni : sni;
    return name != null ? c.newHandler(alloc, name, address.getPort()) : c.newHandler(alloc);
  }

  /** Makes the validator also require the SNI sent as a DNS SAN (auto_san_validation). */
  public void enableAutoSanValidation() {
    autoSanValidation = true;
  }
}
