package io.legate.tls;

import io.legate.stats.Counter;
import io.legate.stats.StatsStore;

/** Envoy's TLS stats under {@code <scope>ssl.}: handshakes, errors and certificate verification. */
public final class TlsStats {
  public final Counter handshake;
  public final Counter connectionError;
  public final Counter noCertificate;
  public final Counter failVerifyNoCert;
  public final Counter failVerifyError;
  public final Counter failVerifySan;
  public final Counter failVerifyCertHash;
  public final Counter sessionReused;

  /** Creates the counters under {@code scope} (e.g. {@code listener.0.0.0.0_443.} or {@code cluster.x.}). */
  public TlsStats(StatsStore.Scope scope) {
    StatsStore.Scope s = scope.scope("ssl.");
    handshake = s.counter("handshake");
    connectionError = s.counter("connection_error");
    noCertificate = s.counter("no_certificate");
    failVerifyNoCert = s.counter("fail_verify_no_cert");
    failVerifyError = s.counter("fail_verify_error");
    failVerifySan = s.counter("fail_verify_san");
    failVerifyCertHash = s.counter("fail_verify_cert_hash");
    sessionReused = s.counter("session_reused");
  }
}
