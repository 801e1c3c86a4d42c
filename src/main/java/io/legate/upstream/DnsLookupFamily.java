package io.legate.upstream;

/** Which address families a DNS cluster resolves ({@code Cluster.dns_lookup_family}). */
public enum DnsLookupFamily {
  /** IPv6 addresses if there are any, otherwise IPv4 (Envoy's default). */
  AUTO,
  V4_ONLY,
  V6_ONLY,
  /** IPv4 addresses if there are any, otherwise IPv6. */
  V4_PREFERRED,
  /** Both families. */
  ALL
}
