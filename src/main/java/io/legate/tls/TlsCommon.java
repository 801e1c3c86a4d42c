package io.legate.tls;

import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.CommonTlsContext;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.TlsCertificate;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.TlsParameters;
import io.legate.config.ConfigException;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.OpenSslContextOption;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.netty.handler.ssl.SupportedCipherSuiteFilter;
import java.security.PrivateKey;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import javax.security.auth.x500.X500Principal;

/** Config-time pieces shared by the server and client contexts. */
final class TlsCommon {
  private TlsCommon() {}

  /** A certificate chain, its key and the DNS names it serves (SANs, else the CN). */
  record Cert(PrivateKey key, List<X509Certificate> chain, List<String> dnsNames) {}

  /** Returns BoringSSL when netty-tcnative loads, else the JDK provider. */
  static SslProvider provider() {
    return OpenSsl.isAvailable() ? SslProvider.OPENSSL : SslProvider.JDK;
  }

  static void refuseUnsupported(CommonTlsContext c, String path) {
    if (c.hasTlsCertificateProviderInstance() || c.hasTlsCertificateCertificateProviderInstance()
        || c.hasTlsCertificateCertificateProvider()) {
      throw new ConfigException(path + ".tls_certificate_provider_instance", "certificate providers are not supported");
    }
    if (c.hasValidationContextCertificateProvider() || c.hasValidationContextCertificateProviderInstance()) {
      throw new ConfigException(path + ".validation_context_certificate_provider", "certificate providers are not supported");
    }
    if (c.hasCustomHandshaker()) {
      throw new ConfigException(path + ".custom_handshaker", "custom handshakers are not supported");
    }
    if (c.hasCustomTlsCertificateSelector()) {
      throw new ConfigException(path + ".custom_tls_certificate_selector", "custom certificate selectors are not supported");
    }
    if (c.hasKeyLog()) {
      throw new ConfigException(path + ".key_log", "TLS key logging is not supported");
    }
  }

  static Cert certificate(TlsCertificate tc, String path) {
    if (tc.hasPrivateKeyProvider()) {
      throw new ConfigException(path + ".private_key_provider", "private key providers are not supported");
    }
    if (tc.hasPassword()) {
      throw new ConfigException(path + ".password", "password-protected private keys are not supported");
    }
    if (tc.hasOcspStaple()) {
      throw new ConfigException(path + ".ocsp_staple", "OCSP stapling is not supported yet");
    }
    if (!tc.hasCertificateChain()) {
      throw new ConfigException(path + ".certificate_chain", "a certificate chain is required");
    }
    if (!tc.hasPrivateKey()) {
      throw new ConfigException(path + ".private_key", "a private key is required");
    }
    List<X509Certificate> chain =
        Pem.certificates(DataSources.read(tc.getCertificateChain(), path + ".certificate_chain"), path + ".certificate_chain");
    PrivateKey key = Pem.privateKey(DataSources.read(tc.getPrivateKey(), path + ".private_key"), path + ".private_key");
    if (!key.getAlgorithm().equals(chain.get(0).getPublicKey().getAlgorithm())) {
      throw new ConfigException(path + ".private_key", "the private key does not match the certificate's " + chain.get(0).getPublicKey().getAlgorithm() + " key");
    }
    return new Cert(key, chain, dnsNames(chain.get(0)));
  }

  static List<String> dnsNames(X509Certificate cert) {
    List<String> out = new ArrayList<>();
    try {
      Collection<List<?>> sans = cert.getSubjectAlternativeNames();
      if (sans != null) {
        for (List<?> s : sans) {
          if ((Integer) s.get(0) == SanMatcher.DNS) {
            out.add(((String) s.get(1)).toLowerCase(Locale.ROOT));
          }
        }
      }
    } catch (CertificateParsingException e) {
      // no SANs
    }
    if (out.isEmpty()) {
      String dn = cert.getSubjectX500Principal().getName(X500Principal.RFC2253);
      for (String part : dn.split(",")) {
        if (part.startsWith("CN=")) {
          out.add(part.substring(3).toLowerCase(Locale.ROOT));
        }
      }
    }
    return List.copyOf(out);
  }

  /** Applies tls_params (protocol versions, ciphers, curves), ALPN and the provider to a builder. */
  static void apply(SslContextBuilder b, TlsParameters p, List<String> alpn, boolean server, String path) {
    SslProvider provider = provider();
    b.sslProvider(provider);
    int min = version(p.getTlsMinimumProtocolVersion(), TlsParameters.TlsProtocol.TLSv1_2);
    int max = version(p.getTlsMaximumProtocolVersion(), server ? TlsParameters.TlsProtocol.TLSv1_3 : TlsParameters.TlsProtocol.TLSv1_2);
    if (min > max) {
      throw new ConfigException(
          path + ".tls_params", "min_protocol_version " + p.getTlsMinimumProtocolVersion() + " is larger than max_protocol_version "
              + p.getTlsMaximumProtocolVersion());
    }
    List<String> protocols = new ArrayList<>();
    for (int v = min; v <= max; v++) {
      protocols.add(v == 0 ? "TLSv1" : "TLSv1." + v);
    }
    b.protocols(protocols);
    if (p.getCipherSuitesCount() > 0) {
      List<String> ciphers = new ArrayList<>();
      List<String> bad = new ArrayList<>();
      for (String entry : p.getCipherSuitesList()) {
        String e = entry.startsWith("[") && entry.endsWith("]") ? entry.substring(1, entry.length() - 1) : entry;
        for (String c : e.split("\\|")) {
          if (c.isEmpty()) {
            continue;
          }
          if (provider == SslProvider.OPENSSL ? !OpenSsl.isCipherSuiteAvailable(c) && !c.startsWith("-") : false) {
            bad.add(c);
          }
          ciphers.add(c);
        }
      }
      if (!bad.isEmpty()) {
        throw new ConfigException(
            path + ".tls_params.cipher_suites",
            "Failed to initialize cipher suites " + String.join(":", p.getCipherSuitesList())
                + ". The following ciphers were rejected when tried individually: " + String.join(", ", bad));
      }
      if (provider == SslProvider.OPENSSL) {
        b.ciphers(ciphers);
      } else {
        b.ciphers(ciphers.stream().filter(c -> c.startsWith("TLS_")).toList(), SupportedCipherSuiteFilter.INSTANCE);
      }
    }
    if (p.getEcdhCurvesCount() > 0 && provider == SslProvider.OPENSSL) {
      b.option(OpenSslContextOption.GROUPS, p.getEcdhCurvesList().toArray(new String[0]));
    }
    if (p.getSignatureAlgorithmsCount() > 0) {
      throw new ConfigException(path + ".tls_params.signature_algorithms", "signature algorithms are not supported yet");
    }
    if (!alpn.isEmpty()) {
      b.applicationProtocolConfig(
          new ApplicationProtocolConfig(
              ApplicationProtocolConfig.Protocol.ALPN,
              ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
              ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT,
              alpn));
    }
  }

  /** Returns the minor version (0 for TLSv1.0 … 3 for TLSv1.3). */
  private static int version(TlsParameters.TlsProtocol v, TlsParameters.TlsProtocol dflt) {
    TlsParameters.TlsProtocol x = v == TlsParameters.TlsProtocol.TLS_AUTO ? dflt : v;
    return switch (x) {
      case TLSv1_0 -> 0;
      case TLSv1_1 -> 1;
      case TLSv1_2 -> 2;
      default -> 3;
    };
  }
}
