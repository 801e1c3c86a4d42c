package io.legate.upstream;

import java.net.InetAddress;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;

/** A resolver whose answers the test gives by hand (on the main loop). */
final class FakeDnsResolver implements DnsResolver {
  record Query(String hostname, DnsLookupFamily family, Callback callback) {
    void answer(long ttl, String... ips) {
      try {
        List<InetAddress> out = new java.util.ArrayList<>();
        for (String ip : ips) {
          out.add(InetAddress.getByName(ip));
        }
        callback.onResolved(out, ttl);
      } catch (java.net.UnknownHostException e) {
        throw new IllegalArgumentException(e);
      }
    }

    void fail() {
      callback.onFailure(new java.net.UnknownHostException(hostname));
    }
  }

  final Deque<Query> pending = new ArrayDeque<>();
  int queries;
  boolean closed;

  @Override
  public void resolve(String hostname, DnsLookupFamily family, Callback callback) {
    queries++;
    pending.add(new Query(hostname, family, callback));
  }

  @Override
  public void close() {
    closed = true;
  }
}
