package io.legate.tls;

import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.CertificateValidationContext;
import io.legate.config.ConfigException;
import io.netty.handler.ssl.util.SimpleTrustManagerFactory;
import java.io.ByteArrayInputStream;
import java.net.Socket;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.security.cert.CRL;
import java.security.cert.CRLException;
import java.security.cert.CertPathBuilder;
import java.security.cert.CertStore;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.CollectionCertStoreParameters;
import java.security.cert.PKIXBuilderParameters;
import java.security.cert.PKIXRevocationChecker;
import java.security.cert.X509CertSelector;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.EnumSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import javax.net.ssl.CertPathTrustManagerParameters;
import javax.net.ssl.ManagerFactoryParameters;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;
import javax.net.ssl.X509TrustManager;

/**
 * Envoy's default certificate validator: the chain against {@code trusted_ca} (when given) and its
 * CRLs ({@code crl}), then the SAN matchers and certificate hash/SPKI pins. Without a validation context nothing is verified, as
 * in Envoy.
 */
public final class CertValidator {
  /** The details Envoy reports when the SAN list does not match. */
  public static final String SAN_LIST_FAILED = "verify cert failed: verify SAN list";
  /** The details Envoy reports when the typed SAN matchers do not match. */
  public static final String SAN_MATCHER_FAILED = "verify cert failed: SAN matcher";
  /** The details Envoy reports when the hash/SPKI pins do not match. */
  public static final String HASH_FAILED = "verify cert failed: cert hash and spki";

  private final X509TrustManager chain; // null: the chain is not verified
  private final List<X509Certificate> trustedCa;
  private final List<SanMatcher> sanMatchers;
  private final boolean typedSans;
  private final List<String> certHashes;
  private final List<String> spkiHashes;
  private final boolean allowUntrusted;
  private final TlsStats stats;
  private final java.util.function.BooleanSupplier autoSan;

  private CertValidator(
      X509TrustManager chain,
      List<X509Certificate> trustedCa,
      List<SanMatcher> sanMatchers,
      boolean typedSans,
      List<String> certHashes,
      List<String> spkiHashes,
      boolean allowUntrusted,
      TlsStats stats,
      java.util.function.BooleanSupplier autoSan) {
    this.autoSan = autoSan;
    this.chain = chain;
    this.trustedCa = trustedCa;
    this.sanMatchers = sanMatchers;
    this.typedSans = typedSans;
    this.certHashes = certHashes;
    this.spkiHashes = spkiHashes;
    this.allowUntrusted = allowUntrusted;
    this.stats = stats;
  }

  /** Builds the validator for {@code vc} (at {@code path}); counts failures in {@code stats}. */
  public static CertValidator build(CertificateValidationContext vc, String path, TlsStats stats) {
    return build(vc, path, stats, () -> false);
  }

