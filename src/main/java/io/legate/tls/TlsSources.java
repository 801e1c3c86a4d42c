package io.legate.tls;

import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.CertificateValidationContext;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.CommonTlsContext;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.Secret;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.TlsCertificate;
import io.legate.config.ConfigException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Where a {@code CommonTlsContext} takes its certificates and validation context from: inline
 * ({@code tls_certificates}, {@code validation_context}) or secrets by name
 * ({@code tls_certificate_sds_secret_configs}, {@code validation_context_sds_secret_config},
 * {@code combined_validation_context}), and their resolution into the protos a context is built from.
 */
final class TlsSources {
  /** A certificate and the field path its errors name. */
  record Resolved<T>(T value, String path) {}

  private record CertSource(TlsCertificate inline, String path, SecretProvider provider) {}

  private final List<CertSource> certs;
  private final CertificateValidationContext inlineValidation;
  private final String validationPath;
  private final SecretProvider validationProvider;
  private final List<SecretProvider> providers;

  private TlsSources(
      List<CertSource> certs,
      CertificateValidationContext inlineValidation,
      String validationPath,
      SecretProvider validationProvider,
      List<SecretProvider> providers) {
    this.certs = certs;
    this.inlineValidation = inlineValidation;
    this.validationPath = validationPath;
    this.validationProvider = validationProvider;
    this.providers = providers;
  }

  /** Reads the sources of {@code c} at {@code cp}, looking secrets up in {@code secrets}. */
  static TlsSources of(CommonTlsContext c, String cp, SecretManager secrets) {
    List<CertSource> certs = new ArrayList<>();
    List<SecretProvider> providers = new ArrayList<>();
    for (int i = 0; i < c.getTlsCertificatesCount(); i++) {
      certs.add(new CertSource(c.getTlsCertificates(i), cp + ".tls_certificates[" + i + "]", null));
    }
    for (int i = 0; i < c.getTlsCertificateSdsSecretConfigsCount(); i++) {
      SecretProvider p =
          secrets.provider(c.getTlsCertificateSdsSecretConfigs(i), cp + ".tls_certificate_sds_secret_configs[" + i + "]", true);
      certs.add(new CertSource(null, null, p));
      providers.add(p);
    }
    CertificateValidationContext inline = null;
    String vp = null;
    SecretProvider vprov = null;
    switch (c.getValidationContextTypeCase()) {
      case VALIDATION_CONTEXT -> {
        inline = c.getValidationContext();
        vp = cp + ".validation_context";
      }
      case VALIDATION_CONTEXT_SDS_SECRET_CONFIG -> {
        vprov = secrets.provider(c.getValidationContextSdsSecretConfig(), cp + ".validation_context_sds_secret_config", false);
        providers.add(vprov);
      }
      case COMBINED_VALIDATION_CONTEXT -> {
        var cvc = c.getCombinedValidationContext();
        String p = cp + ".combined_validation_context";
        if (!cvc.hasValidationContextSdsSecretConfig()) {
          throw new ConfigException(p + ".validation_context_sds_secret_config", "value is required");
        }
        inline = cvc.getDefaultValidationContext();
        vp = p + ".default_validation_context";
        vprov = secrets.provider(cvc.getValidationContextSdsSecretConfig(), p + ".validation_context_sds_secret_config", false);
        providers.add(vprov);
      }
      default -> {}
    }
    return new TlsSources(List.copyOf(certs), inline, vp, vprov, List.copyOf(providers));
  }

  /** Returns how many certificates the context has (inline and by name). */
  int certificateCount() {
    return certs.size();
  }

  /** Returns whether the context validates peers (a validation context inline or by name). */
  boolean hasValidation() {
    return inlineValidation != null || validationProvider != null;
  }

  /** Returns the secrets the context uses. */
  List<SecretProvider> providers() {
    return providers;
  }

  /** Returns a future completed when every secret used was received (or timed out). */
  CompletableFuture<Void> ready() {
    return CompletableFuture.allOf(providers.stream().map(SecretProvider::ready).toArray(CompletableFuture<?>[]::new));
  }

  /** Registers {@code d} to be rebuilt when one of the secrets changes. */
  void register(SecretProvider.Dependent d) {
    for (SecretProvider p : providers) {
      p.addDependent(d);
    }
  }

  /** Returns the certificates, or null while a secret is missing. */
  List<Resolved<TlsCertificate>> certificates() {
    List<Resolved<TlsCertificate>> out = new ArrayList<>();
    for (CertSource s : certs) {
      if (s.provider() == null) {
        out.add(new Resolved<>(s.inline(), s.path()));
        continue;
      }
      Secret secret = s.provider().effective();
      if (secret == null) {
        return null;
      }
      if (!secret.hasTlsCertificate()) {
        throw new ConfigException(s.provider().name(), "secret '" + s.provider().name() + "' is not a tls_certificate");
      }
      out.add(new Resolved<>(secret.getTlsCertificate(), s.provider().name() + ".tls_certificate"));
    }
    return out;
  }

  /** Returns the validation context (null value when there is none), or null while its secret is missing. */
  Resolved<CertificateValidationContext> validation() {
    if (validationProvider == null) {
      return new Resolved<>(inlineValidation, validationPath);
    }
    Secret secret = validationProvider.effective();
    if (secret == null) {
      return null;
    }
    if (!secret.hasValidationContext()) {
      throw new ConfigException(validationProvider.name(), "secret '" + validationProvider.name() + "' is not a validation_context");
    }
    CertificateValidationContext v = secret.getValidationContext();
    if (inlineValidation != null) {
      // As Envoy's combined validation context: the dynamic one merged into the default one.
      v = inlineValidation.toBuilder().mergeFrom(v).build();
    }
    return new Resolved<>(v, validationProvider.name() + ".validation_context");
  }
}
