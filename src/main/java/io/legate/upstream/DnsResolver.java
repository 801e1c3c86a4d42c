package io.legate.upstream;

import java.net.InetAddress;
import java.util.List;

/**
 * Asynchronous name resolution for DNS clusters. Calls and callbacks happen on the main event loop;
 * nothing blocks it.
 */
public interface DnsResolver {
  /** Receives the outcome of one resolution, on the main event loop. */
  interface Callback {
    /**
     * Called with the addresses found (possibly none) and the smallest TTL among their records in
     * seconds, or 0 when unknown (for example an {@code /etc/hosts} entry or an IP literal).
     */
    void onResolved(List<InetAddress> addresses, long ttlSeconds);

    /** Called when the name could not be resolved (NXDOMAIN, timeout, no name server). */
    void onFailure(Throwable cause);
  }

  /** Starts resolving {@code hostname} for {@code family}; exactly one callback method is called. */
  void resolve(String hostname, DnsLookupFamily family, Callback callback);

  /** Releases the resolver's sockets. */
  void close();
}
