package io.legate.tls;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.math.BigInteger;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/** A test CA and leaf certificates made at run time with the JDK's keytool (PEM files in a temp dir). */
public final class TestCerts {
  private static final String PASS = "changeit";
  private static TestCerts instance;

  public final Path dir;
  public final Path caPem;
  private final Path caStore;

  /** A leaf: its PEM chain and key files and its PKCS12 store. */
  public record Leaf(Path certPem, Path keyPem, Path store) {}

  private TestCerts(Path dir) throws Exception {
    this.dir = dir;
    this.caStore = dir.resolve("ca.p12");
    keytool("-genkeypair", "-alias", "ca", "-keyalg", "RSA", "-keysize", "2048", "-dname", "CN=Legate Test CA",
        "-ext", "bc:c", "-validity", "30", "-keystore", caStore.toString());
    this.caPem = dir.resolve("ca.pem");
    keytool("-exportcert", "-rfc", "-alias", "ca", "-keystore", caStore.toString(), "-file", caPem.toString());
  }

  /** Returns the shared instance (made once per JVM). */
  public static synchronized TestCerts get() {
    if (instance == null) {
      try {
        instance = new TestCerts(Files.createTempDirectory("legate-certs"));
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    }
    return instance;
  }

  /** Makes a leaf signed by the CA; {@code san} is keytool's syntax, e.g. {@code dns:a.test,ip:127.0.0.1}. */
  public synchronized Leaf leaf(String name, String keyAlg, String cn, String san) {
    Path store = dir.resolve(name + ".p12");
    Path cert = dir.resolve(name + ".pem");
    Path key = dir.resolve(name + ".key");
    if (Files.exists(key)) {
      return new Leaf(cert, key, store);
    }
    try {
      List<String> gen = new ArrayList<>(List.of("-genkeypair", "-alias", "leaf", "-keyalg", keyAlg, "-dname", "CN=" + cn,
          "-validity", "30", "-keystore", store.toString()));
      if (keyAlg.equals("EC")) {
        gen.addAll(List.of("-groupname", "secp256r1"));
      }
      keytool(gen.toArray(new String[0]));
      Path csr = dir.resolve(name + ".csr");
      keytool("-certreq", "-alias", "leaf", "-keystore", store.toString(), "-file", csr.toString());
      Path signed = dir.resolve(name + ".signed.pem");
      keytool("-gencert", "-alias", "ca", "-keystore", caStore.toString(), "-infile", csr.toString(), "-outfile",
          signed.toString(), "-rfc", "-validity", "30", "-ext", "san=" + san);
      // The chain file: leaf then CA; the store gets the signed chain for JDK servers.
      Files.writeString(cert, Files.readString(signed) + Files.readString(caPem));
      keytool("-importcert", "-noprompt", "-alias", "leaf", "-keystore", store.toString(), "-file", cert.toString());
      KeyStore ks = KeyStore.getInstance("PKCS12");
      try (InputStream in = Files.newInputStream(store)) {
        ks.load(in, PASS.toCharArray());
      }
      PrivateKey pk = (PrivateKey) ks.getKey("leaf", PASS.toCharArray());
      String pem = "-----BEGIN PRIVATE KEY-----\n"
          + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(pk.getEncoded())
          + "\n-----END PRIVATE KEY-----\n";
      Files.writeString(key, pem);
      return new Leaf(cert, key, store);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  /** Returns an SSLContext trusting the CA, presenting {@code client} when not null. */
  public SSLContext clientContext(Leaf client) {
    try {
      KeyStore trust = KeyStore.getInstance("PKCS12");
      try (InputStream in = Files.newInputStream(caStore)) {
        trust.load(in, PASS.toCharArray());
      }
      TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
      tmf.init(trust);
      KeyManagerFactory kmf = null;
      if (client != null) {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(client.store())) {
          ks.load(in, PASS.toCharArray());
        }
        kmf = KeyManagerFactory.getInstance("SunX509");
        kmf.init(ks, PASS.toCharArray());
      }
      SSLContext ctx = SSLContext.getInstance("TLS");
      ctx.init(kmf == null ? null : kmf.getKeyManagers(), tmf.getTrustManagers(), null);
      return ctx;
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  /** Returns a server SSLContext presenting {@code leaf}. */
  public SSLContext serverContext(Leaf leaf) {
    try {
      KeyStore ks = KeyStore.getInstance("PKCS12");
      try (InputStream in = Files.newInputStream(leaf.store())) {
        ks.load(in, PASS.toCharArray());
      }
      KeyManagerFactory kmf = KeyManagerFactory.getInstance("SunX509");
      kmf.init(ks, PASS.toCharArray());
      SSLContext ctx = SSLContext.getInstance("TLS");
      ctx.init(kmf.getKeyManagers(), null, null);
      return ctx;
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * Writes a PEM CRL (file {@code name}.crl) signed by the CA, valid for a day, revoking {@code
   * revoked} (none is fine), and returns its path.
   */
  public synchronized Path crl(String name, Leaf... revoked) {
    try {
      KeyStore ks = KeyStore.getInstance("PKCS12");
      try (InputStream in = Files.newInputStream(caStore)) {
        ks.load(in, PASS.toCharArray());
      }
      PrivateKey caKey = (PrivateKey) ks.getKey("ca", PASS.toCharArray());
      X509Certificate ca = (X509Certificate) ks.getCertificate("ca");
      byte[] alg = {0x30, 0x0d, 0x06, 0x09, 0x2a, (byte) 0x86, 0x48, (byte) 0x86, (byte) 0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00};
      Instant now = Instant.now();
      List<byte[]> tbs = new ArrayList<>(List.of(alg, ca.getSubjectX500Principal().getEncoded(),
          utcTime(now.minusSeconds(3600)), utcTime(now.plusSeconds(86400))));
      if (revoked.length > 0) {
        List<byte[]> entries = new ArrayList<>();
        for (Leaf leaf : revoked) {
          entries.add(der(0x30, der(0x02, serial(leaf).toByteArray()), utcTime(now.minusSeconds(60))));
        }
        tbs.add(der(0x30, entries.toArray(new byte[0][])));
      }
      byte[] tbsDer = der(0x30, tbs.toArray(new byte[0][]));
      Signature sig = Signature.getInstance("SHA256withRSA");
      sig.initSign(caKey);
      sig.update(tbsDer);
      byte[] signature = sig.sign();
      byte[] bits = new byte[signature.length + 1];
      System.arraycopy(signature, 0, bits, 1, signature.length);
      byte[] crl = der(0x30, tbsDer, alg, der(0x03, bits));
      Path out = dir.resolve(name + ".crl");
      Files.writeString(out, "-----BEGIN X509 CRL-----\n"
          + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(crl)
          + "\n-----END X509 CRL-----\n");
      return out;
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  /** Returns the serial number of a leaf's certificate. */
  public static BigInteger serial(Leaf leaf) throws Exception {
    try (InputStream in = Files.newInputStream(leaf.certPem())) {
      return ((X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in)).getSerialNumber();
    }
  }

  private static byte[] utcTime(Instant t) {
    String s = DateTimeFormatter.ofPattern("yyMMddHHmmss'Z'").withZone(ZoneOffset.UTC).format(t);
    return der(0x17, s.getBytes(StandardCharsets.US_ASCII));
  }

  private static byte[] der(int tag, byte[]... parts) {
    ByteArrayOutputStream body = new ByteArrayOutputStream();
    for (byte[] p : parts) {
      body.writeBytes(p);
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.write(tag);
    int n = body.size();
    if (n < 128) {
      out.write(n);
    } else if (n < 256) {
      out.write(0x81);
      out.write(n);
    } else {
      out.write(0x82);
      out.write(n >>> 8);
      out.write(n);
    }
    out.writeBytes(body.toByteArray());
    return out.toByteArray();
  }

  private static void keytool(String... args) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "keytool").toString());
    cmd.addAll(List.of(args));
    cmd.addAll(List.of("-storepass", PASS, "-storetype", "PKCS12"));
    if (args[0].equals("-genkeypair")) {
      cmd.addAll(List.of("-keypass", PASS));
    }
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new IOException("keytool " + String.join(" ", args) + " failed: " + out);
    }
  }
}
