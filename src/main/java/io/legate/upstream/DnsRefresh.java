package io.legate.upstream;

import java.util.random.RandomGenerator;

/**
 * When a DNS target resolves next: after a success the refresh rate (or the answer's TTL with
 * {@code respect_dns_ttl}) plus {@code dns_jitter}; after a failure the refresh rate, or Envoy's
 * jittered exponential back-off when {@code dns_failure_refresh_rate} is set. One per target, main
 * loop only.
 */
final class DnsRefresh {
  private final ClusterInfo info;
  private final RandomGenerator random;
  private long nextFailureInterval;

  DnsRefresh(ClusterInfo info, RandomGenerator random) {
    this.info = info;
    this.random = random;
    this.nextFailureInterval = info.dnsFailureRefreshBaseMs();
  }

  /** Returns the delay before the next resolution after a successful one. */
  long afterSuccess(long ttlSeconds) {
    nextFailureInterval = info.dnsFailureRefreshBaseMs();
    long ms = info.dnsRefreshRateMs();
    if (info.respectDnsTtl() && ttlSeconds > 0) {
      ms = ttlSeconds * 1000;
    }
    if (info.dnsJitterMs() > 0) {
      ms += Long.remainderUnsigned(random.nextLong(), info.dnsJitterMs());
    }
    return ms;
  }

  /** Returns the delay before the next resolution after a failed one. */
  long afterFailure() {
    if (info.dnsFailureRefreshBaseMs() < 0) {
      return info.dnsRefreshRateMs();
    }
    long backoff = nextFailureInterval;
    long max = info.dnsFailureRefreshMaxMs();
    nextFailureInterval = backoff > max / 2 ? max : backoff * 2;
    return Math.min(Long.remainderUnsigned(random.nextLong(), backoff), max);
  }
}
