package io.legate.tls;

import io.envoyproxy.envoy.admin.v3.Certificate;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.CertificateValidationContext;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.CommonTlsContext;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.TlsCertificate;
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
import java.util.concurrent.CompletableFuture;
import javax.net.ssl.SSLException;

/**
 * A filter chain's {@code DownstreamTlsContext}: one Netty server context per certificate, the
 * certificate chosen by SNI (exact name, then wildcard, else the first), ALPN, client certificates.
 */
public final class ServerTlsContext implements SecretProvider.Dependent, SecretManager.Certified {
  /** The Netty contexts of one version of the secrets, one per certificate, and what /certs shows. */
  private record Snapshot(List<SslContext> contexts, List<List<String>> names, Certificate certs) {}

  private final DownstreamTlsContext proto;
  private final String cp;
  private final TlsSources sources;
  private final List<String> alpn;
  private final boolean requireSni;
  private final boolean requireClientCertificate;
  private final boolean requestsClientCertificate;
  private final SessionResumption sessions;
  private final TlsStats stats;
  private volatile Snapshot snapshot;

  private ServerTlsContext(
      DownstreamTlsContext proto,
      String cp,
      TlsSources sources,
      List<String> alpn,
      boolean requireSni,
      boolean requireClientCertificate,
      boolean requestsClientCertificate,
      SessionResumption sessions,
      TlsStats stats) {
    this.sessions = sessions;
    this.proto = proto;
    this.cp = cp;
    this.sources = sources;
    this.alpn = alpn;
    this.requireSni = requireSni;
    this.requireClientCertificate = requireClientCertificate;
    this.requestsClientCertificate = requestsClientCertificate;
    this.stats = stats;
  }

  /**
   * Builds the context from {@code ctx} at {@code path} (the typed_config's path), counting TLS stats
   * under {@code scope} (the listener's, as Envoy's {@code listener.<address>.ssl.*}). Inline
   * certificates only: a secret by name is refused.
   */
  public static ServerTlsContext build(DownstreamTlsContext ctx, String path, StatsStore.Scope scope, TlsStats stats) {
    return build(ctx, path, scope, stats, new SecretManager());
  }

  /**
   * Builds the context from {@code ctx} at {@code path}, with secrets by name from {@code secrets}.
   * A context whose secrets have not all arrived yet has no certificate: it is not
   * {@linkplain #ready() ready} and refuses handshakes until they arrive; each new version of a
   * secret builds new Netty contexts that new connections get.
   */
  public static ServerTlsContext build(
      DownstreamTlsContext ctx, String path, StatsStore.Scope scope, TlsStats stats, SecretManager secrets) {
    CommonTlsContext c = ctx.getCommonTlsContext();
    String cp = path + ".common_tls_context";
    TlsCommon.refuseUnsupported(c, cp);
    SessionResumption sessions = SessionResumption.of(ctx, path);
    if (ctx.hasFullScanCertsOnSniMismatch() && ctx.getFullScanCertsOnSniMismatch().getValue()) {
      throw new ConfigException(path + ".full_scan_certs_on_sni_mismatch", "full_scan_certs_on_sni_mismatch is not supported");
    }
    TlsSources sources = TlsSources.of(c, cp, secrets);
    if (sources.certificateCount() == 0) {
      throw new ConfigException(cp + ".tls_certificates", "No TLS certificates found for server context");
    }
    boolean requireClient = ctx.hasRequireClientCertificate() && ctx.getRequireClientCertificate().getValue();
    ServerTlsContext t =
        new ServerTlsContext(
            ctx,
            cp,
            sources,
            List.copyOf(c.getAlpnProtocolsList()),
            ctx.hasRequireSni() && ctx.getRequireSni().getValue(),
            requireClient,
            sources.hasValidation(),
            sessions,
            stats);
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
    CommonTlsContext c = proto.getCommonTlsContext();
    CertValidator validator = v.value() != null ? CertValidator.build(v.value(), v.path(), stats) : null;
    // As Envoy: without a validation context no client certificate is requested, required or not.
    long now = System.currentTimeMillis();
    Certificate.Builder info = Certificate.newBuilder();
    if (validator != null && !validator.trustedCa().isEmpty()) {
      info.addCaCert(SecretManager.details(validator.trustedCa().get(0), v.value().getTrustedCa(), now));
    }
    List<SslContext> contexts = new ArrayList<>();
    List<List<String>> names = new ArrayList<>();
    byte[] sessionIdContext = sessionIdContext(certs, v.value(), validator);
    for (TlsSources.Resolved<TlsCertificate> r : certs) {
      String tp = r.path();
      TlsCommon.Cert cert = TlsCommon.certificate(r.value(), tp);
      SslContextBuilder b = SslContextBuilder.forServer(cert.key(), cert.chain());
      TlsCommon.apply(b, c.getTlsParams(), alpn, true, cp);
      if (validator != null) {
        b.trustManager(validator.trustManagerFactory());
        b.clientAuth(requireClientCertificate ? ClientAuth.REQUIRE : ClientAuth.OPTIONAL);
      } else {
        b.trustManager(InsecureTrustManagerFactory.INSTANCE);
        b.clientAuth(ClientAuth.NONE);
      }
      try {
        SslContext built = b.build();
        sessions.apply(built, sessionIdContext);
        contexts.add(built);
      } catch (SSLException | RuntimeException e) {
        throw new ConfigException(tp, "failed to create TLS context: " + e.getMessage());
      }
      names.add(cert.dnsNames());
      info.addCertChain(SecretManager.details(cert.chain().get(0), r.value().getCertificateChain(), now));
    }
    return new Snapshot(List.copyOf(contexts), List.copyOf(names), info.build());
  }