  /**
   * Builds the validator; when {@code autoSan} answers true (a cluster's auto_san_validation), a
   * server certificate must also carry the SNI the connection sent as a DNS SAN.
   */
  public static CertValidator build(
      CertificateValidationContext vc, String path, TlsStats stats, java.util.function.BooleanSupplier autoSan) {
    if (vc.hasCustomValidatorConfig()) {
      throw new ConfigException(path + ".custom_validator_config", "custom certificate validators are not supported");
    }
    if (vc.hasRequireSignedCertificateTimestamp() && vc.getRequireSignedCertificateTimestamp().getValue()) {
      throw new ConfigException(path + ".require_signed_certificate_timestamp", "certificate transparency is not supported");
    }
    if (vc.hasSystemRootCerts()) {
      throw new ConfigException(path + ".system_root_certs", "system root certificates are not supported yet");
    }
    if (vc.hasCaCertificateProviderInstance()) {
      throw new ConfigException(path + ".ca_certificate_provider_instance", "certificate providers are not supported");
    }
    if (vc.getAllowExpiredCertificate()) {
      throw new ConfigException(path + ".allow_expired_certificate", "allow_expired_certificate is not supported yet");
    }
    X509TrustManager tm = null;
    List<X509Certificate> cas = List.of();
    if (vc.hasTrustedCa()) {
      cas = Pem.certificates(DataSources.read(vc.getTrustedCa(), path + ".trusted_ca"), path + ".trusted_ca");
      try {
        KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
        ks.load(null, null);
        for (int i = 0; i < cas.size(); i++) {
          ks.setCertificateEntry("ca" + i, cas.get(i));
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
        if (vc.hasCrl()) {
          tmf.init(revocationParameters(ks, vc, path));
        } else {
          tmf.init(ks);
        }
        for (TrustManager t : tmf.getTrustManagers()) {
          if (t instanceof X509TrustManager x) {
            tm = x;
          }
        }
      } catch (ConfigException e) {
        throw e;
      } catch (Exception e) {
        throw new ConfigException(path + ".trusted_ca", "failed to load trusted CA certificates: " + e.getMessage());
      }
    } else if (vc.hasCrl()) {
      throw new ConfigException(path + ".crl", "Failed to load CRL from " + source(vc.getCrl()) + " without trusted CA");
    }
    List<SanMatcher> sans = new ArrayList<>();
    boolean typed = vc.getMatchTypedSubjectAltNamesCount() > 0;
    if (typed) {
      for (int i = 0; i < vc.getMatchTypedSubjectAltNamesCount(); i++) {
        sans.add(SanMatcher.typed(vc.getMatchTypedSubjectAltNames(i), path + ".match_typed_subject_alt_names[" + i + "]"));
      }
    } else {
      @SuppressWarnings("deprecation")
      int n = vc.getMatchSubjectAltNamesCount();
      for (int i = 0; i < n; i++) {
        @SuppressWarnings("deprecation")
        var m = vc.getMatchSubjectAltNames(i);
        sans.add(SanMatcher.any(m, path + ".match_subject_alt_names[" + i + "]"));
      }
    }
    List<String> hashes = new ArrayList<>();
    for (int i = 0; i < vc.getVerifyCertificateHashCount(); i++) {
      String h = vc.getVerifyCertificateHash(i).replace(":", "").toLowerCase(Locale.ROOT);
      if (!h.matches("[0-9a-f]{64}")) {
        throw new ConfigException(
            path + ".verify_certificate_hash[" + i + "]", "Invalid hex-encoded SHA-256 " + vc.getVerifyCertificateHash(i));
      }
      hashes.add(h);
    }
    List<String> spki = new ArrayList<>(vc.getVerifyCertificateSpkiList());
    boolean untrusted =
        vc.getTrustChainVerification() == CertificateValidationContext.TrustChainVerification.ACCEPT_UNTRUSTED;
    return new CertValidator(tm, cas, List.copyOf(sans), typed, List.copyOf(hashes), List.copyOf(spki), untrusted, stats, autoSan);
  }

  /**
   * Returns PKIX parameters that check revocation against the CRLs in {@code crl} only (no OCSP, no
   * fetching): every certificate checked needs a CRL from its issuer, else verification fails, as
   * Envoy's CRL_CHECK. With {@code only_verify_leaf_cert_crl} only the leaf is checked; otherwise
   * every certificate below the trust anchor is (CRL_CHECK_ALL).
   */
  private static ManagerFactoryParameters revocationParameters(KeyStore anchors, CertificateValidationContext vc, String path)
      throws java.security.GeneralSecurityException {
    Collection<? extends CRL> crls;
    try {
      crls = CertificateFactory.getInstance("X.509")
          .generateCRLs(new ByteArrayInputStream(DataSources.read(vc.getCrl(), path + ".crl")));
    } catch (CRLException e) {
      throw new ConfigException(path + ".crl", "Failed to load CRL from " + source(vc.getCrl()) + ": " + e.getMessage());
    }
    if (crls.isEmpty()) {
      throw new ConfigException(path + ".crl", "Failed to load CRL from " + source(vc.getCrl()) + ": no CRL found");
    }
    PKIXBuilderParameters params = new PKIXBuilderParameters(anchors, new X509CertSelector());
    params.addCertStore(CertStore.getInstance("Collection", new CollectionCertStoreParameters(crls)));
    params.setRevocationEnabled(true);
    PKIXRevocationChecker checker = (PKIXRevocationChecker) CertPathBuilder.getInstance("PKIX").getRevocationChecker();
    EnumSet<PKIXRevocationChecker.Option> options =
        EnumSet.of(PKIXRevocationChecker.Option.PREFER_CRLS, PKIXRevocationChecker.Option.NO_FALLBACK);
    if (vc.getOnlyVerifyLeafCertCrl()) {
      options.add(PKIXRevocationChecker.Option.ONLY_END_ENTITY);
    }
    checker.setOptions(options);
    params.addCertPathChecker(checker);
    return new CertPathTrustManagerParameters(params);
  }

  private static String source(io.envoyproxy.envoy.config.core.v3.DataSource ds) {
    return ds.getSpecifierCase() == io.envoyproxy.envoy.config.core.v3.DataSource.SpecifierCase.FILENAME
        ? ds.getFilename()
        : "<inline>";
  }

  /** Returns whether {@code trusted_ca} was given. */
  public boolean verifiesChain() {
    return chain != null;
  }

  /** Returns the trusted CA certificates (empty when none). */
  public List<X509Certificate> trustedCa() {
    return trustedCa;
  }

  /** Returns a trust manager factory for Netty that runs this validator. */
  public TrustManagerFactory trustManagerFactory() {
    TrustManager tm = new Tm();
    return new SimpleTrustManagerFactory() {
      @Override
      protected void engineInit(KeyStore keyStore) {}

      @Override
      protected void engineInit(ManagerFactoryParameters params) {}

      @Override
      protected TrustManager[] engineGetTrustManagers() {
        return new TrustManager[] {tm};
      }
    };
  }

  /** Verifies a peer chain, leaf first; throws {@link VerifyException} with Envoy's details. */
  void verify(X509Certificate[] peer, String authType, boolean client) throws CertificateException {
    verify(peer, authType, client, null);
  }

  /** As {@link #verify(X509Certificate[], String, boolean)}; {@code sni} is what a client sent. */
  void verify(X509Certificate[] peer, String authType, boolean client, String sni) throws CertificateException {
    if (peer == null || peer.length == 0) {
      stats.failVerifyError.inc();
      throw new VerifyException("verify cert failed: empty cert chain");
    }
    if (chain != null) {
      try {
        if (client) {
          chain.checkClientTrusted(peer, authType);
        } else {
          chain.checkServerTrusted(peer, authType);
        }
      } catch (CertificateException e) {
        stats.failVerifyError.inc();
        if (!allowUntrusted) {
          throw new VerifyException("", e);
        }
      }
    }
    X509Certificate leaf = peer[0];
    if (!client && sni != null && autoSan.getAsBoolean() && !dnsSanMatches(leaf, sni)) {
      stats.failVerifySan.inc();
      throw new VerifyException(SAN_MATCHER_FAILED);
    }
    if (!sanMatchers.isEmpty() && !sanMatches(leaf)) {
      stats.failVerifySan.inc();
      throw new VerifyException(typedSans ? SAN_MATCHER_FAILED : SAN_LIST_FAILED);
    }
    if (!certHashes.isEmpty() || !spkiHashes.isEmpty()) {
      if (!hashMatches(leaf)) {
        stats.failVerifyCertHash.inc();
        throw new VerifyException(HASH_FAILED);
      }
    }
  }

  private boolean sanMatches(X509Certificate cert) {
    Collection<List<?>> names;
    try {
      names = cert.getSubjectAlternativeNames();
    } catch (CertificateParsingException e) {
      return false;
    }
    if (names == null) {
      return false;
    }
    for (SanMatcher m : sanMatchers) {
      for (List<?> n : names) {
        int type = (Integer) n.get(0);
        if (n.get(1) instanceof String s && m.matches(type, s)) {
          return true;
        }
      }
    }
    return false;
  }

  private static boolean dnsSanMatches(X509Certificate cert, String name) {
    for (String san : TlsCommon.dnsNames(cert)) {
      if (SanMatcher.dnsNameMatch(name, san)) {
        return true;
      }
    }
    return false;
  }

  private boolean hashMatches(X509Certificate cert) {
    try {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      String h = HexFormat.of().formatHex(md.digest(cert.getEncoded()));
      if (certHashes.contains(h)) {
        return true;
      }
      String s = Base64.getEncoder().encodeToString(md.digest(cert.getPublicKey().getEncoded()));
      return spkiHashes.contains(s);
    } catch (Exception e) {
      return false;
    }
  }

  /** A verification failure carrying Envoy's error details (empty for a chain that does not verify). */
  public static final class VerifyException extends CertificateException {
    VerifyException(String details) {
      super(details);
    }

    VerifyException(String details, Throwable cause) {
      super(details, cause);
    }
  }

  private final class Tm extends X509ExtendedTrustManager {
    @Override
    public void checkClientTrusted(X509Certificate[] c, String a) throws CertificateException {
      verify(c, a, true);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] c, String a) throws CertificateException {
      verify(c, a, false);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] c, String a, Socket s) throws CertificateException {
      verify(c, a, true);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] c, String a, Socket s) throws CertificateException {
      verify(c, a, false);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] c, String a, SSLEngine e) throws CertificateException {
      verify(c, a, true);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] c, String a, SSLEngine e) throws CertificateException {
      verify(c, a, false, e == null ? null : e.getPeerHost());
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
      return trustedCa.toArray(new X509Certificate[0]);
    }
  }
}
