package io.legate.tls;

import javax.net.ssl.SSLException;

/** Envoy's wording of TLS failures, as in a 503's "transport failure reason". */
public final class TlsErrors {
  private static final String VERIFY_FAILED = "TLS_error:|268435581:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED:";

  private TlsErrors() {}

  /**
   * Returns the transport failure reason for a failed handshake, e.g. {@code
   * TLS_error:|268435581:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED:verify cert failed:
   * verify SAN list:TLS_error_end}.
   */
  public static String transportFailureReason(Throwable cause) {
    for (Throwable t = cause; t != null; t = t.getCause()) {
      if (t instanceof CertValidator.VerifyException v) {
        String d = v.getMessage();
        return VERIFY_FAILED + (d == null || d.isEmpty() ? "" : d + ":") + "TLS_error_end";
      }
    }
    String msg = null;
    for (Throwable t = cause; t != null; t = t.getCause()) {
      if (t instanceof SSLException && t.getMessage() != null) {
        msg = t.getMessage();
        break;
      }
    }
    if (msg == null) {
      msg = cause == null || cause.getMessage() == null ? "handshake failed" : cause.getMessage();
    }
    if (msg.contains("CERTIFICATE_VERIFY_FAILED") || msg.contains("certificate_unknown")
        || msg.contains("PKIX path")) {
      return VERIFY_FAILED + "TLS_error_end";
    }
    return "TLS_error:|" + msg + ":TLS_error_end";
  }
}