  /**
   * Returns what a resumed session must have been admitted under, as Envoy's session ID context:
   * the certificates served, the validation settings, trusted CAs and CRLs, and whether a client
   * certificate is required.
   */
  private byte[] sessionIdContext(
      List<TlsSources.Resolved<TlsCertificate>> certs, CertificateValidationContext vc, CertValidator validator) {
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
    for (TlsSources.Resolved<TlsCertificate> r : certs) {
      out.writeBytes(DataSources.read(r.value().getCertificateChain(), r.path() + ".certificate_chain"));
    }
    if (vc != null) {
      out.writeBytes(vc.toByteArray());
      if (vc.hasCrl()) {
        out.writeBytes(DataSources.read(vc.getCrl(), "crl")); // a new CRL ends sessions admitted under the old one
      }
    }
    if (validator != null) {
      for (java.security.cert.X509Certificate ca : validator.trustedCa()) {
        try {
          out.writeBytes(ca.getEncoded());
        } catch (java.security.cert.CertificateEncodingException e) {
          throw new IllegalStateException(e);
        }
      }
    }
    out.write(requireClientCertificate ? 1 : 0);
    return out.toByteArray();
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

  /**
   * Returns a future completed when every secret this context names has arrived (or its initial
   * fetch timed out), as Envoy's listener warming.
   */
  public CompletableFuture<Void> ready() {
    return sources.ready();
  }

  /** Returns whether the context has its certificates (every secret it names has arrived). */
  public boolean hasCertificates() {
    return snapshot != null;
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

  /**
   * Returns the context for SNI {@code sni} (null when none was sent), or null when require_sni
   * refuses it or the secrets have not arrived.
   */
  public SslContext select(String sni) {
    Snapshot s = snapshot;
    if (s == null) {
      return null;
    }
    List<SslContext> contexts = s.contexts();
    List<List<String>> names = s.names();
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
   * the ClientHello to pick the certificate. Returns null when require_sni refuses the connection or
   * the secrets have not arrived.
   */
  public ChannelHandler newHandler(ByteBufAllocator alloc, String sni, boolean sniKnown) {
    Snapshot s = snapshot;
    if (s == null) {
      return null;
    }
    if (sniKnown || (s.contexts().size() == 1 && !requireSni)) {
      SslContext c = select(sni);
      return c == null ? null : sessions.configure(c.newHandler(alloc));
    }
    Mapping<String, SslContext> mapping = this::select;
    return new SniHandler(mapping) {
      @Override
      protected io.netty.handler.ssl.SslHandler newSslHandler(SslContext context, ByteBufAllocator allocator) {
        return sessions.configure(super.newSslHandler(context, allocator));
      }
    };
  }
}
