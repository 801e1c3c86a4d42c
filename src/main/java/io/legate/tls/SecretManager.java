package io.legate.tls;

import com.google.protobuf.Timestamp;
import io.envoyproxy.envoy.admin.v3.Certificate;
import io.envoyproxy.envoy.admin.v3.CertificateDetails;
import io.envoyproxy.envoy.admin.v3.Certificates;
import io.envoyproxy.envoy.admin.v3.SubjectAlternateName;
import io.envoyproxy.envoy.config.core.v3.ConfigSource;
import io.envoyproxy.envoy.config.core.v3.DataSource;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.SdsSecretConfig;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.Secret;
import io.legate.config.ConfigException;
import io.legate.stats.StatsStore;
import java.math.BigInteger;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.WeakHashMap;

/**
 * Envoy's secret manager: the static secrets of {@code static_resources.secrets}, the dynamic ones
 * (SDS, through a {@link DynamicSource}), and the TLS contexts alive, for admin {@code /certs} and
 * {@code server.days_until_first_cert_expiring}. One per server.
 */
public final class SecretManager {
  /** Subscribes to a secret by name from an SDS config source. */
  @FunctionalInterface
  public interface DynamicSource {
    /**
     * Returns the provider of secret {@code name} from {@code source}, shared by every context naming
     * the same secret from the same source; subscribes on first use.
     *
     * @throws ConfigException naming the field under {@code path} (the {@code sds_config})
     */
    SecretProvider subscribe(String name, ConfigSource source, String path);
  }

  /** A TLS context that reports its certificates to {@code /certs}. */
  interface Certified {
    /** Returns the context's certificates, or null when it has none yet. */
    Certificate certificate(long nowMillis);
  }

  /** Envoy's value of {@code server.days_until_first_cert_expiring} when there is no certificate. */
  public static final long NO_CERTIFICATE_DAYS = 0xffff_ffffL;

  private static final long DAY_MS = 86_400_000L;
  private static final TlsStats NO_STATS = new TlsStats(new StatsStore().scope(""));

  private final Map<String, SecretProvider> certificates = new HashMap<>();
  private final Map<String, SecretProvider> validationContexts = new HashMap<>();
  private final Set<Certified> contexts = Collections.synchronizedSet(Collections.newSetFromMap(new WeakHashMap<>()));
  private volatile DynamicSource dynamic;

  /** Creates a manager without static secrets. */
  public SecretManager() {}

  /**
   * Creates a manager with the static secrets {@code secrets} found at {@code path}
   * ({@code static_resources.secrets}).
   *
   * @throws ConfigException naming the secret's field
   */
  public SecretManager(List<Secret> secrets, String path) {
    for (int i = 0; i < secrets.size(); i++) {
      Secret s = secrets.get(i);
      String p = path + "[" + i + "]";
      if (s.getName().isEmpty()) {
        throw new ConfigException(p + ".name", "a static secret needs a name");
      }
      validate(s, p);
      Map<String, SecretProvider> into;
      String kind;
      if (s.hasTlsCertificate()) {
        into = certificates;
        kind = "TlsCertificate";
      } else if (s.hasValidationContext()) {
        into = validationContexts;
        kind = "CertificateValidationContext";
      } else {
        continue; // a generic secret: no TLS context uses it
      }
      if (into.put(s.getName(), SecretProvider.fixed(s)) != null) {
        throw new ConfigException(p + ".name", "Duplicate static " + kind + " secret name " + s.getName());
      }
    }
  }

  /** Sets where secrets with an {@code sds_config} come from (the xDS layer). */
  public void setDynamicSource(DynamicSource source) {
    this.dynamic = source;
  }

  /**
   * Checks a secret on its own: its certificate and key parse and match, its validation context
   * builds; session ticket keys are refused.
   *
   * @throws ConfigException whose path starts with {@code path}
   */
  public static void validate(Secret s, String path) {
    switch (s.getTypeCase()) {
      case TLS_CERTIFICATE -> TlsCommon.certificate(s.getTlsCertificate(), path + ".tls_certificate");
      case VALIDATION_CONTEXT -> CertValidator.build(s.getValidationContext(), path + ".validation_context", NO_STATS);
      case SESSION_TICKET_KEYS -> throw new ConfigException(path + ".session_ticket_keys", "session ticket keys are not supported yet");
      case GENERIC_SECRET -> {}
      default -> throw new ConfigException(path, "secret type is not set: one of tls_certificate, validation_context, generic_secret is required");
    }
  }

  SecretProvider provider(SdsSecretConfig c, String path, boolean certificate) {
    String name = c.getName();
    if (name.isEmpty()) {
      throw new ConfigException(path + ".name", "value length must be at least 1 characters");
    }
    if (!c.hasSdsConfig()) {
      SecretProvider p = (certificate ? certificates : validationContexts).get(name);
      if (p == null) {
        throw new ConfigException(
            path + ".name",
            certificate ? "Unknown static secret: " + name : "Unknown static certificate validation context: " + name);
      }
      return p;
    }
    DynamicSource d = dynamic;
    if (d == null) {
      throw new ConfigException(path + ".sds_config", "SDS is not available here: give the secret in static_resources.secrets");
    }
    return d.subscribe(name, c.getSdsConfig(), path + ".sds_config");
  }

