package io.legate.tls;

import io.legate.config.ConfigException;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads PEM certificates and private keys: PKCS#8 ({@code PRIVATE KEY}), PKCS#1 ({@code RSA PRIVATE
 * KEY}) and SEC1 ({@code EC PRIVATE KEY}), as BoringSSL does for Envoy.
 */
public final class Pem {
  private static final Pattern BLOCK =
      Pattern.compile("-----BEGIN ([A-Z0-9 ]+)-----([A-Za-z0-9+/=\\s]*?)-----END \\1-----");
  private static final byte[] RSA_OID = {0x06, 0x09, 0x2a, (byte) 0x86, 0x48, (byte) 0x86, (byte) 0xf7, 0x0d, 0x01, 0x01, 0x01};
  private static final byte[] EC_OID = {0x06, 0x07, 0x2a, (byte) 0x86, 0x48, (byte) 0xce, 0x3d, 0x02, 0x01};

  private Pem() {}

  /** Returns the certificates of a PEM chain, leaf first; {@code path} names the field for errors. */
  public static List<X509Certificate> certificates(byte[] pem, String path) {
    List<X509Certificate> out = new ArrayList<>();
    try {
      CertificateFactory cf = CertificateFactory.getInstance("X.509");
      Matcher m = BLOCK.matcher(new String(pem, StandardCharsets.US_ASCII));
      while (m.find()) {
        if (!m.group(1).equals("CERTIFICATE")) {
          continue;
        }
        byte[] der = Base64.getMimeDecoder().decode(m.group(2));
        out.add((X509Certificate) cf.generateCertificate(new ByteArrayInputStream(der)));
      }
    } catch (CertificateException | IllegalArgumentException e) {
      throw new ConfigException(path, "failed to load certificate chain: " + e.getMessage());
    }
    if (out.isEmpty()) {
      throw new ConfigException(path, "failed to load certificate chain: no PEM certificate found");
    }
    return List.copyOf(out);
  }

  /** Returns the first private key of a PEM document. */
  public static PrivateKey privateKey(byte[] pem, String path) {
    Matcher m = BLOCK.matcher(new String(pem, StandardCharsets.US_ASCII));
    while (m.find()) {
      String kind = m.group(1);
      byte[] der;
      try {
        der = Base64.getMimeDecoder().decode(m.group(2));
      } catch (IllegalArgumentException e) {
        throw new ConfigException(path, "failed to load private key: " + e.getMessage());
      }
      switch (kind) {
        case "PRIVATE KEY" -> {
          return pkcs8(der, path);
        }
        case "RSA PRIVATE KEY" -> {
          return pkcs8(wrapPkcs8(seq(concat(RSA_OID, new byte[] {0x05, 0x00})), der), path);
        }
        case "EC PRIVATE KEY" -> {
          byte[] curve = sec1Curve(der, path);
          return pkcs8(wrapPkcs8(seq(concat(EC_OID, curve)), der), path);
        }
        case "ENCRYPTED PRIVATE KEY" -> throw new ConfigException(path, "failed to load private key: encrypted keys are not supported");
        default -> {
          // EC PARAMETERS and others precede the key in some files.
        }
      }
    }
    throw new ConfigException(path, "failed to load private key: no PEM private key found");
  }

  private static PrivateKey pkcs8(byte[] der, String path) {
    PKCS8EncodedKeySpec spec = new PKCS8EncodedKeySpec(der);
    for (String alg : new String[] {"RSA", "EC", "Ed25519"}) {
      try {
        return KeyFactory.getInstance(alg).generatePrivate(spec);
      } catch (GeneralSecurityException e) {
        // try the next algorithm
      }
    }
    throw new ConfigException(path, "failed to load private key: unsupported key type");
  }

  /** Returns the curve OID (tag and length included) from a SEC1 ECPrivateKey's [0] parameters. */
  private static byte[] sec1Curve(byte[] der, String path) {
    // ECPrivateKey ::= SEQUENCE { version INTEGER, privateKey OCTET STRING, [0] parameters, [1] publicKey }
    int[] pos = {0};
    if (der.length < 2 || der[0] != 0x30) {
      throw new ConfigException(path, "failed to load private key: malformed EC private key");
    }
    pos[0] = 1;
    length(der, pos);
    skip(der, pos); // version
    skip(der, pos); // privateKey
    if (pos[0] < der.length && (der[pos[0]] & 0xff) == 0xa0) {
      pos[0]++;
      length(der, pos);
      int start = pos[0];
      skip(der, pos);
      byte[] oid = new byte[pos[0] - start];
      System.arraycopy(der, start, oid, 0, oid.length);
      return oid;
    }
    throw new ConfigException(path, "failed to load private key: EC private key without curve parameters");
  }

  private static int length(byte[] der, int[] pos) {
    int b = der[pos[0]++] & 0xff;
    if (b < 0x80) {
      return b;
    }
    int n = b & 0x7f;
    int len = 0;
    for (int i = 0; i < n; i++) {
      len = (len << 8) | (der[pos[0]++] & 0xff);
    }
    return len;
  }

  private static void skip(byte[] der, int[] pos) {
    pos[0]++; // tag
    int len = length(der, pos);
    pos[0] += len;
  }

  private static byte[] wrapPkcs8(byte[] algorithm, byte[] key) {
    // PrivateKeyInfo ::= SEQUENCE { INTEGER 0, AlgorithmIdentifier, OCTET STRING key }
    return seq(concat(new byte[] {0x02, 0x01, 0x00}, algorithm, tlv(0x04, key)));
  }

  private static byte[] seq(byte[] content) {
    return tlv(0x30, content);
  }

  private static byte[] tlv(int tag, byte[] content) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.write(tag);
    int len = content.length;
    if (len < 0x80) {
      out.write(len);
    } else if (len < 0x100) {
      out.write(0x81);
      out.write(len);
    } else if (len < 0x10000) {
      out.write(0x82);
      out.write(len >> 8);
      out.write(len);
    } else {
      out.write(0x83);
      out.write(len >> 16);
      out.write(len >> 8);
      out.write(len);
    }
    out.writeBytes(content);
    return out.toByteArray();
  }

  private static byte[] concat(byte[]... parts) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (byte[] p : parts) {
      out.writeBytes(p);
    }
    return out.toByteArray();
  }
}
