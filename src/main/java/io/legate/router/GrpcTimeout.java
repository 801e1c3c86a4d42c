package io.legate.router;

/** Parses gRPC's {@code grpc-timeout} header: up to 8 digits and a unit (H, M, S, m, u, n). */
public final class GrpcTimeout {
  private GrpcTimeout() {}

  /**
   * Returns the timeout in milliseconds (sub-millisecond values round up, as Envoy), or -1 when the
   * value is malformed.
   */
  public static long parseMillis(CharSequence v) {
    int n = v.length();
    if (n < 2 || n > 9) {
      return -1;
    }
    long value = 0;
    for (int i = 0; i < n - 1; i++) {
      char c = v.charAt(i);
      if (c < '0' || c > '9') {
        return -1;
      }
      value = value * 10 + (c - '0');
    }
    return switch (v.charAt(n - 1)) {
      case 'H' -> value * 3_600_000;
      case 'M' -> value * 60_000;
      case 'S' -> value * 1000;
      case 'm' -> value;
      case 'u' -> (value + 999) / 1000;
      case 'n' -> (value + 999_999) / 1_000_000;
      default -> -1;
    };
  }
}