  /**
   * Validates new versions of secrets and rebuilds every TLS context using them, without publishing
   * anything; returns the action that publishes the secrets and the contexts at once. Config thread
   * only.
   *
   * @throws ConfigException (secret name + field path) when a secret or a context does not build
   */
  public static Runnable apply(Map<SecretProvider, Secret> updates, String version) {
    for (Map.Entry<SecretProvider, Secret> e : updates.entrySet()) {
      validate(e.getValue(), e.getKey().name());
    }
    Set<SecretProvider.Dependent> dependents = new LinkedHashSet<>();
    List<Runnable> commits = new ArrayList<>();
    try {
      for (Map.Entry<SecretProvider, Secret> e : updates.entrySet()) {
        e.getKey().stage(e.getValue());
        dependents.addAll(e.getKey().dependents());
      }
      for (SecretProvider.Dependent d : dependents) {
        commits.add(d.rebuild());
      }
    } finally {
      for (SecretProvider p : updates.keySet()) {
        p.unstage();
      }
    }
    Map<SecretProvider, Secret> copy = Map.copyOf(updates);
    return () -> {
      for (Map.Entry<SecretProvider, Secret> e : copy.entrySet()) {
        e.getKey().stage(e.getValue());
        e.getKey().commit(version);
      }
      for (Runnable r : commits) {
        r.run();
      }
      for (SecretProvider p : copy.keySet()) {
        p.completeReady();
      }
    };
  }

  /** Returns {@code s} with its private key (and password) replaced by {@code [redacted]}, as Envoy's config dump. */
  public static Secret redacted(Secret s) {
    if (!s.hasTlsCertificate()) {
      return s;
    }
    var tc = s.getTlsCertificate().toBuilder();
    if (tc.hasPrivateKey()) {
      tc.setPrivateKey(redact(tc.getPrivateKey()));
    }
    if (tc.hasPassword()) {
      tc.setPassword(redact(tc.getPassword()));
    }
    return s.toBuilder().setTlsCertificate(tc).build();
  }

  private static DataSource redact(DataSource ds) {
    return switch (ds.getSpecifierCase()) {
      case FILENAME -> ds; // a path is not the secret
      case INLINE_BYTES -> DataSource.newBuilder().setInlineBytes(com.google.protobuf.ByteString.copyFromUtf8("[redacted]")).build();
      default -> DataSource.newBuilder().setInlineString("[redacted]").build();
    };
  }

  void track(Certified c) {
    contexts.add(c);
  }

  /** Returns admin {@code /certs}: the certificates of every TLS context alive. */
  public Certificates certificates() {
    long now = System.currentTimeMillis();
    Certificates.Builder b = Certificates.newBuilder();
    List<Certified> list;
    synchronized (contexts) {
      list = new ArrayList<>(contexts);
    }
    for (Certified c : list) {
      Certificate cert = c.certificate(now);
      if (cert != null) {
        b.addCertificates(cert);
      }
    }
    return b.build();
  }

  /** Returns the days until the first certificate of a live context expires, or {@link #NO_CERTIFICATE_DAYS}. */
  public long daysUntilFirstCertExpiring() {
    long min = NO_CERTIFICATE_DAYS;
    for (Certificate c : certificates().getCertificatesList()) {
      for (CertificateDetails d : c.getCaCertList()) {
        min = Math.min(min, d.getDaysUntilExpiration());
      }
      for (CertificateDetails d : c.getCertChainList()) {
        min = Math.min(min, d.getDaysUntilExpiration());
      }
    }
    return min;
  }

  /** Returns {@code /certs}' details of {@code cert} read from {@code source}, as Envoy prints them. */
  static CertificateDetails details(X509Certificate cert, DataSource source, long nowMillis) {
    CertificateDetails.Builder b =
        CertificateDetails.newBuilder()
            .setPath(source != null && source.hasFilename() ? source.getFilename() : "<inline>")
            .setSerialNumber(serial(cert.getSerialNumber()))
            .setDaysUntilExpiration(Math.max(0, (cert.getNotAfter().getTime() - nowMillis) / DAY_MS))
            .setValidFrom(ts(cert.getNotBefore().getTime()))
            .setExpirationTime(ts(cert.getNotAfter().getTime()));
    try {
      Collection<List<?>> sans = cert.getSubjectAlternativeNames();
      if (sans != null) {
        for (List<?> san : sans) {
          int type = (Integer) san.get(0);
          String v = String.valueOf(san.get(1));
          switch (type) {
            case 2 -> b.addSubjectAltNames(SubjectAlternateName.newBuilder().setDns(v));
            case 6 -> b.addSubjectAltNames(SubjectAlternateName.newBuilder().setUri(v));
            case 7 -> b.addSubjectAltNames(SubjectAlternateName.newBuilder().setIpAddress(v));
            default -> {}
          }
        }
      }
    } catch (CertificateParsingException e) {
      // no SANs
    }
    return b.build();
  }

  /** Returns the serial number as BoringSSL's BN_bn2hex prints it, lower-cased as Envoy does: whole bytes, no leading zero byte. */
  static String serial(BigInteger serial) {
    String hex = serial.abs().toString(16);
    if (hex.length() % 2 == 1) {
      hex = "0" + hex;
    }
    return hex.toLowerCase(Locale.ROOT);
  }

  private static Timestamp ts(long millis) {
    return Timestamp.newBuilder().setSeconds(Math.floorDiv(millis, 1000)).build();
  }
}
